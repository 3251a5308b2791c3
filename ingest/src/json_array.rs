//! Cutting a JSON array file into chunks of whole elements.
//!
//! A JSON array cannot be split at newlines (elements may span lines), so the
//! master runs a small scanner that only tracks strings, escapes and bracket
//! depth, and cuts after each top-level element. Elements come out one per
//! line: newlines between tokens become spaces, and a raw newline inside a
//! string (invalid JSON anyway) becomes U+0001, which the parser still
//! rejects, so a broken element stays broken and is reported, never "fixed".
//! Anything between elements that is not a comma (a missing comma, garbage)
//! stays with the following element, which then fails to parse and goes to
//! the dead-letter topic: the scanner never guesses.

use std::io::Read;

use crate::chunk::{Chunk, ChunkItem, MAX_RECORD_BYTES, ReadFailure};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeArray,
    InArray,
    AfterArray,
}

/// Cuts a JSON array into chunks of about `target` bytes of whole elements.
#[derive(Debug)]
pub struct JsonArrayChunker<R> {
    reader: R,
    target: usize,
    state: State,
    depth: u32,
    in_string: bool,
    escape: bool,
    line: u64,
    offset: u64,
    element: Vec<u8>,
    element_start: (u64, u64),
    chunk: Chunk,
    pending: Vec<ChunkItem>,
    done: bool,
}

impl<R: Read> JsonArrayChunker<R> {
    /// A chunker over `reader`.
    pub fn new(reader: R, target: usize) -> Self {
        JsonArrayChunker {
            reader,
            target: target.max(1),
            state: State::BeforeArray,
            depth: 0,
            in_string: false,
            escape: false,
            line: 1,
            offset: 0,
            element: Vec::new(),
            element_start: (1, 0),
            chunk: Chunk::default(),
            pending: Vec::new(),
            done: false,
        }
    }

    fn fail(&mut self, reason: String) {
        let partial = std::mem::take(&mut self.element);
        let (line, byte_offset) = if partial.is_empty() { (self.line, self.offset) } else { self.element_start };
        self.flush_chunk();
        self.pending.push(ChunkItem::Failed(ReadFailure { reason, line, byte_offset, partial }));
        self.done = true;
    }

    fn flush_chunk(&mut self) {
        if !self.chunk.positions.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.pending.push(ChunkItem::Records(chunk));
        }
    }

    fn end_element(&mut self) {
        if self.element.first() == Some(&0) {
            self.element.clear(); // the tail of an oversized element
            return;
        }
        while self.element.last().is_some_and(u8::is_ascii_whitespace) {
            self.element.pop();
        }
        if self.element.is_empty() {
            return;
        }
        if self.chunk.positions.is_empty() {
            self.chunk.first_line = self.element_start.0;
            self.chunk.first_byte = self.element_start.1;
        }
        self.chunk.positions.push(self.element_start);
        self.chunk.data.append(&mut self.element);
        self.chunk.data.push(b'\n');
        if self.chunk.data.len() >= self.target {
            self.flush_chunk();
        }
    }

    fn push_byte(&mut self, b: u8) {
        if self.element.is_empty() {
            if b.is_ascii_whitespace() {
                return;
            }
            self.element_start = (self.line, self.offset);
        }
        if self.element.len() == MAX_RECORD_BYTES {
            let data = std::mem::take(&mut self.element);
            let (first_line, first_byte) = self.element_start;
            let mut data = data;
            data.truncate(64 * 1024);
            self.flush_chunk();
            self.pending.push(ChunkItem::Oversized(Chunk { data, first_line, first_byte, positions: Vec::new() }));
            self.element.push(0); // keep swallowing this element's bytes
        }
        if self.element.first() == Some(&0) {
            return;
        }
        let out = match b {
            b'\n' if self.in_string => 0x01,
            b'\n' | b'\r' => b' ',
            _ => b,
        };
        self.element.push(out);
    }

    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match self.state {
                State::BeforeArray => match b {
                    b'[' => self.state = State::InArray,
                    b' ' | b'\t' | b'\n' | b'\r' | 0xEF | 0xBB | 0xBF => {}
                    _ => return self.fail(format!("expected a JSON array, found byte {:?}", b as char)),
                },
                State::InArray if self.in_string => {
                    self.push_byte(b);
                    match (self.escape, b) {
                        (true, _) => self.escape = false,
                        (false, b'\\') => self.escape = true,
                        (false, b'"') => self.in_string = false,
                        _ => {}
                    }
                }
                State::InArray => match b {
                    b',' if self.depth == 0 => self.end_element(),
                    b']' if self.depth == 0 => {
                        self.end_element();
                        self.state = State::AfterArray;
                    }
                    _ => {
                        match b {
                            b'"' => self.in_string = true,
                            b'[' | b'{' => self.depth += 1,
                            b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                            _ => {}
                        }
                        self.push_byte(b);
                    }
                },
                State::AfterArray if b.is_ascii_whitespace() => {}
                State::AfterArray => return self.fail("unexpected data after the end of the JSON array".into()),
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.offset += 1;
        }
    }

    fn finish(&mut self) {
        match self.state {
            State::BeforeArray => self.fail("empty input: expected a JSON array".into()),
            State::InArray => {
                // Truncated: a complete last element still parses; an
                // incomplete one fails in the worker with its position.
                self.end_element();
                self.fail("the JSON array is not closed (truncated input?)".into());
            }
            State::AfterArray => self.flush_chunk(),
        }
        self.done = true;
    }
}

impl<R: Read> Iterator for JsonArrayChunker<R> {
    type Item = ChunkItem;

    fn next(&mut self) -> Option<ChunkItem> {
        let mut buf = vec![0u8; 64 * 1024];
        while self.pending.is_empty() && !self.done {
            match self.reader.read(&mut buf) {
                Ok(0) => self.finish(),
                Ok(n) => self.scan(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => self.fail(format!("input unreadable after this point: {e}")),
            }
        }
        if self.pending.is_empty() { None } else { Some(self.pending.remove(0)) }
    }
}

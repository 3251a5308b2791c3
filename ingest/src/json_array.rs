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
    Before,
    Inside,
    After,
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
    /// Dropping the rest of an element that grew past the limit.
    swallowing: bool,
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
            state: State::Before,
            depth: 0,
            in_string: false,
            escape: false,
            line: 1,
            offset: 0,
            element: Vec::new(),
            element_start: (1, 0),
            swallowing: false,
            chunk: Chunk::default(),
            pending: Vec::new(),
            done: false,
        }
    }

    fn fail(&mut self, reason: String) {
        self.swallowing = false;
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
        if std::mem::take(&mut self.swallowing) {
            return; // the tail of an oversized element
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
        if self.swallowing {
            return;
        }
        if self.element.is_empty() {
            if b.is_ascii_whitespace() {
                return;
            }
            self.element_start = (self.line, self.offset);
        }
        if self.element.len() == MAX_RECORD_BYTES {
            let mut data = std::mem::take(&mut self.element);
            let (first_line, first_byte) = self.element_start;
            data.truncate(64 * 1024);
            self.flush_chunk();
            self.pending.push(ChunkItem::Oversized(Chunk { data, first_line, first_byte, positions: Vec::new() }));
            self.swallowing = true;
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
                State::Before => match b {
                    b'[' => self.state = State::Inside,
                    b' ' | b'\t' | b'\n' | b'\r' | 0xEF | 0xBB | 0xBF => {}
                    _ => return self.fail(format!("expected a JSON array, found byte {:?}", b as char)),
                },
                State::Inside if self.in_string => {
                    self.push_byte(b);
                    match (self.escape, b) {
                        (true, _) => self.escape = false,
                        (false, b'\\') => self.escape = true,
                        (false, b'"') => self.in_string = false,
                        _ => {}
                    }
                }
                State::Inside => match b {
                    b',' if self.depth == 0 => self.end_element(),
                    b']' if self.depth == 0 => {
                        self.end_element();
                        self.state = State::After;
                    }
                    _ => {
                        match b {
                            b'"' => self.in_string = true,
                            b'[' | b'{' => self.depth = self.depth.saturating_add(1),
                            b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                            _ => {}
                        }
                        self.push_byte(b);
                    }
                },
                State::After if b.is_ascii_whitespace() => {}
                State::After => return self.fail("unexpected data after the end of the JSON array".into()),
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.offset += 1;
        }
    }

    fn finish(&mut self) {
        match self.state {
            State::Before => self.fail("empty input: expected a JSON array".into()),
            State::Inside => {
                // Truncated: a complete last element still parses; an
                // incomplete one fails in the worker with its position.
                self.end_element();
                self.fail("the JSON array is not closed (truncated input?)".into());
            }
            State::After => self.flush_chunk(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn elements(input: &str, target: usize) -> (Vec<String>, Vec<String>) {
        let (mut records, mut failures) = (Vec::new(), Vec::new());
        for item in JsonArrayChunker::new(input.as_bytes(), target) {
            match item {
                ChunkItem::Records(c) => {
                    records.extend(String::from_utf8(c.data).unwrap().lines().map(str::to_owned));
                }
                ChunkItem::Oversized(_) => failures.push("oversized".into()),
                ChunkItem::Failed(f) => failures.push(f.reason),
            }
        }
        (records, failures)
    }

    proptest! {
        #[test]
        fn every_element_comes_out_once_whatever_the_chunk_size(
            values in proptest::collection::vec(("[a-z ,\\[\\]{}\"\\\\]{0,12}", 0i64..1000), 0..60),
            pretty in any::<bool>(),
            target in 1usize..400,
        ) {
            let items: Vec<String> = values
                .iter()
                .map(|(s, n)| serde_json::json!({"title": s, "n": n, "list": [n, {"s": s}]}).to_string())
                .collect();
            let sep = if pretty { ",\n  " } else { "," };
            let input = format!("[{}]", items.join(sep));
            let (records, failures) = elements(&input, target);
            prop_assert!(failures.is_empty());
            prop_assert_eq!(records, items);
        }
    }

    #[test]
    fn broken_arrays_are_reported_not_guessed() {
        let (records, _) = elements("[{\"a\":1},\u{0}{\"b\":2}]", 10);
        assert_eq!(records, ["{\"a\":1}", "\u{0}{\"b\":2}"], "a NUL byte is data, not a marker");
        let (records, failures) = elements(r#"[{"a":1} {"b":2}, {"c":3}"#, 10);
        assert_eq!(records, [r#"{"a":1} {"b":2}"#, r#"{"c":3}"#]);
        assert_eq!(failures, ["the JSON array is not closed (truncated input?)"]);
        let (_, failures) = elements(r#"{"a":1}"#, 10);
        assert!(failures[0].starts_with("expected a JSON array"));
        let (records, failures) = elements("[{\"a\":\"x\ny\"}] trailing", 10);
        assert_eq!(records, ["{\"a\":\"x\u{1}y\"}"]);
        assert_eq!(failures, ["unexpected data after the end of the JSON array"]);
    }
}

//! Cutting input into chunks at record boundaries.
//!
//! The master never parses: it only finds where records end, which is a
//! `memchr` for newline-delimited input and a small string-aware bracket
//! counter for a JSON array, and hands byte ranges of whole records to the
//! workers. Contract, checked by property tests: for any input and any chunk
//! size, concatenating the records of all chunks gives every record of the
//! input exactly once, in order.

use std::io::Read;

/// Longest record accepted. Workers reject longer records; the chunker cuts
/// off a record that grows past it without a newline, so that a file
/// without newlines cannot exhaust memory.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Whole records from one input, with where they start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Whole lines (each ending in `\n`, but perhaps the last line of the
    /// input), or for a JSON array, whole elements separated by `\n`.
    pub data: Vec<u8>,
    /// 1-based line number of the first byte of `data` in the input.
    pub first_line: u64,
    /// Offset of the first byte of `data` in the (decompressed) input.
    pub first_byte: u64,
    /// For JSON array elements only: the line and offset where each record
    /// starts in the input (lines are otherwise counted from `first_line`).
    pub positions: Vec<(u64, u64)>,
}

/// Why reading stopped before the end of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    /// What went wrong (e.g. a truncated gzip stream).
    pub reason: String,
    /// Line number where the unreadable part starts.
    pub line: u64,
    /// Decompressed offset where the unreadable part starts.
    pub byte_offset: u64,
    /// The incomplete record read before the failure, possibly empty.
    pub partial: Vec<u8>,
}

/// One step of a chunker: whole records, a record too long to keep, or the
/// failure that ended the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkItem {
    /// Whole records.
    Records(Chunk),
    /// A record over [`MAX_RECORD_BYTES`]: its start, the rest skipped.
    Oversized(Chunk),
    /// Reading failed; nothing follows.
    Failed(ReadFailure),
}

/// Cuts newline-delimited input into chunks of about `target` bytes.
#[derive(Debug)]
pub struct LineChunker<R> {
    reader: R,
    target: usize,
    carry: Vec<u8>,
    line: u64,
    offset: u64,
    base_target: usize,
    eof: bool,
    error: Option<String>,
    skipping: bool,
}

impl<R: Read> LineChunker<R> {
    /// A chunker over `reader`, cutting chunks of at least one record and
    /// about `target` bytes.
    pub fn new(reader: R, target: usize) -> Self {
        let target = target.max(1);
        let (carry, error) = (Vec::new(), None);
        LineChunker {
            reader,
            target,
            base_target: target,
            carry,
            line: 1,
            offset: 0,
            eof: false,
            error,
            skipping: false,
        }
    }

    /// Reads until `carry` holds `want` bytes or the input ends.
    fn fill(&mut self, want: usize) -> Result<(), std::io::Error> {
        let mut buf = [0u8; 64 * 1024];
        while self.carry.len() < want && !self.eof {
            match self.reader.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.carry.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Takes `len` bytes off the front of the carry as a chunk.
    fn take(&mut self, len: usize) -> Chunk {
        let rest = self.carry.split_off(len);
        let mut data = std::mem::replace(&mut self.carry, rest);
        // The carry grew by doubling; a chunk in flight should not hold twice
        // its size.
        data.shrink_to_fit();
        let chunk = Chunk { data, first_line: self.line, first_byte: self.offset, positions: Vec::new() };
        self.line += memchr::memchr_iter(b'\n', &chunk.data).count() as u64;
        self.offset += chunk.data.len() as u64;
        chunk
    }

    /// Drops bytes up to and including the next newline (the tail of an
    /// oversized record); true once it has been found.
    fn skip_rest_of_record(&mut self) -> bool {
        if let Some(pos) = memchr::memchr(b'\n', &self.carry) {
            self.offset += pos as u64 + 1;
            self.line += 1;
            self.carry.drain(..=pos);
            self.skipping = false;
            true
        } else {
            self.offset += self.carry.len() as u64;
            self.carry.clear();
            false
        }
    }

    fn failure(&mut self, reason: String) -> ChunkItem {
        let partial = std::mem::take(&mut self.carry);
        let failure = ReadFailure { reason, line: self.line, byte_offset: self.offset, partial };
        self.offset += failure.partial.len() as u64;
        ChunkItem::Failed(failure)
    }

    fn read_more(&mut self, want: usize) {
        if let Err(e) = self.fill(want) {
            self.error = Some(format!("input unreadable after this point: {e}"));
            self.eof = true;
        }
    }
}

impl<R: Read> Iterator for LineChunker<R> {
    type Item = ChunkItem;

    fn next(&mut self) -> Option<ChunkItem> {
        loop {
            while self.skipping && !self.eof {
                self.read_more(1);
                self.skip_rest_of_record();
            }
            if !self.eof {
                self.read_more(self.carry.len().max(self.target));
            }
            if let Some(pos) = memchr::memrchr(b'\n', &self.carry) {
                self.target = self.base_target;
                return Some(ChunkItem::Records(self.take(pos + 1)));
            }
            if self.eof {
                // Whole lines read before a failure went out above; what is
                // left is the record the failure cut short.
                if let Some(reason) = self.error.take() {
                    return Some(self.failure(reason));
                }
                if self.carry.is_empty() {
                    return None;
                }
                let len = self.carry.len();
                return Some(ChunkItem::Records(self.take(len)));
            }
            if self.carry.len() > MAX_RECORD_BYTES {
                let len = self.carry.len();
                let mut chunk = self.take(len);
                chunk.data.truncate(64 * 1024);
                self.skipping = true;
                return Some(ChunkItem::Oversized(chunk));
            }
            // A record longer than the target: read more and look again.
            self.target = self.target.saturating_mul(2).min(MAX_RECORD_BYTES + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads at most `step` bytes per call, to cut reads at awkward places.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    proptest! {
        #[test]
        fn every_line_comes_out_once_in_order_with_its_position(
            lines in proptest::collection::vec("[a-z\t]{0,40}", 0..200),
            final_newline in any::<bool>(),
            target in 1usize..500,
            step in 1usize..100,
        ) {
            let mut input = lines.join("\n");
            if final_newline && !input.is_empty() { input.push('\n'); }
            let mut out = Vec::new();
            let mut next_line = 1;
            let mut next_byte = 0;
            for item in LineChunker::new(Trickle { data: input.as_bytes(), step }, target) {
                let ChunkItem::Records(chunk) = item else { panic!("no failure expected") };
                prop_assert_eq!((chunk.first_line, chunk.first_byte), (next_line, next_byte));
                next_line += chunk.data.iter().filter(|b| **b == b'\n').count() as u64;
                next_byte += chunk.data.len() as u64;
                out.extend_from_slice(&chunk.data);
            }
            prop_assert_eq!(String::from_utf8(out).unwrap(), input);
        }
    }

    #[test]
    fn a_read_error_keeps_whole_lines_and_reports_the_partial_one() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, "a\tb\n".repeat(50_000).as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let reader = flate2::read::MultiGzDecoder::new(&bytes[..bytes.len() - 20]);
        let items: Vec<ChunkItem> = LineChunker::new(reader, 4096).collect();
        let Some(ChunkItem::Failed(failure)) = items.last() else { panic!("no failure reported") };
        let whole: usize =
            items.iter().filter_map(|i| if let ChunkItem::Records(c) = i { Some(c.data.len()) } else { None }).sum();
        assert_eq!(whole % 4, 0, "only whole lines before the failure");
        assert_eq!(failure.byte_offset, whole as u64);
        assert_eq!(failure.line, whole as u64 / 4 + 1);
        assert!(failure.reason.contains("unreadable"));
    }

    #[test]
    fn an_oversized_record_is_reported_and_skipped() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 2 * MAX_RECORD_BYTES));
        input.extend_from_slice(b"\nafter\n");
        let items: Vec<ChunkItem> = LineChunker::new(Trickle { data: &input, step: 4096 }, 1024).collect();
        let kinds: Vec<String> = items
            .iter()
            .map(|i| match i {
                ChunkItem::Records(c) => String::from_utf8_lossy(&c.data).into_owned(),
                ChunkItem::Oversized(c) => format!("oversized at line {}", c.first_line),
                ChunkItem::Failed(f) => f.reason.clone(),
            })
            .collect();
        assert_eq!(kinds, ["ok\n", "oversized at line 2", "after\n"]);
    }
}

//! Master side of the title join: aligning the title-keyed files by id.
//!
//! IMDb ships every title file sorted by `tconst`. The master reads a chunk
//! of `title.basics`, notes the highest title id in it (`K`), and takes from
//! each other title file every row whose id is at most `K`; the rows after
//! stay for the next chunk. So each [`TitleWork`] carries all rows of its id
//! range from every file, and workers join without global state. The master
//! only reads ids (the first field), never parses a row.
//!
//! Contract (property-tested): every row of every file is in exactly one
//! work item, whatever the chunk sizes and whatever the order of the ids; a
//! row with an unreadable id travels with the current range and is rejected
//! by the worker.

use imdb_model::{IdKind, RawSource};

use crate::chunk::{Chunk, ChunkItem};
use crate::enrich::TitleWork;
use crate::tsv::leading_id;

/// Rows of one secondary file not yet handed out.
#[derive(Debug)]
pub struct Follower<I> {
    source: RawSource,
    items: I,
    pending: Chunk,
    /// Start of the rows not yet handed out, within `pending.data`.
    start: usize,
    /// Line number of the row at `start`.
    line: u64,
    exhausted: bool,
}

impl<I: Iterator<Item = ChunkItem>> Follower<I> {
    /// A follower over the chunks of `source`.
    pub fn new(source: RawSource, items: I) -> Self {
        Follower { source, items, pending: Chunk::default(), start: 0, line: 1, exhausted: false }
    }

    /// Pulls the next chunk into `pending`; side items (oversized records,
    /// read failures) go to `incidents`. False when the input is exhausted.
    fn pull(&mut self, incidents: &mut Vec<(RawSource, ChunkItem)>) -> bool {
        loop {
            match self.items.next() {
                None => {
                    self.exhausted = true;
                    return false;
                }
                Some(ChunkItem::Records(chunk)) => {
                    if self.start == self.pending.data.len() {
                        self.pending.data.clear();
                        self.pending.first_byte = chunk.first_byte;
                        self.line = chunk.first_line;
                        self.start = 0;
                    } else {
                        self.pending.data.drain(..self.start);
                        self.pending.first_byte += self.start as u64;
                        self.start = 0;
                    }
                    self.pending.data.extend_from_slice(&chunk.data);
                    return true;
                }
                Some(other) => incidents.push((self.source, other)),
            }
        }
    }

    /// Takes every row whose id is at most `max` (all rows if `None`).
    pub fn take_through(&mut self, max: Option<u32>, incidents: &mut Vec<(RawSource, ChunkItem)>) -> Option<Chunk> {
        let begin_line = self.line;
        let mut out = Chunk::default();
        let mut first = true;
        loop {
            let data = &self.pending.data;
            let mut pos = self.start;
            let mut stopped = false;
            while pos < data.len() {
                let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i + 1);
                let id = leading_id(&data[pos..end], IdKind::Title);
                if let (Some(max), Some(id)) = (max, id)
                    && id.number > max
                {
                    stopped = true;
                    break;
                }
                pos = end;
                self.line += 1;
            }
            if pos > self.start {
                if first {
                    out.first_line = begin_line;
                    out.first_byte = self.pending.first_byte + self.start as u64;
                    first = false;
                }
                out.data.extend_from_slice(&self.pending.data[self.start..pos]);
                self.start = pos;
            }
            if stopped || self.exhausted || !self.pull(incidents) {
                break;
            }
        }
        (!out.data.is_empty()).then_some(out)
    }
}

/// The highest title id among the rows of `chunk`.
pub fn max_title_id(chunk: &Chunk) -> Option<u32> {
    chunk.data.split(|b| *b == b'\n').filter_map(|line| leading_id(line, IdKind::Title)).map(|id| id.number).max()
}

/// Aligns `basics` chunks with the followers' rows; returns the work items
/// one by one through `emit`, and side items through `incident`.
pub fn align<B, I>(
    basics: B,
    followers: &mut [Follower<I>],
    mut emit: impl FnMut(TitleWork),
    mut incident: impl FnMut(RawSource, ChunkItem),
) where
    B: Iterator<Item = ChunkItem>,
    I: Iterator<Item = ChunkItem>,
{
    let mut incidents = Vec::new();
    let mut high: Option<u32> = None;
    for item in basics {
        let chunk = match item {
            ChunkItem::Records(chunk) => chunk,
            other => {
                incident(RawSource::TitleBasics, other);
                continue;
            }
        };
        // Never move backwards: rows of an out-of-order basics chunk must not
        // pull back rows that an earlier range already handed out.
        high = high.max(max_title_id(&chunk));
        let others = followers
            .iter_mut()
            .filter_map(|f| f.take_through(Some(high.unwrap_or(0)), &mut incidents).map(|c| (f.source, c)))
            .collect();
        emit(TitleWork { basics: Some(chunk), others });
        for (source, item) in incidents.drain(..) {
            incident(source, item);
        }
    }
    let rest: Vec<_> =
        followers.iter_mut().filter_map(|f| f.take_through(None, &mut incidents).map(|c| (f.source, c))).collect();
    if !rest.is_empty() {
        emit(TitleWork { basics: None, others: rest });
    }
    for (source, item) in incidents {
        incident(source, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::LineChunker;
    use crate::worker::lines;
    use proptest::prelude::*;

    fn rows(ids: &[u32], tag: &str) -> String {
        ids.iter().map(|id| format!("tt{id:07}\t{tag}\n")).collect()
    }

    fn collect(work: &[TitleWork], source: Option<RawSource>) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for w in work {
            let chunks: Vec<&Chunk> = match source {
                None => w.basics.iter().collect(),
                Some(s) => w.others.iter().filter(|(src, _)| *src == s).map(|(_, c)| c).collect(),
            };
            for chunk in chunks {
                out.extend(lines(chunk).map(|l| (l.line, String::from_utf8(l.data.to_vec()).unwrap())));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn every_row_of_every_file_is_handed_out_once(
            basics in proptest::collection::vec(1u32..500, 0..80),
            ratings in proptest::collection::vec(1u32..500, 0..80),
            principals in proptest::collection::vec(1u32..500, 0..200),
            sorted in any::<bool>(),
            garbage in any::<bool>(),
            basics_chunk in 1usize..300,
            other_chunk in 1usize..300,
        ) {
            let prep = |mut v: Vec<u32>| { if sorted { v.sort_unstable(); } v };
            let (basics, ratings, principals) = (prep(basics), prep(ratings), prep(principals));
            let mut ratings_text = rows(&ratings, "r");
            if garbage { ratings_text.push_str("not-an-id\tx\n"); ratings_text.insert_str(0, "??\n"); }
            let principals_text = rows(&principals, "p");
            let basics_text = rows(&basics, "b");
            let mut followers = vec![
                Follower::new(RawSource::TitleRatings, LineChunker::new(ratings_text.as_bytes(), other_chunk)),
                Follower::new(RawSource::TitlePrincipals, LineChunker::new(principals_text.as_bytes(), other_chunk)),
            ];
            let mut work = Vec::new();
            align(LineChunker::new(basics_text.as_bytes(), basics_chunk), &mut followers, |w| work.push(w), |_, _| {});
            for (source, text) in [(None, &basics_text), (Some(RawSource::TitleRatings), &ratings_text), (Some(RawSource::TitlePrincipals), &principals_text)] {
                let expected: Vec<(u64, String)> = text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l.to_owned())).collect();
                prop_assert_eq!(collect(&work, source), expected);
            }
            if sorted && !garbage {
                // With sorted input, every secondary row travels with its title.
                for w in &work {
                    let ids: Vec<String> = w.basics.iter().flat_map(|c| lines(c).map(|l| String::from_utf8(l.data[..9].to_vec()).unwrap())).collect();
                    for (_, chunk) in &w.others {
                        for l in lines(chunk) {
                            let id = String::from_utf8(l.data[..9].to_vec()).unwrap();
                            if basics.contains(&id[2..].parse().unwrap()) {
                                prop_assert!(ids.contains(&id), "{} separated from its title", id);
                            }
                        }
                    }
                }
            }
        }
    }
}

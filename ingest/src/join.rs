//! Master side of the title join: aligning the title-keyed files by id.
//!
//! IMDb ships every title file sorted by `tconst` as text (`tt1000000` <
//! `tt10000000` < `tt1000001`). The master reads a chunk of `title.basics`,
//! notes the highest title id in it (`K`), and takes from each other title
//! file every row whose id is at most `K`; the rows after stay for the next
//! chunk. So each [`TitleWork`] carries all rows of its id
//! range from every file, and workers join without global state. The master
//! only reads ids (the first field), never parses a row.
//!
//! Contract (property-tested): every row of every file is in exactly one
//! work item, whatever the chunk sizes and whatever the order of the ids; a
//! row with an unreadable id travels with the current range and is rejected
//! by the worker.

use std::cmp::Ordering;

use imdb_model::{IdKind, RawSource};

use crate::chunk::{Chunk, ChunkItem};
use crate::enrich::TitleWork;
use crate::tsv::leading_id;

/// The first field of a row, when it is a title id; `None` for a row
/// whose id cannot be read (it travels with the current range).
fn title_key(line: &[u8]) -> Option<&[u8]> {
    let end = memchr::memchr(b'\t', line).unwrap_or(line.len());
    leading_id(line, IdKind::Title).map(|_| &line[..end])
}

/// IMDb's order: ids compared as text, byte by byte (`tt1000000` <
/// `tt10000000` < `tt1000001`). Numeric order agrees below ten million.
fn text_order(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// Rows of one secondary file not yet handed out.
#[derive(Debug)]
pub struct Follower<I> {
    source: RawSource,
    items: I,
    current: Chunk,
    /// Start of the rows not yet handed out, within `current.data`.
    start: usize,
    /// Line number of the row at `start`.
    line: u64,
}

impl<I: Iterator<Item = ChunkItem>> Follower<I> {
    /// A follower over the chunks of `source`.
    pub fn new(source: RawSource, items: I) -> Self {
        Follower { source, items, current: Chunk::default(), start: 0, line: 1 }
    }

    /// Moves to the next chunk of records; side items (oversized records,
    /// read failures) go to `incidents`. False when the input is exhausted.
    fn pull(&mut self, incidents: &mut Vec<(RawSource, ChunkItem)>) -> bool {
        loop {
            match self.items.next() {
                None => return false,
                Some(ChunkItem::Records(chunk)) => {
                    self.line = chunk.first_line;
                    self.current = chunk;
                    self.start = 0;
                    return true;
                }
                Some(other) => incidents.push((self.source, other)),
            }
        }
    }

    /// Takes the rows whose id is at most `max` in text order (all rows if
    /// `None`), but no more than about `cap` bytes. Each piece keeps its own
    /// position, so line numbers stay right across skipped records. The flag
    /// tells whether the cap stopped it.
    pub fn take_through(
        &mut self,
        max: Option<&[u8]>,
        cap: usize,
        incidents: &mut Vec<(RawSource, ChunkItem)>,
    ) -> (Vec<Chunk>, bool) {
        let (mut out, mut taken) = (Vec::new(), 0);
        loop {
            if self.start == self.current.data.len() && !self.pull(incidents) {
                return (out, false);
            }
            let data = &self.current.data;
            let (begin, first_line) = (self.start, self.line);
            let (mut stopped, mut capped) = (false, false);
            while self.start < data.len() {
                if taken + (self.start - begin) >= cap {
                    capped = true;
                    break;
                }
                let end = memchr::memchr(b'\n', &data[self.start..]).map_or(data.len(), |i| self.start + i + 1);
                if let (Some(max), Some(key)) = (max, title_key(&data[self.start..end]))
                    && text_order(key, max) == Ordering::Greater
                {
                    stopped = true;
                    break;
                }
                self.start = end;
                self.line += 1;
            }
            if self.start > begin {
                taken += self.start - begin;
                out.push(Chunk {
                    data: data[begin..self.start].to_vec(),
                    first_line,
                    first_byte: self.current.first_byte + begin as u64,
                    positions: Vec::new(),
                });
            }
            if stopped || capped {
                return (out, capped);
            }
        }
    }
}

/// The highest title id, in text order, among the rows of `chunk`.
pub fn max_title_key(chunk: &Chunk) -> Option<&[u8]> {
    chunk.data.split(|b| *b == b'\n').filter_map(title_key).max_by(|a, b| text_order(a, b))
}

/// How many times the size of its basics chunk a follower's share of one
/// range may be (real files carry up to ~5 times as much principals).
pub const FOLLOWER_SHARE: usize = 16;

/// Aligns `basics` chunks with the followers' rows and hands each work item
/// to `emit` (which returns false to stop: the workers are gone), and side
/// items to `incident`. A follower's share of one range is capped at `cap`
/// bytes or [`FOLLOWER_SHARE`] times the basics chunk, whichever is larger:
/// beyond it (a file out of order, a missing `title.basics`, a single
/// secondary file as input) rows go out in work items of their own, as rows
/// that cannot be joined, so memory stays bounded whatever the input.
pub fn align<B, I>(
    basics: B,
    followers: &mut [Follower<I>],
    cap: usize,
    mut emit: impl FnMut(TitleWork) -> bool,
    mut incident: impl FnMut(RawSource, ChunkItem),
) where
    B: Iterator<Item = ChunkItem>,
    I: Iterator<Item = ChunkItem>,
{
    let mut incidents = Vec::new();
    // Never move backwards: rows of an out-of-order basics chunk must not
    // pull back rows that an earlier range already handed out.
    let mut high: Vec<u8> = Vec::new();
    for item in basics {
        let chunk = match item {
            ChunkItem::Records(chunk) => chunk,
            other => {
                incident(RawSource::TitleBasics, other);
                continue;
            }
        };
        if let Some(key) = max_title_key(&chunk)
            && text_order(key, &high) == Ordering::Greater
        {
            high = key.to_vec();
        }
        let (mut others, mut overflow) = (Vec::new(), Vec::new());
        let range_cap = cap.max(chunk.data.len().saturating_mul(FOLLOWER_SHARE));
        for follower in followers.iter_mut() {
            let (chunks, mut capped) = follower.take_through(Some(&high), range_cap, &mut incidents);
            others.extend(chunks.into_iter().map(|c| (follower.source, c)));
            while capped {
                let (chunks, more) = follower.take_through(Some(&high), range_cap, &mut incidents);
                capped = more;
                overflow.push(TitleWork {
                    basics: None,
                    others: chunks.into_iter().map(|c| (follower.source, c)).collect(),
                });
            }
        }
        let items = std::iter::once(TitleWork { basics: Some(chunk), others }).chain(overflow);
        for work in items {
            if !emit(work) {
                return;
            }
        }
        for (source, item) in incidents.drain(..) {
            incident(source, item);
        }
    }
    for follower in followers.iter_mut() {
        loop {
            let (chunks, _) = follower.take_through(None, cap, &mut incidents);
            if chunks.is_empty() {
                break;
            }
            if !emit(TitleWork { basics: None, others: chunks.into_iter().map(|c| (follower.source, c)).collect() }) {
                return;
            }
        }
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

    fn rows(ids: &[String], tag: &str) -> String {
        ids.iter().map(|id| format!("{id}\t{tag}\n")).collect()
    }

    /// Ids on both sides of ten million, where text and numeric order part.
    fn ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(
            prop_oneof![999_990u32..1_000_030, 9_999_990u32..10_000_300].prop_map(|n| format!("tt{n:07}")),
            0..120,
        )
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
            basics in ids(),
            ratings in ids(),
            principals in ids(),
            sorted in any::<bool>(),
            garbage in any::<bool>(),
            basics_chunk in 1usize..300,
            other_chunk in 1usize..300,
            cap in prop_oneof![50usize..2000, Just(usize::MAX)],
        ) {
            // IMDb's order is text order: sort the id strings.
            let prep = |mut v: Vec<String>| { if sorted { v.sort_unstable(); } v };
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
            let basics_chunks = LineChunker::new(basics_text.as_bytes(), basics_chunk);
            align(basics_chunks, &mut followers, cap, |w| { work.push(w); true }, |_, _| {});
            let files = [(None, &basics_text), (Some(RawSource::TitleRatings), &ratings_text), (Some(RawSource::TitlePrincipals), &principals_text)];
            for (source, text) in files {
                let expected: Vec<(u64, String)> = text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l.to_owned())).collect();
                prop_assert_eq!(collect(&work, source), expected);
            }
            if sorted && !garbage && cap == usize::MAX {
                // With sorted input, every secondary row travels with its title.
                let id = |l: &[u8]| String::from_utf8(l.split(|b| *b == b'\t').next().unwrap().to_vec()).unwrap();
                for w in &work {
                    let ids: Vec<String> = w.basics.iter().flat_map(|c| lines(c).map(|l| id(l.data))).collect();
                    for (_, chunk) in &w.others {
                        for l in lines(chunk) {
                            let row_id = id(l.data);
                            if basics.contains(&row_id) {
                                prop_assert!(ids.contains(&row_id), "{} separated from its title", row_id);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn text_order_is_imdb_order() {
        let mut ids = ["tt1000001", "tt10000000", "tt1000000", "tt0999999", "tt10000010"];
        ids.sort_by(|a, b| text_order(a.as_bytes(), b.as_bytes()));
        assert_eq!(ids, ["tt0999999", "tt1000000", "tt10000000", "tt1000001", "tt10000010"]);
    }

    #[test]
    fn a_secondary_file_alone_comes_in_bounded_work_items() {
        let ids: Vec<String> = (1..=5000).map(|n| format!("tt{n:07}")).collect();
        let text = rows(&ids, "principal row with some length to it");
        let mut followers = vec![Follower::new(RawSource::TitlePrincipals, LineChunker::new(text.as_bytes(), 4096))];
        let mut work = Vec::new();
        align(
            std::iter::empty(),
            &mut followers,
            10_000,
            |w| {
                work.push(w);
                true
            },
            |_, _| {},
        );
        assert!(work.len() > 10);
        for w in &work {
            let bytes: usize = w.others.iter().map(|(_, c)| c.data.len()).sum();
            assert!(bytes <= 10_000 + 64, "{bytes}");
        }
        assert_eq!(collect(&work, Some(RawSource::TitlePrincipals)).len(), 5000);
    }
}

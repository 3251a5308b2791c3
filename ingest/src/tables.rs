//! Compact id-to-text lookup tables for the join.
//!
//! Title documents need person names (directors, writers, cast) and person
//! documents need title names (known-for); both sides are too large to keep
//! as `HashMap<String, String>` (15M names and 12M titles would take several
//! GiB). A table here is three parallel arrays sorted by numeric id plus one
//! text arena: 12 bytes per entry (20 for titles: year, type and votes) plus the text itself, looked up by binary
//! search. [`IdTable::heap_bytes`] reports the real figure, which the run
//! logs and docs/ingest.md bounds.

use imdb_model::TITLE_TYPES;

/// Longest text kept per entry; longer text is cut at a char boundary.
const MAX_TEXT: usize = 1024;

/// A sorted table of numeric ids to a text and a small value.
#[derive(Debug, Clone)]
pub struct IdTable<V> {
    ids: Vec<u32>,
    spans: Vec<(u32, u32)>,
    values: Vec<V>,
    text: String,
}

impl<V> Default for IdTable<V> {
    fn default() -> Self {
        IdTable { ids: Vec::new(), spans: Vec::new(), values: Vec::new(), text: String::new() }
    }
}

/// Person id to name.
pub type NameTable = IdTable<()>;

/// What a person document shows of a known-for title.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TitleMeta {
    /// Start year, 0 when unknown.
    pub year: u16,
    /// Index into [`imdb_model::TITLE_TYPES`], `u8::MAX` when unknown.
    pub title_type: u8,
    /// Votes, saturating at `u32::MAX` (4 bytes instead of 8: today's most
    /// voted title has under 3 million); 0 when unrated.
    pub votes: u32,
}

/// Title id to primary title, year and type.
pub type TitleTable = IdTable<TitleMeta>;

impl TitleMeta {
    /// Packs a year, a type name and a number of votes.
    pub fn new(year: Option<u16>, title_type: Option<&str>, votes: Option<u64>) -> TitleMeta {
        let title_type = title_type.and_then(|t| TITLE_TYPES.iter().position(|k| *k == t)).map_or(u8::MAX, |i| i as u8);
        let votes = votes.map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
        TitleMeta { year: year.unwrap_or(0), title_type, votes }
    }

    /// The votes, if rated.
    pub fn votes(self) -> Option<u64> {
        (self.votes != 0).then_some(u64::from(self.votes))
    }

    /// The year, if known.
    pub fn year(self) -> Option<u16> {
        (self.year != 0).then_some(self.year)
    }

    /// The type name, if known.
    pub fn title_type(self) -> Option<&'static str> {
        TITLE_TYPES.get(usize::from(self.title_type)).copied()
    }
}

impl<V: Copy> IdTable<V> {
    /// Adds an entry; tables are usually filled in id order, but need not be.
    pub fn push(&mut self, id: u32, text: &str, value: V) -> Result<(), String> {
        let mut end = text.len().min(MAX_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let start = self.text.len();
        if start + end > u32::MAX as usize {
            return Err("lookup table text exceeds 4 GiB".into());
        }
        self.text.push_str(&text[..end]);
        self.ids.push(id);
        self.spans.push((start as u32, (start + end) as u32));
        self.values.push(value);
        Ok(())
    }

    /// Appends the entries of `part` (filled by one worker).
    pub fn append(&mut self, part: IdTable<V>) -> Result<(), String> {
        let base = self.text.len();
        if base + part.text.len() > u32::MAX as usize {
            return Err("lookup table text exceeds 4 GiB".into());
        }
        self.text.push_str(&part.text);
        self.ids.extend_from_slice(&part.ids);
        self.spans.extend(part.spans.iter().map(|(s, e)| (s + base as u32, e + base as u32)));
        self.values.extend_from_slice(&part.values);
        Ok(())
    }

    /// Makes room for `entries` more entries with `text` more bytes.
    pub fn reserve(&mut self, entries: usize, text: usize) {
        self.ids.reserve_exact(entries);
        self.spans.reserve_exact(entries);
        self.values.reserve_exact(entries);
        self.text.reserve_exact(text);
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Sorts by id (a no-op check for input already in order) so lookups work.
    pub fn finish(&mut self) {
        if self.ids.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        let mut order: Vec<u32> = (0..self.ids.len() as u32).collect();
        order.sort_by_key(|&i| self.ids[i as usize]);
        self.ids = order.iter().map(|&i| self.ids[i as usize]).collect();
        self.spans = order.iter().map(|&i| self.spans[i as usize]).collect();
        self.values = order.iter().map(|&i| self.values[i as usize]).collect();
    }

    /// The text and value of `id`.
    pub fn get(&self, id: u32) -> Option<(&str, V)> {
        let i = self.ids.binary_search(&id).ok()?;
        let (start, end) = self.spans[i];
        Some((&self.text[start as usize..end as usize], self.values[i]))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Heap memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 4
            + self.spans.capacity() * 8
            + self.values.capacity() * std::mem::size_of::<V>()
            + self.text.capacity()
    }

    /// Releases spare capacity once the table is complete.
    pub fn shrink(&mut self) {
        self.ids.shrink_to_fit();
        self.spans.shrink_to_fit();
        self.values.shrink_to_fit();
        self.text.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_merge_and_unsorted_input_is_sorted() {
        let mut a = NameTable::default();
        a.push(5, "Five", ()).unwrap();
        a.push(9, "Nine", ()).unwrap();
        let mut b = NameTable::default();
        b.push(1, "One", ()).unwrap();
        let mut table = NameTable::default();
        table.append(a).unwrap();
        table.append(b).unwrap();
        table.finish();
        assert_eq!(table.get(1).map(|e| e.0), Some("One"));
        assert_eq!(table.get(5).map(|e| e.0), Some("Five"));
        assert_eq!(table.get(9).map(|e| e.0), Some("Nine"));
        assert_eq!(table.get(2), None);
    }

    #[test]
    fn title_meta_round_trips_and_memory_is_twenty_bytes_plus_text() {
        let mut t = TitleTable::default();
        for i in 0..1000u32 {
            t.push(i, "Twelve chars", TitleMeta::new(Some(1999), Some("movie"), Some(5_000_000_000))).unwrap();
        }
        t.shrink();
        let (title, meta) = t.get(7).unwrap();
        assert_eq!((title, meta.year(), meta.title_type()), ("Twelve chars", Some(1999), Some("movie")));
        assert_eq!(meta.votes(), Some(u64::from(u32::MAX)), "saturates");
        assert_eq!(TitleMeta::new(None, Some("opera"), None).title_type(), None);
        assert_eq!(TitleMeta::new(None, None, None).votes(), None);
        assert!(t.heap_bytes() <= 1000 * (20 + 12), "{}", t.heap_bytes());
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let mut t = NameTable::default();
        t.push(1, &"é".repeat(2000), ()).unwrap();
        assert!(t.get(1).unwrap().0.len() <= MAX_TEXT);
    }
}

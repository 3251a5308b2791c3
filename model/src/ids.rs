//! IMDb identifiers (`tt0111161`, `nm0000151`) and their compact numeric form.
//!
//! The join tables in ingest hold tens of millions of ids; keeping them as a
//! `u32` (the digits) instead of a `String` is what keeps the join's memory
//! bound. The textual form is kept for keys and documents, because ids with
//! seven and with eight digits both exist and must round-trip exactly: an id
//! whose digits have a leading zero beyond the seven-digit padding would not.

use std::fmt;

/// The two kinds of IMDb identifier the project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// A title, `tt` followed by digits.
    Title,
    /// A person, `nm` followed by digits.
    Name,
}

impl IdKind {
    /// The two-letter prefix of the textual form.
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Title => "tt",
            IdKind::Name => "nm",
        }
    }
}

/// A parsed IMDb id: its kind and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImdbId {
    /// The digits, as a number.
    pub number: u32,
}

impl ImdbId {
    /// Parses `tt0111161` (for [`IdKind::Title`]) or `nm0000151` into its
    /// number. Returns `None` for anything that would not print back to the
    /// same text: a wrong prefix, no digits, fewer than seven digits, a
    /// leading zero in an id longer than seven digits, or an overflow.
    pub fn parse(kind: IdKind, text: &str) -> Option<ImdbId> {
        let digits = text.strip_prefix(kind.prefix())?;
        if digits.len() < 7 || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if digits.len() > 7 && digits.starts_with('0') {
            return None;
        }
        digits.parse().ok().map(|number| ImdbId { number })
    }

    /// The textual form with the given prefix, padded to seven digits as IMDb
    /// writes them.
    pub fn display(self, kind: IdKind) -> IdDisplay {
        IdDisplay { kind, id: self }
    }
}

/// Formats an [`ImdbId`] with its prefix; see [`ImdbId::display`].
#[derive(Debug, Clone, Copy)]
pub struct IdDisplay {
    kind: IdKind,
    id: ImdbId,
}

impl fmt::Display for IdDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:07}", self.kind.prefix(), self.id.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips_seven_and_eight_digit_ids() {
        for text in ["tt0000001", "tt0111161", "tt10872600", "nm0000151"] {
            let kind = if text.starts_with("tt") { IdKind::Title } else { IdKind::Name };
            let id = ImdbId::parse(kind, text).unwrap();
            assert_eq!(id.display(kind).to_string(), text);
        }
        assert_eq!(ImdbId::parse(IdKind::Title, "tt0111161").unwrap().number, 111_161);
    }

    #[test]
    fn rejects_what_would_not_round_trip() {
        for text in ["", "tt", "tt123", "nm0000151", "tt01234567", "tt12a4567", "tt 111161", "tt99999999999"] {
            assert_eq!(ImdbId::parse(IdKind::Title, text), None, "{text:?}");
        }
    }

    #[test]
    fn numeric_order_is_imdb_order() {
        let a = ImdbId::parse(IdKind::Title, "tt9999999").unwrap();
        let b = ImdbId::parse(IdKind::Title, "tt10000000").unwrap();
        assert!(a < b);
    }
}

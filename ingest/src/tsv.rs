//! Parsing and validating rows of the IMDb TSV files.
//!
//! IMDb's format: tab-separated, one row per line, `\N` for null, a header
//! line first. A row is rejected (and dead-lettered with the reason) when it
//! is not UTF-8, has the wrong number of fields, has an id that is not an
//! IMDb id, or a typed field that does not hold its type: such rows are
//! shifted or corrupt, and guessing would put wrong data in the index.

use imdb_model::{IdKind, ImdbId, RawSource};

/// IMDb's null.
pub const NULL: &str = "\\N";

/// Why a row was rejected.
pub type RowError = String;

/// The fields of one row, split and checked for count and UTF-8.
pub fn split_row<'a>(line: &'a [u8], source: RawSource, fields: &mut Vec<&'a str>) -> Result<(), RowError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text =
        std::str::from_utf8(line).map_err(|e| format!("invalid UTF-8 at byte {} of the row", e.valid_up_to()))?;
    fields.clear();
    fields.extend(text.split('\t'));
    let expected = source.columns().len();
    if fields.len() != expected {
        return Err(format!("expected {expected} tab-separated fields, found {}", fields.len()));
    }
    Ok(())
}

/// `None` for IMDb's `\N`.
pub fn opt(field: &str) -> Option<&str> {
    (field != NULL && !field.is_empty()).then_some(field)
}

fn id(kind: IdKind, field: &str, column: &str) -> Result<ImdbId, RowError> {
    ImdbId::parse(kind, field).ok_or_else(|| format!("{column}: not an IMDb id: {field:?}"))
}

fn number<T: std::str::FromStr>(field: &str, column: &str, what: &str) -> Result<Option<T>, RowError> {
    match opt(field) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("{column}: expected {what}, found {v:?}")),
    }
}

fn required<'a>(field: &'a str, column: &str) -> Result<&'a str, RowError> {
    opt(field).ok_or_else(|| format!("{column}: missing"))
}

fn flag(field: &str, column: &str) -> Result<bool, RowError> {
    match field {
        "0" | NULL => Ok(false),
        "1" => Ok(true),
        other => Err(format!("{column}: expected 0 or 1, found {other:?}")),
    }
}

/// A `title.basics` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Basics<'a> {
    pub id: ImdbId,
    pub tconst: &'a str,
    pub title_type: Option<&'a str>,
    pub primary_title: &'a str,
    pub original_title: Option<&'a str>,
    pub is_adult: bool,
    pub start_year: Option<u16>,
    pub end_year: Option<u16>,
    pub runtime_minutes: Option<u32>,
    pub genres: Option<&'a str>,
}

impl<'a> Basics<'a> {
    /// Parses split fields.
    pub fn parse(f: &[&'a str]) -> Result<Self, RowError> {
        Ok(Basics {
            id: id(IdKind::Title, f[0], "tconst")?,
            tconst: f[0],
            title_type: opt(f[1]),
            primary_title: required(f[2], "primaryTitle")?,
            original_title: opt(f[3]),
            is_adult: flag(f[4], "isAdult")?,
            start_year: number(f[5], "startYear", "a year")?,
            end_year: number(f[6], "endYear", "a year")?,
            runtime_minutes: number(f[7], "runtimeMinutes", "a number of minutes")?,
            genres: opt(f[8]),
        })
    }
}

/// A `title.ratings` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub id: ImdbId,
    pub average: f32,
    pub votes: u64,
}

impl Rating {
    /// Parses split fields.
    pub fn parse(f: &[&str]) -> Result<Self, RowError> {
        let average: f32 = number(f[1], "averageRating", "a rating")?.ok_or("averageRating: missing")?;
        if !(0.0..=10.0).contains(&average) {
            return Err(format!("averageRating: {average} is outside 0 to 10"));
        }
        Ok(Rating {
            id: id(IdKind::Title, f[0], "tconst")?,
            average,
            votes: number(f[2], "numVotes", "a number of votes")?.ok_or("numVotes: missing")?,
        })
    }
}

/// A `title.crew` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Crew<'a> {
    pub id: ImdbId,
    pub directors: Option<&'a str>,
    pub writers: Option<&'a str>,
}

impl<'a> Crew<'a> {
    /// Parses split fields.
    pub fn parse(f: &[&'a str]) -> Result<Self, RowError> {
        Ok(Crew { id: id(IdKind::Title, f[0], "tconst")?, directors: opt(f[1]), writers: opt(f[2]) })
    }
}

/// A `title.principals` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal<'a> {
    pub id: ImdbId,
    pub ordering: u32,
    pub nconst: &'a str,
    pub category: &'a str,
    pub characters: Option<&'a str>,
}

impl<'a> Principal<'a> {
    /// Parses split fields.
    pub fn parse(f: &[&'a str]) -> Result<Self, RowError> {
        id(IdKind::Name, f[2], "nconst")?;
        Ok(Principal {
            id: id(IdKind::Title, f[0], "tconst")?,
            ordering: number(f[1], "ordering", "a number")?.ok_or("ordering: missing")?,
            nconst: f[2],
            category: opt(f[3]).unwrap_or(""),
            characters: opt(f[5]),
        })
    }
}

/// A `title.akas` row.
#[derive(Debug, Clone, PartialEq)]
pub struct AkaRow<'a> {
    pub id: ImdbId,
    pub ordering: u32,
    pub title: &'a str,
    pub region: Option<&'a str>,
    pub language: Option<&'a str>,
    pub is_original: bool,
}

impl<'a> AkaRow<'a> {
    /// Parses split fields.
    pub fn parse(f: &[&'a str]) -> Result<Self, RowError> {
        Ok(AkaRow {
            id: id(IdKind::Title, f[0], "titleId")?,
            ordering: number(f[1], "ordering", "a number")?.ok_or("ordering: missing")?,
            title: required(f[2], "title")?,
            region: opt(f[3]),
            language: opt(f[4]),
            is_original: flag(f[7], "isOriginalTitle")?,
        })
    }
}

/// A `title.episode` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode<'a> {
    pub id: ImdbId,
    pub parent: &'a str,
    pub season: Option<u32>,
    pub episode: Option<u32>,
}

impl<'a> Episode<'a> {
    /// Parses split fields.
    pub fn parse(f: &[&'a str]) -> Result<Self, RowError> {
        id(IdKind::Title, f[1], "parentTconst")?;
        Ok(Episode {
            id: id(IdKind::Title, f[0], "tconst")?,
            parent: f[1],
            season: number(f[2], "seasonNumber", "a number")?,
            episode: number(f[3], "episodeNumber", "a number")?,
        })
    }
}

/// A `name.basics` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Name<'a> {
    pub id: ImdbId,
    pub nconst: &'a str,
    pub name: &'a str,
    pub birth_year: Option<u16>,
    pub death_year: Option<u16>,
    pub professions: Option<&'a str>,
    pub known_for: Option<&'a str>,
}

impl<'a> Name<'a> {
    /// Parses split fields.
    pub fn parse(f: &[&'a str]) -> Result<Self, RowError> {
        Ok(Name {
            id: id(IdKind::Name, f[0], "nconst")?,
            nconst: f[0],
            name: required(f[1], "primaryName")?,
            birth_year: number(f[2], "birthYear", "a year")?,
            death_year: number(f[3], "deathYear", "a year")?,
            professions: opt(f[4]),
            known_for: opt(f[5]),
        })
    }
}

/// The id of a row's first field, without validating the rest: what the
/// master uses to align the title files.
pub fn leading_id(line: &[u8], kind: IdKind) -> Option<ImdbId> {
    let end = memchr::memchr(b'\t', line).unwrap_or(line.len());
    std::str::from_utf8(&line[..end]).ok().and_then(|s| ImdbId::parse(kind, s))
}

/// Appends a row as one JSON object line (`\N` as `null`, everything else a
/// string, as in the file): the raw topics' `json_lines` format.
pub fn write_raw_json(out: &mut Vec<u8>, columns: &[&str], fields: &[&str]) {
    out.push(b'{');
    for (i, (column, field)) in columns.iter().zip(fields).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(column.as_bytes());
        out.extend_from_slice(b"\":");
        if *field == NULL {
            out.extend_from_slice(b"null");
        } else {
            serde_json::to_writer(&mut *out, field).expect("writing to a Vec cannot fail");
        }
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str, source: RawSource) -> Result<Vec<&str>, RowError> {
        let mut f = Vec::new();
        split_row(line.as_bytes(), source, &mut f).map(|()| f)
    }

    #[test]
    fn parses_a_real_basics_row() {
        let f = fields(
            "tt0000001\tshort\tCarmencita\tCarmencita\t0\t1894\t\\N\t1\tDocumentary,Short\n",
            RawSource::TitleBasics,
        )
        .unwrap();
        let row = Basics::parse(&f).unwrap();
        assert_eq!(row.primary_title, "Carmencita");
        assert_eq!((row.start_year, row.end_year, row.runtime_minutes), (Some(1894), None, Some(1)));
        assert_eq!(row.genres, Some("Documentary,Short"));
    }

    #[test]
    fn rejects_shifted_and_mistyped_rows_with_a_reason() {
        assert_eq!(
            fields("tt0000001\tshort\tCarmencita\n", RawSource::TitleBasics).unwrap_err(),
            "expected 9 tab-separated fields, found 3"
        );
        let f = fields("tt0000001\tshort\tX\tX\t0\tabc\t\\N\t1\t\\N", RawSource::TitleBasics).unwrap();
        assert_eq!(Basics::parse(&f).unwrap_err(), "startYear: expected a year, found \"abc\"");
        let f = fields("xx1\t5.0\t10", RawSource::TitleRatings).unwrap();
        assert!(Rating::parse(&f).unwrap_err().starts_with("tconst: not an IMDb id"));
        let f = fields("tt0000001\t11.5\t10", RawSource::TitleRatings).unwrap();
        assert!(Rating::parse(&f).unwrap_err().contains("outside"));
        let mut out = Vec::new();
        assert!(split_row(b"tt1\t\xff\xfe\t1\n", RawSource::TitleRatings, &mut out).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn raw_json_keeps_strings_and_nulls() {
        let mut out = Vec::new();
        write_raw_json(&mut out, &["a", "b", "c"], &["x\"y", "\\N", "3"]);
        assert_eq!(String::from_utf8(out).unwrap(), "{\"a\":\"x\\\"y\",\"b\":null,\"c\":\"3\"}\n");
    }
}

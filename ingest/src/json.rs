//! JSON title records (a JSON array file or NDJSON): parse, coerce, publish.
//!
//! Records are parsed with simd-json. Field names are matched loosely (case,
//! spaces and underscores ignored, a few synonyms), so both IMDb-style
//! exports (`tconst`, `primaryTitle`, `startYear`, ...) and the vega
//! `movies.json` profile (`Title`, `Release Date`, `Major Genre`,
//! `IMDB Rating`, ...) read without configuration.
//!
//! Coercion: a value a user would want kept is converted, not rejected: the
//! number `300` as a title is the film "300", `"7.5"` as a rating is 7.5,
//! `"Jun 12 1998"` gives the year and date. A value that cannot stand for its
//! field (an object as a title, `"abc"` as a rating) rejects the record, with
//! the field named. Text mis-decoded as Mac Roman (`LÈon`, `AmÈlie`) is
//! repaired, only where the telltale letters appear.
//!
//! A record without an IMDb id gets a stable id derived from its title and
//! year (`x` + 16 hex digits), so a reload overwrites instead of duplicating.

use std::borrow::Cow;

use imdb_model::topics::TITLES;
use imdb_model::{IdKind, ImdbId, PersonRef, RawSource, TitleDoc, normalise_genres};
use simd_json::BorrowedValue as Value;
use simd_json::StaticNode;
use simd_json::prelude::*;

use crate::chunk::{Chunk, MAX_RECORD_BYTES};
use crate::error::IngestError;
use crate::sink::MAX_MESSAGE_BYTES;
use crate::stats::MessageKind;
use crate::worker::{Ctx, check_size, lines};

/// The fields of [`TitleDoc`] a JSON record can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Title,
    OriginalTitle,
    TitleType,
    Year,
    EndYear,
    ReleaseDate,
    Runtime,
    Genres,
    Rating,
    Votes,
    Adult,
    Directors,
    Mpaa,
    Distributor,
}

/// Field names, lower-cased with spaces, `_` and `-` removed.
fn field_of(key: &str) -> Option<Field> {
    let key: String = key.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    Some(match key.as_str() {
        "tconst" | "imdbid" | "id" => Field::Id,
        "title" | "primarytitle" | "name" => Field::Title,
        "originaltitle" => Field::OriginalTitle,
        "titletype" | "type" => Field::TitleType,
        "startyear" | "year" => Field::Year,
        "endyear" => Field::EndYear,
        "releasedate" | "released" => Field::ReleaseDate,
        "runtimeminutes" | "runningtimemin" | "runtime" => Field::Runtime,
        "genres" | "genre" | "majorgenre" => Field::Genres,
        "averagerating" | "imdbrating" | "rating" => Field::Rating,
        "numvotes" | "imdbvotes" | "votes" => Field::Votes,
        "isadult" | "adult" => Field::Adult,
        "directors" | "director" => Field::Directors,
        "mpaarating" => Field::Mpaa,
        "distributor" => Field::Distributor,
        _ => return None,
    })
}

/// Mac Roman's characters for bytes 0x80..=0xFF, and Windows-1252's (with
/// U+FFFD for its five undefined bytes).
const MAC_ROMAN: &str = "ÄÅÇÉÑÖÜáàâäãåçéèêëíìîïñóòôöõúùûü†°¢£§•¶ß®©™´¨≠ÆØ∞±≤≥¥µ∂∑∏π∫ªºΩæø¿¡¬√ƒ≈∆«»…\u{a0}ÀÃÕŒœ–—“”‘’÷◊ÿŸ⁄€‹›ﬁﬂ‡·‚„‰ÂÊÁËÈÍÎÏÌÓÔ\u{f8ff}ÒÚÛÙıˆ˜¯˘˙˚¸˝˛ˇ";
const CP1252: &str = "€\u{fffd}‚ƒ„…†‡ˆ‰Š‹Œ\u{fffd}Ž\u{fffd}\u{fffd}‘’“”•–—˜™š›œ\u{fffd}žŸ\u{a0}¡¢£¤¥¦§¨©ª«¬\u{ad}®¯°±²³´µ¶·¸¹º»¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ";

/// Repairs Windows-1252 text that was decoded as Mac Roman. Applied only when
/// the text shows the typical damage (an upper-case accented letter inside a
/// lower-case word, or one of Mac Roman's diacritic symbols next to a
/// letter), and only when every non-ASCII character maps back.
pub fn repair_mojibake(text: &str) -> Cow<'_, str> {
    // What Windows-1252 letters turn into when read as Mac Roman: é -> È,
    // ê -> Í, ù -> ˘, ä -> ‰, à -> ‡, ½ -> Ω ...
    const UPPER: &str = "ÈÉÍËÎÏÌÓÔÒÚÛÙÁÂÊ";
    const SYMBOLS: &str = "˘‰‡Ω·ˆ˜¯˙˚¸˝˛ˇ";
    let chars: Vec<char> = text.chars().collect();
    let damaged = (0..chars.len()).any(|i| {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let c = chars[i];
        let lower_before = prev.is_some_and(|p| p.is_ascii_lowercase());
        let inside_word = prev.is_some_and(char::is_alphabetic) && next.is_some_and(|n| n.is_ascii_lowercase());
        let next_to_alnum = prev.is_some_and(char::is_alphanumeric) || next.is_some_and(char::is_alphanumeric);
        (UPPER.contains(c) && (lower_before || inside_word)) || (SYMBOLS.contains(c) && next_to_alnum)
    });
    if !damaged {
        return Cow::Borrowed(text);
    }
    let cp1252: Vec<char> = CP1252.chars().collect();
    let mut out = String::with_capacity(text.len());
    for c in chars {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        match MAC_ROMAN.chars().position(|m| m == c).map(|i| cp1252[i]) {
            Some(fixed) if fixed != '\u{fffd}' => out.push(fixed),
            _ => return Cow::Borrowed(text),
        }
    }
    Cow::Owned(out)
}

fn kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Static(StaticNode::Null) => "null",
        Value::Static(StaticNode::Bool(_)) => "a boolean",
        Value::Static(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field: numbers and booleans become their text.
fn text(v: &Value<'_>, key: &str) -> Result<Option<String>, String> {
    match v {
        Value::Static(StaticNode::Null) => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| repair_mojibake(s).into_owned()))
        }
        Value::Static(StaticNode::I64(n)) => Ok(Some(n.to_string())),
        Value::Static(StaticNode::U64(n)) => Ok(Some(n.to_string())),
        Value::Static(StaticNode::F64(n)) => Ok(Some(n.to_string())),
        Value::Static(StaticNode::Bool(b)) => Ok(Some(b.to_string())),
        other => Err(format!("field {key:?}: expected text, found {}", kind(other))),
    }
}

/// A numeric field: numeric strings (with thousands separators) are parsed.
fn number(v: &Value<'_>, key: &str) -> Result<Option<f64>, String> {
    match v {
        Value::Static(StaticNode::Null) => Ok(None),
        Value::Static(StaticNode::I64(n)) => Ok(Some(*n as f64)),
        Value::Static(StaticNode::U64(n)) => Ok(Some(*n as f64)),
        Value::Static(StaticNode::F64(n)) => Ok(Some(*n)),
        Value::String(s) if s.trim().is_empty() || s.trim() == "\\N" => Ok(None),
        Value::String(s) => s
            .trim()
            .replace(',', "")
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| format!("field {key:?}: expected a number, found {s:?}")),
        other => Err(format!("field {key:?}: expected a number, found {}", kind(other))),
    }
}

fn in_range<T: TryFrom<i64>>(n: Option<f64>, key: &str, lo: f64, hi: f64) -> Result<Option<T>, String> {
    match n {
        None => Ok(None),
        Some(n) if (lo..=hi).contains(&n) => T::try_from(n.round() as i64).map(Some).map_err(|_| unreachable!()),
        Some(n) => Err(format!("field {key:?}: {n} is outside {lo} to {hi}")),
    }
}

/// `Jun 12 1998`, `12 June 1998`, `1998-06-12`, `1998`: (year, ISO date).
pub fn parse_date(s: &str) -> (Option<u16>, Option<String>) {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let tokens: Vec<&str> = s.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).collect();
    let year =
        tokens.iter().find(|t| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit())).and_then(|t| t.parse().ok());
    let month = tokens.iter().find_map(|t| {
        let t = t.to_ascii_lowercase();
        MONTHS.iter().position(|m| t.starts_with(m)).map(|i| i as u32 + 1)
    });
    let numbers: Vec<u32> = tokens.iter().filter(|t| t.len() <= 2).filter_map(|t| t.parse().ok()).collect();
    let (month, day) = match (month, numbers.as_slice()) {
        (Some(m), [d, ..]) => (Some(m), Some(*d)),
        (None, [m, d, ..]) => (Some(*m), Some(*d)),
        _ => (None, None),
    };
    let date = match (year, month, day) {
        (Some(y), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
            Some(format!("{y:04}-{m:02}-{d:02}"))
        }
        _ => None,
    };
    (year, date)
}

/// A stable id for a record without an IMDb id: FNV-1a of title and year.
pub fn derived_id(title: &str, year: Option<u16>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!("{}|{}", title.to_lowercase(), year.map_or(String::new(), |y| y.to_string()));
    for b in key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("x{hash:016x}")
}

fn list(v: &Value<'_>, key: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Array(items) => items.iter().filter_map(|i| text(i, key).transpose()).collect(),
        other => Ok(text(other, key)?.map(|s| s.split(',').map(|p| p.trim().to_owned()).collect()).unwrap_or_default()),
    }
}

/// Normalises one parsed record into a title document.
pub fn normalise(value: &Value<'_>) -> Result<TitleDoc, String> {
    let Value::Object(object) = value else {
        return Err(format!("expected a JSON object, found {}", kind(value)));
    };
    let mut doc = TitleDoc::default();
    let (mut id, mut title, mut date_year) = (None, None, None);
    for (key, v) in object.iter() {
        let Some(field) = field_of(key) else { continue };
        match field {
            Field::Id => id = text(v, key)?.filter(|s| ImdbId::parse(IdKind::Title, s).is_some()),
            Field::Title => title = text(v, key)?,
            Field::OriginalTitle => doc.original_title = text(v, key)?,
            Field::TitleType => doc.title_type = text(v, key)?,
            Field::Year => doc.start_year = in_range(number(v, key)?, key, 1800.0, 2200.0)?,
            Field::EndYear => doc.end_year = in_range(number(v, key)?, key, 1800.0, 2200.0)?,
            Field::ReleaseDate => {
                if let Some(date) = text(v, key)? {
                    (date_year, doc.release_date) = parse_date(&date);
                }
            }
            Field::Runtime => doc.runtime_minutes = in_range(number(v, key)?, key, 0.0, 100_000.0)?,
            Field::Genres => doc.genres = normalise_genres(list(v, key)?.iter().map(String::as_str)),
            Field::Rating => doc.average_rating = number(v, key)?.map(|n| n as f32),
            Field::Votes => doc.num_votes = in_range(number(v, key)?, key, 0.0, 1e12)?,
            Field::Adult => {
                doc.is_adult = match v {
                    Value::Static(StaticNode::Bool(b)) => *b,
                    other => number(other, key)?.is_some_and(|n| n != 0.0),
                }
            }
            Field::Directors => {
                doc.directors = list(v, key)?
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .map(|n| match ImdbId::parse(IdKind::Name, &n) {
                        Some(_) => PersonRef { nconst: Some(n), name: None },
                        None => PersonRef { nconst: None, name: Some(n) },
                    })
                    .collect();
            }
            Field::Mpaa => doc.mpaa_rating = text(v, key)?,
            Field::Distributor => doc.distributor = text(v, key)?,
        }
    }
    if let Some(rating) = doc.average_rating
        && !(0.0..=10.0).contains(&rating)
    {
        return Err(format!("rating {rating} is outside 0 to 10"));
    }
    doc.primary_title = title.ok_or("no title (expected a field like \"title\", \"primaryTitle\" or \"Title\")")?;
    doc.start_year = doc.start_year.or(date_year.filter(|y| (1800..=2200).contains(y)));
    doc.tconst = id.unwrap_or_else(|| derived_id(&doc.primary_title, doc.start_year));
    Ok(doc)
}

/// Parses, normalises and publishes the records of one chunk.
pub fn process_json(ctx: &Ctx<'_>, chunk: &Chunk) -> Result<(), IngestError> {
    let mut raw = ctx.raw_batcher(RawSource::Json);
    let (mut scratch, mut row, mut buf) = (Vec::new(), Vec::new(), Vec::with_capacity(2048));
    let mut count = 0;
    for line in lines(chunk) {
        count += 1;
        let doc = check_size(line.data.len(), MAX_RECORD_BYTES, "record").and_then(|()| {
            scratch.clear();
            scratch.extend_from_slice(line.data);
            let value = simd_json::to_borrowed_value(&mut scratch).map_err(|e| format!("malformed JSON: {e}"))?;
            let doc = normalise(&value)?;
            row.clear();
            value.write(&mut row).expect("writing to a Vec cannot fail");
            row.push(b'\n');
            check_size(row.len(), MAX_MESSAGE_BYTES, "record as JSON")?;
            Ok(doc)
        });
        let published = match doc {
            Ok(doc) => ctx.publish_doc(TITLES, MessageKind::Title, &doc.tconst, &doc, &mut buf)?.map(|()| doc),
            Err(reason) => Err(reason),
        };
        match published {
            Ok(doc) if ctx.raw.publish() => raw.add(&doc.tconst, &row)?,
            Ok(_) => {}
            Err(reason) => ctx.reject(RawSource::Json, line.position(), &reason, line.data)?,
        }
    }
    ctx.stats.read(RawSource::Json, count, chunk.data.len() as u64);
    raw.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Result<TitleDoc, String> {
        let mut bytes = json.as_bytes().to_vec();
        let value = simd_json::to_borrowed_value(&mut bytes).map_err(|e| e.to_string())?;
        normalise(&value)
    }

    #[test]
    fn vega_movies_profile_is_coerced() {
        let d = doc(r#"{"Title": 300, "Release Date": "Mar 09 2007", "Major Genre": "Action", "IMDB Rating": 7.8,
            "IMDB Votes": 235508, "Running Time min": 117, "Director": "Zack Snyder", "MPAA Rating": "R"}"#)
        .unwrap();
        assert_eq!(d.primary_title, "300");
        assert_eq!((d.start_year, d.release_date.as_deref()), (Some(2007), Some("2007-03-09")));
        assert_eq!(d.genres, vec!["action"]);
        assert_eq!((d.average_rating, d.num_votes, d.runtime_minutes), (Some(7.8), Some(235_508), Some(117)));
        assert_eq!(d.directors[0].name.as_deref(), Some("Zack Snyder"));
        assert!(d.tconst.starts_with('x') && d.tconst.len() == 17);
        assert_eq!(d.tconst, derived_id("300", Some(2007)));
    }

    #[test]
    fn imdb_style_records_keep_their_id_and_strings_become_numbers() {
        let d = doc(r#"{"tconst":"tt0111161","primaryTitle":"The Shawshank Redemption","startYear":"1994",
            "genres":["Drama"],"averageRating":"9.3","numVotes":"2,900,000","isAdult":0}"#)
        .unwrap();
        assert_eq!(d.tconst, "tt0111161");
        assert_eq!((d.start_year, d.average_rating, d.num_votes), (Some(1994), Some(9.3), Some(2_900_000)));
    }

    #[test]
    fn values_that_cannot_stand_for_their_field_reject_the_record() {
        assert!(doc(r#"{"Title": null}"#).unwrap_err().starts_with("no title"));
        assert_eq!(doc(r#"{"Title": {"a":1}}"#).unwrap_err(), "field \"Title\": expected text, found an object");
        assert_eq!(
            doc(r#"{"Title":"x","IMDB Rating":"great"}"#).unwrap_err(),
            "field \"IMDB Rating\": expected a number, found \"great\""
        );
        assert!(doc(r#"[1,2]"#).unwrap_err().contains("expected a JSON object"));
        assert!(doc(r#"{"Title":"x","rating":42}"#).unwrap_err().contains("outside"));
    }

    #[test]
    fn mac_roman_mojibake_is_repaired_and_good_text_left_alone() {
        for (bad, good) in [
            ("LÈon", "Léon"),
            ("Le Fabuleux destin d'AmÈlie Poulain", "Le Fabuleux destin d'Amélie Poulain"),
            ("Per qualche dollaro in pi˘", "Per qualche dollaro in più"),
            ("The Naked Gun 2Ω: The Smell of Fear", "The Naked Gun 2½: The Smell of Fear"),
            ("Die F‰lscher", "Die Fälscher"),
            ("DÈj‡ Vu", "Déjà Vu"),
        ] {
            assert_eq!(repair_mojibake(bad), good, "{bad}");
        }
        for good in ["Léon", "Alien³", "Ri¢hie Ri¢h", "Amélie", "Éric", "Zoë", "ÉCOLE", "Ω Omega"] {
            assert_eq!(repair_mojibake(good), good);
        }
    }

    #[test]
    fn dates_in_several_shapes() {
        assert_eq!(parse_date("Jun 12 1998"), (Some(1998), Some("1998-06-12".into())));
        assert_eq!(parse_date("1998-06-12"), (Some(1998), Some("1998-06-12".into())));
        assert_eq!(parse_date("12 June 1998"), (Some(1998), Some("1998-06-12".into())));
        assert_eq!(parse_date("1998"), (Some(1998), None));
        assert_eq!(parse_date("soon"), (None, None));
    }
}

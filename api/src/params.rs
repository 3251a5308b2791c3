//! Query-string parsing into typed parameters, with the limits that keep a
//! request cheap. Everything the cluster sees is built from these types:
//! user text is only ever a query string inside a `match`, never DSL, an
//! index name or a field name.
//!
//! Unknown parameters are refused (a typo such as `gnre=drama` would
//! otherwise silently return unfiltered results), and so is a
//! single-valued parameter given twice.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use imdb_model::TITLE_TYPES;

use crate::error::ApiError;

/// Longest accepted search text, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words in a search text: each becomes a clause of the query.
pub const MAX_QUERY_WORDS: usize = 16;
/// Largest page.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Deepest result reachable by `page` (page x size); deeper needs `cursor`.
pub const MAX_PAGE_DEPTH: u32 = 1000;
/// Most values of a multi-valued filter.
pub const MAX_FILTER_VALUES: usize = 20;

/// A parsed query string: name/value pairs in order.
#[derive(Debug)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `raw`, refusing parameters not in `allowed`.
    pub fn parse(raw: &str, allowed: &[&str]) -> Result<Query, ApiError> {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if let Some((name, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            let mut known = allowed.to_vec();
            known.sort_unstable();
            return Err(ApiError::invalid(name, format!("unknown parameter; known: {}", known.join(", "))));
        }
        Ok(Query { pairs })
    }

    /// The pairs sorted, one string: the same for `a=1&b=2` and `b=2&a=1`
    /// (the response cache's key).
    pub fn canonical(&self) -> String {
        let mut pairs: Vec<&(String, String)> = self.pairs.iter().collect();
        pairs.sort();
        format!("{pairs:?}")
    }

    /// Every value of a multi-valued parameter, comma-separated values split.
    pub fn all(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let values: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        if values.len() > MAX_FILTER_VALUES {
            return Err(ApiError::invalid(name, format!("at most {MAX_FILTER_VALUES} values")));
        }
        Ok(values)
    }

    /// The value of a single-valued parameter; an empty value counts as absent.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::invalid(name, "given more than once"));
        }
        Ok(first.map(str::trim).filter(|v| !v.is_empty()))
    }

    /// An integer within `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.one(name)? else { return Ok(None) };
        let value: i64 =
            text.parse().map_err(|_| ApiError::invalid(name, format!("`{}` is not an integer", clip(text))))?;
        if !(min..=max).contains(&value) {
            return Err(ApiError::invalid(name, format!("must be between {min} and {max}")));
        }
        Ok(Some(value))
    }

    /// A finite number within `min..=max`.
    pub fn number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, ApiError> {
        let Some(text) = self.one(name)? else { return Ok(None) };
        let value: f64 =
            text.parse().map_err(|_| ApiError::invalid(name, format!("`{}` is not a number", clip(text))))?;
        if !value.is_finite() || value < min || value > max {
            return Err(ApiError::invalid(name, format!("must be between {min} and {max}")));
        }
        Ok(Some(value))
    }

    /// `true`/`false` (also `1`/`0`).
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.one(name)? {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(name, format!("`{}` is not true or false", clip(other)))),
        }
    }

    /// Search text: trimmed, at most [`MAX_QUERY_CHARS`] characters and
    /// [`MAX_QUERY_WORDS`] words, no control characters.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(text) = self.one(name)? else { return Ok(None) };
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid(name, format!("longer than {MAX_QUERY_CHARS} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(ApiError::invalid(name, "contains control characters"));
        }
        // Words as the analyzer cuts them (`a-b-c` is three): each one is a
        // clause of the query, several with fuzzy expansions.
        let words = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).count();
        if words > MAX_QUERY_WORDS {
            return Err(ApiError::invalid(name, format!("more than {MAX_QUERY_WORDS} words")));
        }
        // Something must be searchable once punctuation is gone.
        if !text.chars().any(char::is_alphanumeric) {
            return Err(ApiError::invalid(name, "has no letters or digits"));
        }
        Ok(Some(text.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    /// `page` and `size`, checked against the depth limit.
    pub fn paging(&self, default_size: u32) -> Result<(u32, u32), ApiError> {
        let size = self.int("size", 1, MAX_PAGE_SIZE.into())?.map_or(default_size, |s| s as u32);
        let page = self.int("page", 1, MAX_PAGE_DEPTH.into())?.map_or(1, |p| p as u32);
        if page * size > MAX_PAGE_DEPTH {
            return Err(ApiError::invalid(
                "page",
                format!("page x size may not pass {MAX_PAGE_DEPTH} results; follow `next_cursor` to go deeper"),
            ));
        }
        Ok((page, size))
    }
}

/// Shortens echoed input in error messages.
fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// A genre filter value as indexed (`Sci-Fi` -> `sci-fi`).
pub fn genre(value: &str) -> Result<String, ApiError> {
    let slugs = imdb_model::normalise_genre(value);
    match slugs.as_slice() {
        [one] if one.len() <= 40 => Ok(one.clone()),
        _ => Err(ApiError::invalid("genre", format!("`{}` is not a genre name", clip(value)))),
    }
}

/// A `type` filter value, one of IMDb's [`TITLE_TYPES`] (case-insensitive).
pub fn title_type(value: &str) -> Result<&'static str, ApiError> {
    TITLE_TYPES.iter().find(|t| t.eq_ignore_ascii_case(value)).copied().ok_or_else(|| {
        ApiError::invalid("type", format!("`{}` is not a title type; known: {}", clip(value), TITLE_TYPES.join(", ")))
    })
}

/// An IMDb id path segment of `kind` (`tt`/`nm` and digits); ids that
/// ingest derived for JSON records without one (`x` and hex) are accepted
/// for titles.
pub fn imdb_id(name: &str, value: &str, prefix: &str) -> Result<String, ApiError> {
    let digits = value.strip_prefix(prefix).filter(|d| (1..=12).contains(&d.len()));
    let derived = prefix == "tt" && value.len() <= 40 && value.strip_prefix('x').is_some_and(|h| !h.is_empty());
    let ok = digits.is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
        || derived && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(name, format!("`{}` is not an IMDb id like {prefix}0000001", clip(value))))
    }
}

/// A deep-paging position: the sort it belongs to and the last hit's sort
/// values. Opaque to clients (URL-safe base64 of JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The sort name it was made for.
    pub sort: String,
    /// Identifies the search text and filters it was made for.
    pub fingerprint: String,
    /// `search_after` values.
    pub after: Vec<Value>,
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::json!({"s": self.sort, "f": self.fingerprint, "a": self.after}).to_string())
    }

    /// Reads a cursor made by [`Cursor::encode`]; anything else is a 400.
    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::invalid("cursor", "not a cursor this API returned (use `next_cursor` as given)");
        if text.len() > 1024 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let sort = value["s"].as_str().ok_or_else(bad)?.to_owned();
        let fingerprint = value["f"].as_str().ok_or_else(bad)?.to_owned();
        let after = value["a"].as_array().ok_or_else(bad)?.clone();
        if after.is_empty() || after.len() > 4 || !after.iter().all(|v| v.is_number() || v.is_string() || v.is_null()) {
            return Err(bad());
        }
        Ok(Cursor { sort, fingerprint, after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(raw: &str) -> Query {
        Query::parse(raw, &["q", "genre", "size", "page", "adult", "rating_min"]).unwrap()
    }

    #[test]
    fn the_canonical_form_ignores_order_only() {
        assert_eq!(q("q=a&size=2").canonical(), q("size=2&q=a").canonical());
        assert_ne!(q("q=a&size=2").canonical(), q("q=a&size=3").canonical());
        assert_ne!(q("genre=a&genre=b").canonical(), q("genre=a").canonical());
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused_by_name() {
        let e = Query::parse("q=x&gnre=drama", &["q", "genre"]).unwrap_err();
        assert!(matches!(&e, ApiError::InvalidParameter { name, .. } if name == "gnre"), "{e}");
        let e = q("q=a&q=b").text("q").unwrap_err();
        assert!(e.to_string().contains("more than once"));
    }

    #[test]
    fn multi_valued_filters_split_and_are_bounded() {
        assert_eq!(q("genre=drama&genre=comedy,war").all("genre").unwrap(), ["drama", "comedy", "war"]);
        let many = (0..21).map(|i| format!("genre=g{i}")).collect::<Vec<_>>().join("&");
        assert!(q(&many).all("genre").is_err());
        assert_eq!(genre("Sci-Fi").unwrap(), "sci-fi");
        assert!(genre("Romantic Comedy").is_err(), "two genres are not one filter value");
        assert_eq!(title_type("TVSERIES").unwrap(), "tvSeries");
        assert!(title_type("opera").is_err());
    }

    #[test]
    fn numbers_are_checked_for_type_and_range() {
        assert_eq!(q("size=10").int("size", 1, 100).unwrap(), Some(10));
        assert!(q("size=0").int("size", 1, 100).is_err());
        assert!(q("size=ten").int("size", 1, 100).is_err());
        assert!(q("size=99999999999999999999").int("size", 1, 100).is_err());
        assert!(q("rating_min=NaN").number("rating_min", 0.0, 10.0).is_err());
        assert!(q("rating_min=inf").number("rating_min", 0.0, 10.0).is_err());
        assert_eq!(q("rating_min=7.5").number("rating_min", 0.0, 10.0).unwrap(), Some(7.5));
        assert!(q("adult=yes").boolean("adult").is_err());
        assert_eq!(q("size=").int("size", 1, 100).unwrap(), None, "empty is absent");
    }

    #[test]
    fn paging_is_bounded_in_size_and_depth() {
        assert_eq!(q("").paging(20).unwrap(), (1, 20));
        assert_eq!(q("page=50&size=20").paging(20).unwrap(), (50, 20));
        assert!(q("page=51&size=20").paging(20).is_err());
        assert!(q("size=101").paging(20).is_err());
    }

    #[test]
    fn search_text_is_bounded_and_normalised() {
        assert_eq!(q("q=%20the%20%20matrix%20").text("q").unwrap().unwrap(), "the matrix");
        assert!(q(&format!("q={}", "a".repeat(201))).text("q").is_err());
        assert!(q(&format!("q={}", ["w"; 17].join("+"))).text("q").is_err());
        assert!(q(&format!("q={}", ["w"; 17].join("-"))).text("q").is_err(), "words as the analyzer cuts them");
        assert!(q("q=%00drop").text("q").is_err());
        assert!(q("q=%2A%3F%22").text("q").is_err(), "punctuation alone");
        assert_eq!(q("q=").text("q").unwrap(), None);
    }

    #[test]
    fn ids_are_checked() {
        assert_eq!(imdb_id("tconst", "tt0111161", "tt").unwrap(), "tt0111161");
        assert!(imdb_id("tconst", "xabc123", "tt").is_ok());
        for bad in ["nm0000001", "tt", "tt01x", "../etc", "tt0111161/_delete", "x", "xzz"] {
            assert!(imdb_id("tconst", bad, "tt").is_err(), "{bad}");
        }
        assert!(imdb_id("nconst", "nm0000151", "nm").is_ok());
        assert!(imdb_id("nconst", "xabc", "nm").is_err());
    }

    #[test]
    fn cursors_round_trip_and_forgeries_are_400() {
        let c = Cursor {
            sort: "rating".into(),
            fingerprint: "0123".into(),
            after: vec![serde_json::json!(8.5), serde_json::json!("tt1")],
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "!!", "e30", &URL_SAFE_NO_PAD.encode(r#"{"s":"x","a":[{"script":1}]}"#)] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}

//! From typed parameters to Elasticsearch request bodies: the title search
//! (relevance, filters, sorts, facets, highlight), suggestions and the
//! people search.
//!
//! How a title search ranks, for text `q`. A score is counted in decades
//! of votes: popularity adds `log10(1 + votes)` (0 to about 6.5), and each
//! text step adds a fixed amount, so a better text match is worth so many
//! times the votes, never everything:
//! - A title must match `q` in one of: its titles (primary, original,
//!   alternative; accents folded; in the fuzzy pass, primary and original
//!   titles with words of 5+ letters one edit away, two from 8 letters, the
//!   first letter exact), as you type (every word as the start of a title
//!   word, on the edge-n-gram field: prefixes of up to 20 letters), or the
//!   names of its directors, writers and top cast (all words).
//! - `q` is one of its titles, whole (folded): + `EXACT` (30x the votes).
//!   Primary, original or alternative title alike, counted once: a famous
//!   film known abroad by `q` is an exact match too.
//! - `q`'s words stand together in one of its titles: + `PHRASE` (10x).
//! - The text score itself (BM25: rarer words, shorter titles) is scaled to
//!   a fraction of a decade (`TEXT_WEIGHT`): it orders titles of about
//!   equal popularity and equal steps, and never outweighs a step.
//!
//! So equally good text matches come out by popularity ("godfather" -> The
//! Godfather, Part II, Part III), an exact title beats a partial one of up
//! to ~30x its votes, and a famous film beats an unknown exact title
//! ("amelie" -> the 2001 film, not a short with 6 votes). The steps are
//! constant scores: BM25 noise between fields and indexes cannot reorder
//! titles that match equally.
//!
//! Typo tolerance costs: a fuzzy word is an automaton run over the terms of
//! every index (per-genre indexes: ~30 of them), 5-10x the exact query. So
//! the API searches exactly first and searches again with fuzziness only
//! when the words match nothing (`routes.rs`: with filters, a count of the
//! words alone tells the words from the filters); correctly spelled
//! searches never pay for it.
//!
//! The cluster computes term statistics across all title indexes
//! (`search_type=dfs_query_then_fetch`, see `upstream.rs`), so a title in a
//! small genre index does not outscore a better match in a big one.

use imdb_model::fields::{person as pf, person_ref, title as tf};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::params::{self, Cursor, Query};

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Text relevance, then votes (votes alone without `q`).
    Relevance,
    /// Rating, highest first.
    Rating,
    /// Number of votes, highest first.
    Votes,
    /// Year, newest first.
    Year,
    /// Title, A to Z.
    Title,
}

impl Sort {
    /// The `sort=` names.
    pub const NAMES: [&'static str; 5] = ["relevance", "rating", "votes", "year", "title"];

    fn parse(text: &str) -> Result<Sort, ApiError> {
        Ok(match text {
            "relevance" => Sort::Relevance,
            "rating" => Sort::Rating,
            "votes" => Sort::Votes,
            "year" => Sort::Year,
            "title" => Sort::Title,
            other => {
                return Err(ApiError::invalid(
                    "sort",
                    format!("`{other}` is not a sort; known: {}", Sort::NAMES.join(", ")),
                ));
            }
        })
    }

    fn name(self) -> &'static str {
        Sort::NAMES[self as usize]
    }

    /// Sort clauses with the kind of value each yields; always ending in
    /// the unique `tconst`, so that paging by cursor never skips or repeats
    /// a title.
    fn keys(self, has_text: bool) -> Vec<(Value, Kind)> {
        // `unmapped_type`: an index created before a field existed sorts
        // its documents last instead of failing the search.
        let desc = |field: &str, ty: &str, kind| {
            (json!({field: {"order": "desc", "missing": "_last", "unmapped_type": ty}}), kind)
        };
        let votes = desc(tf::NUM_VOTES, "long", Kind::Integer);
        let id = (json!({tf::TCONST: {"order": "asc", "unmapped_type": "keyword"}}), Kind::Id);
        match self {
            Sort::Relevance if has_text => vec![(json!("_score"), Kind::Float), votes, id],
            Sort::Relevance | Sort::Votes => vec![votes, id],
            Sort::Rating => vec![desc(tf::AVERAGE_RATING, "float", Kind::Float), votes, id],
            Sort::Year => vec![desc(tf::START_YEAR, "short", Kind::Integer), votes, id],
            Sort::Title => {
                vec![(json!({tf::PRIMARY_TITLE_KEYWORD: {"order": "asc", "unmapped_type": "keyword"}}), Kind::Text), id]
            }
        }
    }

    fn clauses(self, has_text: bool) -> Value {
        Value::Array(self.keys(has_text).into_iter().map(|(clause, _)| clause).collect())
    }
}

/// What a sort value is, to check a cursor's values before they reach the
/// cluster (a wrong type there is a cluster error, not the user's).
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Scores and ratings: a number, or how a missing float sorts.
    Float,
    /// Votes and years: a 64-bit integer.
    Integer,
    /// A keyword, or null when missing.
    Text,
    /// The document id.
    Id,
}

impl Kind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Kind::Float => {
                value.is_number() || value.is_null() || matches!(value.as_str(), Some("Infinity" | "-Infinity"))
            }
            Kind::Integer => value.is_i64() || value.is_null(),
            Kind::Text => value.is_string() || value.is_null(),
            Kind::Id => value.is_string(),
        }
    }
}

/// A title search, validated.
#[derive(Debug, Clone)]
pub struct TitleSearch {
    /// Search text.
    pub text: Option<String>,
    /// Genre slugs; a title matches if it has any of them.
    pub genres: Vec<String>,
    /// Title types; any of them.
    pub types: Vec<&'static str>,
    /// First year, inclusive.
    pub year_from: Option<i64>,
    /// Last year, inclusive.
    pub year_to: Option<i64>,
    /// Lowest rating.
    pub rating_min: Option<f64>,
    /// Fewest votes.
    pub votes_min: Option<i64>,
    /// Include adult titles.
    pub adult: bool,
    /// Order.
    pub sort: Sort,
    /// Page number, from 1 (ignored with a cursor).
    pub page: u32,
    /// Hits per page.
    pub size: u32,
    /// Position to continue from.
    pub cursor: Option<Cursor>,
    /// Compute facets.
    pub facets: bool,
    /// Mark matched words in titles.
    pub highlight: bool,
}

impl TitleSearch {
    /// The parameters `GET /search` accepts.
    pub const PARAMS: [&'static str; 14] = [
        "q",
        "genre",
        "type",
        "year_from",
        "year_to",
        "rating_min",
        "votes_min",
        "adult",
        "sort",
        "page",
        "size",
        "cursor",
        "facets",
        "highlight",
    ];

    /// Reads and checks the parameters.
    pub fn from_query(query: &Query) -> Result<TitleSearch, ApiError> {
        let (page, size) = query.paging(20)?;
        let sort = query.one("sort")?.map_or(Ok(Sort::Relevance), Sort::parse)?;
        let cursor = query.one("cursor")?.map(Cursor::decode).transpose()?;
        let search = TitleSearch {
            text: query.text("q")?,
            genres: query.all("genre")?.iter().map(|g| params::genre(g)).collect::<Result<_, _>>()?,
            types: query.all("type")?.iter().map(|t| params::title_type(t)).collect::<Result<_, _>>()?,
            year_from: query.int("year_from", 1850, 2100)?,
            year_to: query.int("year_to", 1850, 2100)?,
            rating_min: query.number("rating_min", 0.0, 10.0)?,
            votes_min: query.int("votes_min", 0, 10_000_000_000)?,
            adult: query.boolean("adult")?.unwrap_or(false),
            sort,
            page,
            size,
            cursor,
            facets: query.boolean("facets")?.unwrap_or(true),
            highlight: query.boolean("highlight")?.unwrap_or(true),
        };
        if let Some(c) = &search.cursor {
            search.check_cursor(c)?;
        }
        if let (Some(from), Some(to)) = (search.year_from, search.year_to)
            && from > to
        {
            return Err(ApiError::invalid("year_to", format!("{to} is before year_from {from}")));
        }
        Ok(search)
    }

    /// A cursor continues the search it was made for: same sort, same text
    /// and filters, and values of the kinds that sort yields.
    fn check_cursor(&self, cursor: &Cursor) -> Result<(), ApiError> {
        if cursor.sort != self.sort.name() {
            return Err(ApiError::invalid(
                "cursor",
                format!("made for sort={}, not sort={}", cursor.sort, self.sort.name()),
            ));
        }
        if cursor.fingerprint != self.fingerprint() {
            return Err(ApiError::invalid("cursor", "made for another search text or other filters"));
        }
        let keys = self.sort.keys(self.text.is_some());
        let fits = keys.len() == cursor.after.len() && keys.iter().zip(&cursor.after).all(|((_, k), v)| k.accepts(v));
        if !fits {
            return Err(ApiError::invalid("cursor", "not a cursor this API returned (use `next_cursor` as given)"));
        }
        Ok(())
    }

    /// Identifies the text and filters (FNV-1a of their canonical form), so
    /// that a cursor is not reused for another search.
    fn fingerprint(&self) -> String {
        let mut genres = self.genres.clone();
        genres.sort();
        let mut types = self.types.clone();
        types.sort_unstable();
        let canonical = format!(
            "{:?}|{genres:?}|{types:?}|{:?}|{:?}|{:?}|{:?}|{}",
            self.text, self.year_from, self.year_to, self.rating_min, self.votes_min, self.adult
        );
        let hash =
            canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        format!("{hash:016x}")
    }

    /// Whether the user restricted the search beyond the text (adult titles
    /// aside, which are excluded by default).
    pub fn has_filters(&self) -> bool {
        !self.genres.is_empty()
            || !self.types.is_empty()
            || self.year_from.is_some()
            || self.year_to.is_some()
            || self.rating_min.is_some()
            || self.votes_min.is_some()
    }

    /// The text's query without the filters (exact words), to tell whether
    /// the words or the filters left a search empty.
    pub fn words_query(&self) -> Option<Value> {
        self.text.as_deref().map(|t| text_query(t, Vec::new(), false))
    }

    /// The `_search` body; `fuzzy` lets title words have typos.
    pub fn body(&self, fuzzy: bool) -> Value {
        let filters = self.filters();
        let query = match &self.text {
            Some(text) => text_query(text, filters, fuzzy),
            None => json!({"bool": {"filter": filters}}),
        };
        let mut body = json!({
            "query": query,
            "size": self.size,
            "sort": self.sort.clauses(self.text.is_some()),
            "track_total_hits": true,
            "_source": HIT_FIELDS,
        });
        match &self.cursor {
            Some(cursor) => body["search_after"] = json!(cursor.after),
            None => body["from"] = json!((self.page - 1) * self.size),
        }
        if self.text.is_some() && self.highlight {
            body["highlight"] = json!({
                "pre_tags": ["<em>"], "post_tags": ["</em>"], "number_of_fragments": 0,
                "fields": {tf::PRIMARY_TITLE: {}, tf::ORIGINAL_TITLE: {}}
            });
        }
        if self.facets {
            body["aggs"] = facets();
        }
        body
    }

    /// The cursor after a page whose last hit has these sort values.
    pub fn next_cursor(&self, last_sort: &[Value]) -> String {
        Cursor { sort: self.sort.name().to_owned(), fingerprint: self.fingerprint(), after: last_sort.to_vec() }
            .encode()
    }

    fn filters(&self) -> Vec<Value> {
        let mut filters = Vec::new();
        if !self.adult {
            filters.push(json!({"bool": {"must_not": {"term": {tf::IS_ADULT: true}}}}));
        }
        if !self.genres.is_empty() {
            filters.push(json!({"terms": {tf::GENRES: self.genres}}));
        }
        if !self.types.is_empty() {
            filters.push(json!({"terms": {tf::TITLE_TYPE: self.types}}));
        }
        if self.year_from.is_some() || self.year_to.is_some() {
            let mut range = json!({});
            if let Some(from) = self.year_from {
                range["gte"] = json!(from);
            }
            if let Some(to) = self.year_to {
                range["lte"] = json!(to);
            }
            filters.push(json!({"range": {tf::START_YEAR: range}}));
        }
        if let Some(rating) = self.rating_min {
            filters.push(json!({"range": {tf::AVERAGE_RATING: {"gte": rating}}}));
        }
        if let Some(votes) = self.votes_min {
            filters.push(json!({"range": {tf::NUM_VOTES: {"gte": votes}}}));
        }
        filters
    }
}

/// The source fields a hit needs: not alternative titles, writers or
/// episode details (the title page has those).
const HIT_FIELDS: [&str; 13] = [
    tf::TCONST,
    tf::TITLE_TYPE,
    tf::PRIMARY_TITLE,
    tf::ORIGINAL_TITLE,
    tf::IS_ADULT,
    tf::START_YEAR,
    tf::END_YEAR,
    tf::RUNTIME_MINUTES,
    tf::GENRES,
    tf::AVERAGE_RATING,
    tf::NUM_VOTES,
    tf::DIRECTORS,
    tf::CAST,
];

/// Score steps, in decades of votes (see the module docs).
const EXACT: f64 = 1.5;
const PHRASE: f64 = 1.0;
/// BM25 of the text clauses times this: a few tenths for typical titles.
const TEXT_WEIGHT: f64 = 0.01;

/// The title fields an exact or phrase match is looked for in.
const TITLE_TEXTS: [&str; 3] = [tf::PRIMARY_TITLE, tf::ORIGINAL_TITLE, tf::AKAS_TITLE];
const TITLE_KEYWORDS: [&str; 3] = [tf::PRIMARY_TITLE_KEYWORD, tf::ORIGINAL_TITLE_KEYWORD, tf::AKAS_TITLE_KEYWORD];

/// The relevance query for `text`, restricted by `filters`; with `fuzzy`,
/// title words may have typos.
fn text_query(text: &str, filters: Vec<Value>, fuzzy: bool) -> Value {
    // Typos are looked for in the main titles only: each fuzzy field costs
    // an automaton run per word and index.
    let mut titles = vec![format!("{}^3", tf::PRIMARY_TITLE), format!("{}^2", tf::ORIGINAL_TITLE)];
    if !fuzzy {
        titles.extend([tf::AKAS_TITLE.to_owned(), tf::PRIMARY_TITLE_ENGLISH.to_owned()]);
    }
    let mut words = json!({"multi_match": {"query": text, "type": "best_fields", "fields": titles, "operator": "and"}});
    if fuzzy {
        let m = &mut words["multi_match"];
        m["fuzziness"] = json!("AUTO:5,8");
        m["prefix_length"] = json!(1);
        m["max_expansions"] = json!(20);
    }
    let must = json!({"bool": {"minimum_should_match": 1, "boost": TEXT_WEIGHT, "should": [
        // Every word across the title fields.
        words,
        // As you type: each word a prefix of a title word (`lord of the ri`).
        {"match": {tf::PRIMARY_TITLE_AUTOCOMPLETE: {"query": text, "operator": "and", "boost": 0.5}}},
        // People: a director's or actor's full name finds their titles.
        {"multi_match": {"query": text, "type": "cross_fields", "operator": "and", "boost": 0.8,
                          "fields": [name_of(tf::DIRECTORS), format!("{}^0.5", name_of(tf::WRITERS)), name_of(tf::CAST)]}}
    ]}});
    let query = json!({"bool": {
        "must": [must],
        "should": steps(text, &TITLE_KEYWORDS, &TITLE_TEXTS),
        "filter": filters
    }});
    with_popularity(query, tf::NUM_VOTES)
}

/// The exact and phrase steps: `text` as a whole keyword in any of
/// `keywords`, its words together in any of `texts`; each a constant,
/// counted once however many fields match.
fn steps(text: &str, keywords: &[&str], texts: &[&str]) -> [Value; 2] {
    let any_of = |clauses: Vec<Value>, boost: f64| json!({"constant_score": {"filter": {"bool": {"should": clauses, "minimum_should_match": 1}}, "boost": boost}});
    let exact = keywords.iter().map(|f| json!({"match": {*f: {"query": text}}})).collect();
    let phrase = texts.iter().map(|f| json!({"match_phrase": {*f: {"query": text}}})).collect();
    [any_of(exact, EXACT), any_of(phrase, PHRASE)]
}

/// The name field of the people in `credits` (`directors.name`).
fn name_of(credits: &str) -> String {
    format!("{credits}.{}", person_ref::NAME)
}

/// `query`'s text score plus popularity, `log10(1 + field)`.
fn with_popularity(query: Value, field: &str) -> Value {
    json!({"function_score": {
        "query": query,
        "functions": [{"field_value_factor": {"field": field, "modifier": "log1p", "missing": 0}}],
        "score_mode": "sum",
        "boost_mode": "sum"
    }})
}

/// Genre and type counts, a decade histogram and rating bands.
fn facets() -> Value {
    json!({
        tf::GENRES: {"terms": {"field": tf::GENRES, "size": 40}},
        "types": {"terms": {"field": tf::TITLE_TYPE, "size": 20}},
        "decades": {"histogram": {"field": tf::START_YEAR, "interval": 10, "min_doc_count": 1}},
        "ratings": {"range": {"field": tf::AVERAGE_RATING, "ranges": [
            {"key": "0-5", "to": 5.0}, {"key": "5-6", "from": 5.0, "to": 6.0}, {"key": "6-7", "from": 6.0, "to": 7.0},
            {"key": "7-8", "from": 7.0, "to": 8.0}, {"key": "8-10", "from": 8.0}
        ]}}
    })
}

/// Title completions for the text typed so far: every word must be the
/// start of a title word; the most voted first.
pub fn suggest_titles(prefix: &str, size: u32) -> Value {
    json!({
        "size": size,
        "query": {"bool": {
            "must": {"match": {tf::PRIMARY_TITLE_AUTOCOMPLETE: {"query": prefix, "operator": "and"}}},
            "filter": {"bool": {"must_not": {"term": {tf::IS_ADULT: true}}}}
        }},
        "sort": [{tf::NUM_VOTES: {"order": "desc", "missing": "_last", "unmapped_type": "long"}}, {tf::TCONST: "asc"}],
        "_source": [tf::TCONST, tf::PRIMARY_TITLE, tf::START_YEAR, tf::TITLE_TYPE, tf::NUM_VOTES]
    })
}

/// People completions for a prefix, the most voted body of work first.
pub fn suggest_people(prefix: &str, size: u32) -> Value {
    json!({
        "size": size,
        "query": {"match": {pf::PRIMARY_NAME_AUTOCOMPLETE: {"query": prefix, "operator": "and"}}},
        "sort": [{pf::KNOWN_FOR_VOTES: {"order": "desc", "missing": "_last", "unmapped_type": "long"}}, {pf::NCONST: "asc"}],
        "_source": [pf::NCONST, pf::PRIMARY_NAME, pf::PROFESSIONS, pf::BIRTH_YEAR, pf::KNOWN_FOR_VOTES]
    })
}

/// A people search by name (fuzzy, folded; the last word may be a prefix),
/// optionally only people with `profession`; ranked as titles are (see the
/// module docs), popularity being the votes of what they are known for.
pub fn people_search(text: &str, profession: Option<&str>, from: u32, size: u32) -> Value {
    let mut filter = Vec::new();
    if let Some(p) = profession {
        filter.push(json!({"term": {pf::PROFESSIONS: p}}));
    }
    let query = json!({"bool": {
        "must": {"bool": {"minimum_should_match": 1, "boost": TEXT_WEIGHT, "should": [
            {"match": {pf::PRIMARY_NAME: {"query": text, "operator": "and", "fuzziness": "AUTO:5,8", "prefix_length": 1}}},
            {"match": {pf::PRIMARY_NAME_AUTOCOMPLETE: {"query": text, "operator": "and", "boost": 0.5}}}
        ]}},
        "should": steps(text, &[pf::PRIMARY_NAME_KEYWORD], &[pf::PRIMARY_NAME]),
        "filter": filter
    }});
    json!({
        "from": from,
        "size": size,
        "track_total_hits": true,
        "query": with_popularity(query, pf::KNOWN_FOR_VOTES),
        "sort": ["_score", {pf::NCONST: "asc"}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(raw: &str) -> Result<TitleSearch, ApiError> {
        TitleSearch::from_query(&Query::parse(raw, &TitleSearch::PARAMS)?)
    }

    fn walk(v: &Value, key: &str, hostile: &str) {
        match v {
            Value::String(s) if s.contains("script") => assert_eq!((key, s.as_str()), ("query", hostile)),
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                assert!(!k.contains("script"), "user text became a key");
                walk(v, k, hostile);
            }),
            Value::Array(a) => a.iter().for_each(|v| walk(v, key, hostile)),
            _ => {}
        }
    }

    #[test]
    fn user_text_only_ever_lands_in_query_strings() {
        let hostile = r#"{"script":{"source":"x"}} _all imdb-people/_delete"#;
        let body = search(&format!("q={}", form_urlencoded::byte_serialize(hostile.as_bytes()).collect::<String>()))
            .unwrap()
            .body(false);
        let text = body.to_string();
        // Present only as string values of `query` keys.
        walk(&body, "", hostile);
        assert!(text.contains("\"query\""));
    }

    #[test]
    fn only_the_fallback_pass_is_fuzzy() {
        let s = search("q=shawshenk+redemption").unwrap();
        assert!(!s.body(false).to_string().contains("fuzziness"));
        assert!(s.body(true).to_string().contains("\"fuzziness\":\"AUTO:5,8\""));
    }

    #[test]
    fn filters_are_built_from_typed_values() {
        let body =
            search("genre=Sci-Fi&genre=drama&type=movie&year_from=1990&year_to=1999&rating_min=7&votes_min=1000")
                .unwrap()
                .body(false);
        let filters = body["query"]["bool"]["filter"].as_array().unwrap();
        assert!(filters.contains(&json!({"terms": {"genres": ["sci-fi", "drama"]}})));
        assert!(filters.contains(&json!({"terms": {"title_type": ["movie"]}})));
        assert!(filters.contains(&json!({"range": {"start_year": {"gte": 1990, "lte": 1999}}})));
        assert!(filters.contains(&json!({"range": {"average_rating": {"gte": 7.0}}})));
        assert!(filters.contains(&json!({"bool": {"must_not": {"term": {"is_adult": true}}}})));
        let adult = search("adult=true").unwrap().body(false);
        assert_eq!(adult["query"]["bool"]["filter"], json!([]));
    }

    #[test]
    fn bad_combinations_are_refused() {
        assert!(search("year_from=2000&year_to=1990").is_err());
        assert!(search("sort=random").is_err());
        let rating = search("sort=rating").unwrap();
        let cursor = rating.next_cursor(&[json!(8.0), json!(1000), json!("tt1")]);
        assert!(search(&format!("sort=votes&cursor={cursor}")).is_err(), "cursor of another sort");
        assert!(search(&format!("sort=rating&genre=drama&cursor={cursor}")).is_err(), "cursor of other filters");
        let ok = search(&format!("sort=rating&cursor={cursor}")).unwrap().body(false);
        assert_eq!(ok["search_after"], json!([8.0, 1000, "tt1"]));
        // Well-formed, but not what this sort yields: caught here, not by the cluster.
        for after in [json!([8.0, "tt1"]), json!(["high", 1000, "tt1"]), json!([8.0, 1.5, "tt1"]), json!([8.0, 1, 2])] {
            let forged = rating.next_cursor(after.as_array().unwrap());
            assert!(search(&format!("sort=rating&cursor={forged}")).is_err(), "{after}");
        }
        let missing = rating.next_cursor(&[json!("-Infinity"), Value::Null, json!("tt1")]);
        assert!(search(&format!("sort=rating&cursor={missing}")).is_ok(), "missing values sort last");
        let with_text = search("q=matrix").unwrap().next_cursor(&[json!(3.5), json!(10), json!("tt1")]);
        assert!(search(&format!("cursor={with_text}")).is_err(), "cursor of another text");
        assert!(ok.get("from").is_none());
    }

    #[test]
    fn paging_and_sorts_end_in_a_unique_key() {
        let body = search("q=matrix&page=3&size=10").unwrap().body(false);
        assert_eq!(body["from"], 20);
        assert_eq!(body["size"], 10);
        for sort in Sort::NAMES {
            let body = search(&format!("sort={sort}")).unwrap().body(false);
            let last = body["sort"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last, json!({"tconst": {"order": "asc", "unmapped_type": "keyword"}}), "{sort}");
        }
    }
}

//! `query_string`, `simple_query_string` and the `q=` URL parameter: a
//! small query language over the DSL's own queries.
//!
//! Supported: words, `"phrases"` (with `~slop`), `field:value`,
//! `field:"phrase"`, wildcards (`hea*`, `h?at`), fuzzy words (`heat~1`),
//! boosts (`heat^2`), `+must`, `-must_not`, `NOT`/`!`, `AND`/`&&`,
//! `OR`/`||`, `|` (simple syntax), parentheses, and ranges
//! (`year:[1990 TO 1999]`, `year:{* TO 2000}`, `votes:>=1000`). Bare
//! words search `default_field`/`fields` (every text field by default).
//! `simple_query_string` never fails on syntax: what it cannot read it
//! searches as words.

use serde_json::{Value, json};

use super::match_query::MatchOptions;
use super::multi_match::field_boost;
use super::{
    BoolQuery, Compiled, Cx, MatchPhraseQuery, MultiMatchQuery, Params, Query, RangeQuery, WildcardQuery, boosted,
};
use crate::error::EsError;

/// A `query_string` or `simple_query_string` query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryStringQuery {
    /// The query text.
    pub query: String,
    /// Fields bare words search, with boosts.
    pub fields: Vec<(String, f32)>,
    /// `AND` or `OR` between clauses without an operator.
    pub default_and: bool,
    /// Analyzer for words.
    pub analyzer: Option<String>,
    /// Simple syntax: never a syntax error.
    pub simple: bool,
    /// Score multiplier.
    pub boost: f32,
}

const PARAMS: [&str; 17] = [
    "query",
    "default_field",
    "fields",
    "default_operator",
    "analyzer",
    "lenient",
    "boost",
    "_name",
    "allow_leading_wildcard",
    "analyze_wildcard",
    "flags",
    "fuzziness",
    "minimum_should_match",
    "auto_generate_synonyms_phrase_query",
    "quote_field_suffix",
    "phrase_slop",
    "escape",
];

impl QueryStringQuery {
    pub(super) fn parse(body: &Value, simple: bool) -> Result<QueryStringQuery, EsError> {
        let kind = if simple { "simple_query_string" } else { "query_string" };
        let p = Params::new(kind, body, &PARAMS)?;
        let query =
            p.string("query").ok_or_else(|| EsError::parsing(format!("[{kind}] must be provided with a [query]")))?;
        let mut fields = match p.get("fields") {
            Some(Value::Array(a)) => {
                a.iter().map(|f| field_boost(&crate::util::plain(f))).collect::<Result<Vec<_>, _>>()?
            }
            _ => Vec::new(),
        };
        if let Some(default) = p.string("default_field") {
            fields.push(field_boost(&default)?);
        }
        let default_and = match p.string("default_operator").map(|o| o.to_lowercase()) {
            Some(o) if o == "and" => true,
            Some(o) if o == "or" => false,
            None => false,
            Some(o) => return Err(EsError::parsing(format!("[{kind}] unknown default_operator [{o}]"))),
        };
        Ok(QueryStringQuery {
            query,
            fields,
            default_and,
            analyzer: p.string("analyzer"),
            simple,
            boost: p.f32("boost", 1.0)?,
        })
    }

    /// The `q=` parameter of `_search` and `_count`.
    pub fn from_url(
        q: &str,
        default_field: Option<&str>,
        default_and: bool,
        analyzer: Option<&str>,
    ) -> QueryStringQuery {
        QueryStringQuery {
            query: q.to_owned(),
            fields: default_field.map(|f| vec![(f.to_owned(), 1.0)]).unwrap_or_default(),
            default_and,
            analyzer: analyzer.map(str::to_owned),
            simple: false,
            boost: 1.0,
        }
    }

    pub(super) fn compile(&self, cx: Cx) -> Result<Compiled, EsError> {
        let tokens = lex(&self.query);
        let mut parser = Parser { tokens: &tokens, at: 0, q: self };
        let query = match parser.query(0) {
            Ok(q) if parser.at == tokens.len() => q,
            Ok(_) if !self.simple => return Err(self.syntax_error("unbalanced parentheses")),
            Err(e) if !self.simple => return Err(e),
            // The simple syntax searches whatever it could not read as words.
            _ => self.words(&self.query, false),
        };
        Ok(boosted(query.compile(cx)?, self.boost))
    }

    fn syntax_error(&self, why: &str) -> EsError {
        EsError::parsing(format!("Failed to parse query [{}]: {why}", self.query))
    }

    fn fields(&self) -> Vec<(String, f32)> {
        if self.fields.is_empty() { vec![("*".to_owned(), 1.0)] } else { self.fields.clone() }
    }

    /// Words searched in the default fields.
    fn words(&self, text: &str, all: bool) -> Query {
        Query::MultiMatch(MultiMatchQuery {
            query: json!(text),
            fields: self.fields(),
            kind: super::multi_match::MultiMatchType::BestFields,
            options: MatchOptions {
                and: all,
                lenient: true,
                analyzer: self.analyzer.clone(),
                ..MatchOptions::default()
            },
            tie_breaker: None,
            slop: 0,
            max_expansions: 50,
            boost: 1.0,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Phrase(String),
    Open,
    Close,
    And,
    Or,
    Not,
    Must,
    MustNot,
    Colon,
    Range(String),
    Modifier(char, String),
}

fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word_end = |c: char| c.is_whitespace() || "()\":^~".contains(c);
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ':' => {
                out.push(Token::Colon);
                i += 1;
            }
            '"' => {
                let end = chars[i + 1..].iter().position(|&c| c == '"').map_or(chars.len(), |p| i + 1 + p);
                out.push(Token::Phrase(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '[' | '{' => {
                let close = if c == '[' { [']', '}'] } else { ['}', ']'] };
                let end = chars[i..].iter().position(|x| close.contains(x)).map_or(chars.len() - 1, |p| i + p);
                out.push(Token::Range(chars[i..=end.min(chars.len() - 1)].iter().collect()));
                i = end + 1;
            }
            '^' | '~' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_ascii_digit() || chars[end] == '.') {
                    end += 1;
                }
                out.push(Token::Modifier(c, chars[start..end].iter().collect()));
                i = end;
            }
            '+' => {
                out.push(Token::Must);
                i += 1;
            }
            '-' | '!' => {
                out.push(if c == '-' { Token::MustNot } else { Token::Not });
                i += 1;
            }
            '|' => {
                out.push(Token::Or);
                i += if chars.get(i + 1) == Some(&'|') { 2 } else { 1 };
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Token::And);
                i += 2;
            }
            _ => {
                let mut end = i;
                while end < chars.len() && !word_end(chars[end]) {
                    if chars[end] == '\\' {
                        end += 1;
                    }
                    end += 1;
                }
                let word: String = chars[i..end.min(chars.len())].iter().filter(|&&c| c != '\\').collect();
                out.push(match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => Token::Word(word),
                });
                i = end;
            }
        }
    }
    out
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    q: &'a QueryStringQuery,
}

#[derive(Clone, Copy, PartialEq)]
enum Occur {
    Default,
    Must,
    Should,
    MustNot,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    /// Clauses until a closing parenthesis or the end.
    fn query(&mut self, depth: usize) -> Result<Query, EsError> {
        let mut clauses: Vec<(Occur, Query)> = Vec::new();
        let mut pending = Occur::Default;
        while let Some(token) = self.peek() {
            match token {
                Token::Close if depth > 0 => break,
                Token::Close => return Err(self.q.syntax_error("unexpected ')'")),
                Token::And => {
                    self.at += 1;
                    if let Some(last) = clauses.last_mut()
                        && last.0 == Occur::Default
                    {
                        last.0 = Occur::Must;
                    }
                    pending = Occur::Must;
                }
                Token::Or => {
                    self.at += 1;
                    if let Some(last) = clauses.last_mut()
                        && last.0 == Occur::Default
                    {
                        last.0 = Occur::Should;
                    }
                    pending = Occur::Should;
                }
                _ => {
                    let (occur, clause) = self.clause()?;
                    let occur = if occur == Occur::Default { pending } else { occur };
                    clauses.push((occur, clause));
                    pending = Occur::Default;
                }
            }
        }
        let default = if self.q.default_and { Occur::Must } else { Occur::Should };
        let mut bool_query = BoolQuery { boost: 1.0, ..BoolQuery::default() };
        for (occur, clause) in clauses {
            match if occur == Occur::Default { default } else { occur } {
                Occur::Must => bool_query.must.push(clause),
                Occur::MustNot => bool_query.must_not.push(clause),
                _ => bool_query.should.push(clause),
            }
        }
        if bool_query.must.is_empty() && bool_query.must_not.is_empty() && bool_query.should.len() == 1 {
            return Ok(bool_query.should.pop().expect("one"));
        }
        if bool_query.must.is_empty() && bool_query.should.is_empty() && bool_query.must_not.is_empty() {
            return Ok(Query::MatchNone);
        }
        Ok(Query::Bool(bool_query))
    }

    fn clause(&mut self) -> Result<(Occur, Query), EsError> {
        let occur = match self.peek() {
            Some(Token::Must) => Occur::Must,
            Some(Token::MustNot | Token::Not) => Occur::MustNot,
            _ => Occur::Default,
        };
        if occur != Occur::Default {
            self.at += 1;
        }
        let mut query = self.atom(None)?;
        while let Some(Token::Modifier('^', boost)) = self.peek() {
            let boost: f32 = boost.parse().unwrap_or(1.0);
            self.at += 1;
            query = Query::Bool(BoolQuery { must: vec![query], boost, ..BoolQuery::default() });
        }
        Ok((occur, query))
    }

    fn atom(&mut self, field: Option<String>) -> Result<Query, EsError> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.query(1)?;
                if self.next() != Some(Token::Close) {
                    return Err(self.q.syntax_error("missing ')'"));
                }
                Ok(inner)
            }
            Some(Token::Word(w)) if field.is_none() && self.peek() == Some(&Token::Colon) => {
                self.at += 1;
                self.atom(Some(w))
            }
            Some(Token::Word(w)) => Ok(self.word(field, &w)),
            Some(Token::Phrase(p)) => {
                let slop = match self.peek() {
                    Some(Token::Modifier('~', n)) => {
                        let n = n.parse().unwrap_or(0);
                        self.at += 1;
                        n
                    }
                    _ => 0,
                };
                Ok(self.phrase(field, &p, slop))
            }
            Some(Token::Range(r)) => self.range(field, &r),
            other => Err(self.q.syntax_error(&format!("unexpected {other:?}"))),
        }
    }

    fn targets(&self, field: Option<String>) -> Vec<(String, f32)> {
        match field {
            Some(f) => vec![(f, 1.0)],
            None => self.q.fields(),
        }
    }

    fn any_of(queries: Vec<Query>) -> Query {
        if queries.len() == 1 {
            return queries.into_iter().next().expect("one");
        }
        Query::Bool(BoolQuery { should: queries, boost: 1.0, ..BoolQuery::default() })
    }

    fn word(&mut self, field: Option<String>, word: &str) -> Query {
        if let Some(rest) = word
            .strip_prefix(">=")
            .or_else(|| word.strip_prefix('>'))
            .or_else(|| word.strip_prefix("<="))
            .or_else(|| word.strip_prefix('<'))
            && let Some(field) = &field
        {
            let inclusive = word.as_bytes().get(1) == Some(&b'=');
            let bound = Some((json!(rest), inclusive));
            let (lower, upper) = if word.starts_with('>') { (bound, None) } else { (None, bound) };
            return Query::Range(RangeQuery { field: field.clone(), lower, upper, format: None, boost: 1.0 });
        }
        if word.contains(['*', '?']) {
            let queries = self
                .targets(field)
                .into_iter()
                .map(|(f, b)| {
                    Query::Wildcard(WildcardQuery {
                        field: f,
                        value: word.to_owned(),
                        boost: b,
                        case_insensitive: false,
                    })
                })
                .collect();
            return Self::any_of(queries);
        }
        let fuzziness = match self.peek() {
            Some(Token::Modifier('~', n)) => {
                let n = if n.is_empty() { "AUTO".to_owned() } else { n.clone() };
                self.at += 1;
                Some(n)
            }
            _ => None,
        };
        Query::MultiMatch(MultiMatchQuery {
            query: json!(word),
            fields: self.targets(field),
            kind: super::multi_match::MultiMatchType::BestFields,
            options: MatchOptions {
                fuzziness,
                lenient: true,
                analyzer: self.q.analyzer.clone(),
                and: true,
                ..MatchOptions::default()
            },
            tie_breaker: None,
            slop: 0,
            max_expansions: 50,
            boost: 1.0,
        })
    }

    fn phrase(&self, field: Option<String>, text: &str, slop: u32) -> Query {
        let queries = self
            .targets(field)
            .into_iter()
            .map(|(f, b)| {
                Query::MatchPhrase(MatchPhraseQuery {
                    field: f,
                    query: text.to_owned(),
                    slop,
                    prefix: false,
                    max_expansions: 50,
                    analyzer: self.q.analyzer.clone(),
                    zero_terms_all: false,
                    boost: b,
                })
            })
            .collect::<Vec<_>>();
        // `*` expands at compile time: a multi_match of type phrase does it.
        if queries.len() == 1
            && let Query::MatchPhrase(p) = &queries[0]
            && p.field.contains('*')
        {
            return Query::MultiMatch(MultiMatchQuery {
                query: json!(text),
                fields: vec![(p.field.clone(), 1.0)],
                kind: super::multi_match::MultiMatchType::Phrase,
                options: MatchOptions { lenient: true, ..MatchOptions::default() },
                tie_breaker: None,
                slop,
                max_expansions: 50,
                boost: 1.0,
            });
        }
        Self::any_of(queries)
    }

    fn range(&self, field: Option<String>, text: &str) -> Result<Query, EsError> {
        let field = field.ok_or_else(|| self.q.syntax_error("a range needs a field"))?;
        let lower_inclusive = text.starts_with('[');
        let upper_inclusive = text.ends_with(']');
        let inner = &text[1..text.len().saturating_sub(1).max(1)];
        let (a, b) = inner.split_once(" TO ").ok_or_else(|| self.q.syntax_error("a range is [a TO b]"))?;
        let bound = |v: &str, inc: bool| (v.trim() != "*").then(|| (json!(v.trim()), inc));
        Ok(Query::Range(RangeQuery {
            field,
            lower: bound(a, lower_inclusive),
            upper: bound(b, upper_inclusive),
            format: None,
            boost: 1.0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexing() {
        let t = lex("title:\"the matrix\"~2 +year:[1990 TO 1999] -genre:horror heat* OR alien^2");
        assert_eq!(t[0], Token::Word("title".into()));
        assert_eq!(t[2], Token::Phrase("the matrix".into()));
        assert_eq!(t[3], Token::Modifier('~', "2".into()));
        assert!(t.contains(&Token::Range("[1990 TO 1999]".into())));
        assert!(t.contains(&Token::MustNot));
        assert!(t.contains(&Token::Or));
        assert_eq!(t.last(), Some(&Token::Modifier('^', "2".into())));
    }
}

//! Analyzers and normalizers: Elasticsearch's built-in analyzers and the
//! custom ones an index defines in `settings.analysis`, built as tantivy
//! text analyzers.
//!
//! Supported: tokenizers `standard`, `letter`, `lowercase`, `whitespace`,
//! `keyword`, `edge_ngram`, `ngram`; token filters `lowercase`,
//! `asciifolding`, `stop`, `stemmer` / `porter_stem` / `snowball`,
//! `edge_ngram`, `length`, `trim`, `elision`; built-in analyzers `standard`, `simple`,
//! `whitespace`, `keyword`, `stop`, `english` and the other stemming
//! languages tantivy knows. Anything else is refused when the index is
//! created, by name. The `standard` tokenizer splits on every character
//! that is not a letter or digit (Unicode-aware), a close approximation of
//! Lucene's UAX#29 segmentation for the titles and names indexed here
//! (one difference: Lucene keeps `d'amélie` as one token, which `elision`
//! then turns into `amélie`; here it is `d`, `amélie` either way).

use std::collections::BTreeMap;

use serde_json::Value;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer, TextAnalyzerBuilder, Token, TokenFilter, TokenStream, Tokenizer, WhitespaceTokenizer,
};

use crate::error::EsError;

/// Elasticsearch's `max_token_length` of the standard tokenizer.
const MAX_TOKEN_LENGTH: usize = 255;

/// Built-in analyzer names.
pub const BUILT_IN: [&str; 6] = ["standard", "simple", "whitespace", "keyword", "stop", "english"];

/// The analyzers and normalizers of one index.
#[derive(Clone)]
pub struct Analyzers {
    analyzers: BTreeMap<String, TextAnalyzer>,
    normalizers: BTreeMap<String, TextAnalyzer>,
}

impl std::fmt::Debug for Analyzers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzers")
            .field("analyzers", &self.analyzers.keys().collect::<Vec<_>>())
            .field("normalizers", &self.normalizers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn language(name: &str) -> Option<Language> {
    Some(match name {
        "english" | "light_english" | "minimal_english" | "porter" | "porter2" | "possessive_english" => {
            Language::English
        }
        "arabic" => Language::Arabic,
        "danish" => Language::Danish,
        "dutch" => Language::Dutch,
        "finnish" => Language::Finnish,
        "french" | "light_french" | "minimal_french" => Language::French,
        "german" | "light_german" | "minimal_german" | "german2" => Language::German,
        "greek" => Language::Greek,
        "hungarian" => Language::Hungarian,
        "italian" | "light_italian" => Language::Italian,
        "norwegian" => Language::Norwegian,
        "portuguese" | "light_portuguese" => Language::Portuguese,
        "romanian" => Language::Romanian,
        "russian" | "light_russian" => Language::Russian,
        "spanish" | "light_spanish" => Language::Spanish,
        "swedish" => Language::Swedish,
        "turkish" => Language::Turkish,
        _ => return None,
    })
}

/// Longest prefix indexed for as-you-type search.
pub const MAX_PREFIX: usize = 20;

/// The tokenizer name of the prefix field of a text field analysed by
/// `analyzer`.
pub fn prefix_tokenizer(analyzer: &str) -> String {
    format!("{analyzer}__prefix")
}

/// The edge-n-gram filter of prefix fields.
pub fn prefix_filter() -> EdgeNgram {
    EdgeNgram { min: 1, max: MAX_PREFIX }
}

fn standard() -> TextAnalyzerBuilder {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .dynamic()
        .filter_dynamic(RemoveLongFilter::limit(MAX_TOKEN_LENGTH + 1))
}

/// Builds an analyzer, or its as-you-type variant: the same chain
/// followed by edge n-grams of each token (the `<name>__prefix` analyzer of
/// `index_prefixes` fields).
fn finish(builder: TextAnalyzerBuilder, prefix: bool) -> TextAnalyzer {
    if prefix { builder.filter_dynamic(prefix_filter()).build() } else { builder.build() }
}

fn built_in(name: &str, prefix: bool) -> Option<TextAnalyzer> {
    let builder = match name {
        "standard" | "simple" => standard().filter_dynamic(LowerCaser),
        "whitespace" => TextAnalyzer::builder(WhitespaceTokenizer::default()).dynamic(),
        "keyword" => TextAnalyzer::builder(RawTokenizer::default()).dynamic(),
        "stop" => standard()
            .filter_dynamic(LowerCaser)
            .filter_dynamic(StopWordFilter::new(Language::English).expect("english stop words")),
        other => {
            let lang = language(other).filter(|_| !other.contains('_') && other != "porter")?;
            let mut builder = standard().filter_dynamic(LowerCaser);
            if let Some(stop) = StopWordFilter::new(lang) {
                builder = builder.filter_dynamic(stop);
            }
            builder.filter_dynamic(Stemmer::new(lang))
        }
    };
    Some(finish(builder, prefix))
}

/// `analysis.<kind>.<name>` definitions, nested back from the flat settings.
fn definitions(settings: &BTreeMap<String, Value>, kind: &str) -> BTreeMap<String, serde_json::Map<String, Value>> {
    let prefix = format!("analysis.{kind}.");
    let mut out: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (key, value) in settings {
        if let Some(rest) = key.strip_prefix(&prefix)
            && let Some((name, param)) = rest.split_once('.')
        {
            out.entry(name.to_owned()).or_default().insert(param.to_owned(), value.clone());
        }
    }
    out
}

fn param_usize(def: &serde_json::Map<String, Value>, key: &str, default: usize) -> usize {
    def.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .map_or(default, |n| n as usize)
}

fn names(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

struct Builder<'a> {
    filters: BTreeMap<String, serde_json::Map<String, Value>>,
    tokenizers: BTreeMap<String, serde_json::Map<String, Value>>,
    context: &'a str,
}

impl Builder<'_> {
    fn tokenizer(&self, name: &str) -> Result<(TextAnalyzerBuilder, Option<(usize, usize)>), EsError> {
        let (kind, def) = match self.tokenizers.get(name) {
            Some(def) => (def.get("type").and_then(Value::as_str).unwrap_or(""), Some(def)),
            None => (name, None),
        };
        let grams = |min, max| {
            let def = def.cloned().unwrap_or_default();
            (param_usize(&def, "min_gram", min), param_usize(&def, "max_gram", max))
        };
        Ok(match kind {
            "standard" | "letter" | "classic" | "uax_url_email" => (standard(), None),
            "lowercase" => (standard().filter_dynamic(LowerCaser), None),
            "whitespace" => (TextAnalyzer::builder(WhitespaceTokenizer::default()).dynamic(), None),
            "keyword" => (TextAnalyzer::builder(RawTokenizer::default()).dynamic(), None),
            // Edge n-grams of each word: `token_chars` letters and digits.
            "edge_ngram" => (standard(), Some(grams(1, 2))),
            _ => {
                return Err(EsError::illegal_argument(format!(
                    "failed to find tokenizer under name [{name}] ({})",
                    self.context
                )));
            }
        })
    }

    fn filter(&self, mut builder: TextAnalyzerBuilder, name: &str) -> Result<TextAnalyzerBuilder, EsError> {
        let def = self.filters.get(name);
        let kind = def.and_then(|d| d.get("type")).and_then(Value::as_str).unwrap_or(name);
        let empty = serde_json::Map::new();
        let def = def.unwrap_or(&empty);
        builder = match kind {
            "lowercase" => builder.filter_dynamic(LowerCaser),
            "asciifolding" => builder.filter_dynamic(AsciiFoldingFilter),
            "trim" => builder,
            "stop" => match stop_words(def.get("stopwords"), self.context)? {
                Some(words) => builder.filter_dynamic(words),
                None => builder,
            },
            "stemmer" | "porter_stem" | "snowball" | "kstem" => {
                let lang_name =
                    def.get("language").or_else(|| def.get("name")).and_then(Value::as_str).unwrap_or("english");
                let lang = language(&lang_name.to_lowercase()).ok_or_else(|| {
                    EsError::illegal_argument(format!("unknown stemmer language [{lang_name}] ({})", self.context))
                })?;
                builder.filter_dynamic(Stemmer::new(lang))
            }
            "edge_ngram" | "edgeNGram" => builder.filter_dynamic(EdgeNgram {
                min: param_usize(def, "min_gram", 1),
                max: param_usize(def, "max_gram", 2),
            }),
            "length" => builder.filter_dynamic(RemoveLongFilter::limit(param_usize(def, "max", usize::MAX - 1) + 1)),
            "elision" => builder.filter_dynamic(Elision {
                articles: match def.get("articles") {
                    Some(a) => names(Some(a)),
                    None => FRENCH_ELISIONS.iter().map(|a| (*a).to_owned()).collect(),
                },
                ignore_case: matches!(def.get("articles_case"), Some(v) if v == true || v == "true"),
            }),
            _ => {
                return Err(EsError::illegal_argument(format!(
                    "failed to find filter under name [{name}] ({})",
                    self.context
                )));
            }
        };
        Ok(builder)
    }

    fn custom(
        &self,
        def: &serde_json::Map<String, Value>,
        default_tokenizer: &str,
        prefix: bool,
    ) -> Result<TextAnalyzer, EsError> {
        let tokenizer = def.get("tokenizer").and_then(Value::as_str).unwrap_or(default_tokenizer);
        let (mut builder, grams) = self.tokenizer(tokenizer)?;
        for filter in names(def.get("filter")) {
            builder = self.filter(builder, &filter)?;
        }
        if let Some((min, max)) = grams {
            builder = builder.filter_dynamic(EdgeNgram { min, max });
        }
        Ok(finish(builder, prefix))
    }
}

impl Builder<'_> {
    fn analyzer(
        &self,
        name: &str,
        def: &serde_json::Map<String, Value>,
        prefix: bool,
    ) -> Result<TextAnalyzer, EsError> {
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("custom");
        if kind == "custom" {
            return self.custom(def, "standard", prefix);
        }
        let base = built_in(kind, prefix)
            .ok_or_else(|| EsError::illegal_argument(format!("Unknown analyzer type [{kind}] for [{name}]")))?;
        // A built-in type with its own stop words: standard, lower-cased, those words.
        let Some(words) = def.get("stopwords") else { return Ok(base) };
        let mut builder = standard().filter_dynamic(LowerCaser);
        if let Some(stop) = stop_words(Some(words), self.context)? {
            builder = builder.filter_dynamic(stop);
        }
        Ok(finish(builder, prefix))
    }
}

impl Analyzers {
    /// Builds the built-in analyzers and those `settings` define (flat
    /// settings as kept in the index metadata).
    pub fn from_settings(settings: &BTreeMap<String, Value>) -> Result<Analyzers, EsError> {
        let mut analyzers = BTreeMap::new();
        for prefix in [false, true] {
            let suffix = if prefix { "__prefix" } else { "" };
            for name in BUILT_IN {
                analyzers.insert(format!("{name}{suffix}"), built_in(name, prefix).expect("built-in"));
            }
        }
        let builder = Builder {
            filters: definitions(settings, "filter"),
            tokenizers: definitions(settings, "tokenizer"),
            context: "index settings",
        };
        for (name, def) in definitions(settings, "analyzer") {
            for prefix in [false, true] {
                let analyzer = builder.analyzer(&name, &def, prefix)?;
                analyzers.insert(if prefix { format!("{name}__prefix") } else { name.clone() }, analyzer);
            }
        }
        let mut normalizers = BTreeMap::new();
        normalizers
            .insert("lowercase".to_owned(), TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build());
        for (name, def) in definitions(settings, "normalizer") {
            normalizers.insert(name, builder.custom(&def, "keyword", false)?);
        }
        Ok(Analyzers { analyzers, normalizers })
    }

    /// The analyzer of that name, or an Elasticsearch-style error.
    /// `default` is the index's `default` analyzer, else `standard`.
    pub fn analyzer(&self, name: &str) -> Result<&TextAnalyzer, EsError> {
        let name = if name == "default" && !self.analyzers.contains_key("default") { "standard" } else { name };
        self.analyzers
            .get(name)
            .or_else(|| self.analyzers.get(name.trim()))
            .ok_or_else(|| EsError::mapper_parsing(format!("analyzer [{name}] has not been configured in mappings")))
    }

    /// Whether a normalizer of that name exists.
    pub fn has_normalizer(&self, name: &str) -> bool {
        self.normalizers.contains_key(name)
    }

    /// Every analyzer by name, to register with a tantivy index.
    pub fn all(&self) -> impl Iterator<Item = (&String, &TextAnalyzer)> {
        self.analyzers.iter()
    }

    /// The tokens of `text` under an analyzer.
    pub fn tokens(&self, analyzer: &str, text: &str) -> Result<Vec<Token>, EsError> {
        let mut analyzer = self.analyzer(analyzer)?.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().clone());
        }
        Ok(out)
    }

    /// A keyword value under a normalizer (unchanged without one).
    pub fn normalize(&self, normalizer: Option<&str>, value: &str) -> String {
        let Some(mut analyzer) = normalizer.and_then(|n| self.normalizers.get(n)).cloned() else {
            return value.to_owned();
        };
        let mut stream = analyzer.token_stream(value);
        let mut out = String::new();
        while stream.advance() {
            out.push_str(&stream.token().text);
        }
        out
    }
}

/// A stop filter from a `stopwords` parameter: `_english_`-style lists, a
/// list of words, `_none_` (no filter); English when absent.
fn stop_words(value: Option<&Value>, context: &str) -> Result<Option<StopWordFilter>, EsError> {
    let words = match value {
        None => StopWordFilter::new(Language::English),
        Some(Value::String(s)) if s == "_none_" => return Ok(None),
        Some(Value::String(s)) if s.starts_with('_') && s.ends_with('_') && s.len() > 2 => {
            language(&s[1..s.len() - 1]).and_then(StopWordFilter::new)
        }
        Some(v) => Some(StopWordFilter::remove(names(Some(v)).into_iter().map(|w| w.to_lowercase()))),
    };
    words.map(Some).ok_or_else(|| {
        EsError::illegal_argument(format!(
            "unknown stopwords [{}] ({context})",
            value.map(crate::util::plain).unwrap_or_default()
        ))
    })
}

/// Token filter: every token becomes its prefixes of `min..=max`
/// characters, all at the token's position (Elasticsearch's `edge_ngram`
/// filter, the usual base of as-you-type search).
#[derive(Clone, Debug)]
pub struct EdgeNgram {
    /// Shortest prefix, in characters.
    pub min: usize,
    /// Longest prefix, in characters.
    pub max: usize,
}

impl TokenFilter for EdgeNgram {
    type Tokenizer<T: Tokenizer> = EdgeNgramTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> EdgeNgramTokenizer<T> {
        EdgeNgramTokenizer { inner: tokenizer, min: self.min.max(1), max: self.max.max(self.min.max(1)) }
    }
}

/// The tokenizer [`EdgeNgram`] wraps around its input.
#[derive(Clone, Debug)]
pub struct EdgeNgramTokenizer<T> {
    inner: T,
    min: usize,
    max: usize,
}

impl<T: Tokenizer> Tokenizer for EdgeNgramTokenizer<T> {
    type TokenStream<'a> = EdgeNgramStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        EdgeNgramStream {
            inner: self.inner.token_stream(text),
            min: self.min,
            max: self.max,
            word: Vec::new(),
            next_len: usize::MAX,
            token: Token::default(),
        }
    }
}

/// The stream of [`EdgeNgramTokenizer`].
#[derive(Debug)]
pub struct EdgeNgramStream<S> {
    inner: S,
    min: usize,
    max: usize,
    /// Byte offsets of the current word's character boundaries.
    word: Vec<usize>,
    next_len: usize,
    token: Token,
}

impl<S: TokenStream> TokenStream for EdgeNgramStream<S> {
    fn advance(&mut self) -> bool {
        loop {
            if self.next_len <= self.max.min(self.word.len().saturating_sub(1)) {
                let end = self.word[self.next_len];
                let source = self.inner.token();
                self.token.text.clear();
                self.token.text.push_str(&source.text[..end]);
                self.token.position = source.position;
                self.token.offset_from = source.offset_from;
                self.token.offset_to = source.offset_to;
                self.next_len += 1;
                return true;
            }
            if !self.inner.advance() {
                return false;
            }
            let text = &self.inner.token().text;
            self.word.clear();
            self.word.extend(text.char_indices().map(|(i, _)| i));
            self.word.push(text.len());
            self.next_len = self.min;
        }
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Lucene's default articles of the `elision` filter (French).
const FRENCH_ELISIONS: [&str; 13] =
    ["l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu"];

/// Lucene's `ElisionFilter`: a token starting with one of `articles` and an
/// apostrophe (`'` or `’`) loses both (`l'avion` -> `avion`).
#[derive(Clone, Debug)]
pub struct Elision {
    articles: Vec<String>,
    /// `articles_case: true`: articles match whatever their case.
    ignore_case: bool,
}

impl Elision {
    /// Where the token's text starts once its article is removed.
    fn start(&self, text: &str) -> Option<usize> {
        let (at, apostrophe) = text.char_indices().find(|(_, c)| matches!(c, '\'' | '\u{2019}'))?;
        let article = &text[..at];
        let known =
            self.articles.iter().any(|a| if self.ignore_case { a.eq_ignore_ascii_case(article) } else { a == article });
        known.then_some(at + apostrophe.len_utf8())
    }
}

impl TokenFilter for Elision {
    type Tokenizer<T: Tokenizer> = ElisionTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> ElisionTokenizer<T> {
        ElisionTokenizer { inner: tokenizer, elision: self }
    }
}

/// The tokenizer [`Elision`] wraps around its input.
#[derive(Clone, Debug)]
pub struct ElisionTokenizer<T> {
    inner: T,
    elision: Elision,
}

impl<T: Tokenizer> Tokenizer for ElisionTokenizer<T> {
    type TokenStream<'a> = ElisionStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        ElisionStream { inner: self.inner.token_stream(text), elision: &self.elision }
    }
}

/// The stream of [`ElisionTokenizer`].
#[derive(Debug)]
pub struct ElisionStream<'a, S> {
    inner: S,
    elision: &'a Elision,
}

impl<S: TokenStream> TokenStream for ElisionStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.inner.advance() {
            return false;
        }
        if let Some(start) = self.elision.start(&self.inner.token().text) {
            self.inner.token_mut().text.drain(..start);
        }
        true
    }

    fn token(&self) -> &Token {
        self.inner.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.inner.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elision_removes_a_leading_article_and_its_apostrophe() {
        let elision = Elision { articles: vec!["l".into(), "qu".into()], ignore_case: false };
        assert_eq!(elision.start("l'avion"), Some(2));
        assert_eq!(elision.start("qu\u{2019}il"), Some(2 + '\u{2019}'.len_utf8()));
        assert_eq!(elision.start("L'avion"), None, "case counts unless articles_case");
        assert_eq!(elision.start("rock'n'roll"), None);
        let mut analyzer = TextAnalyzer::builder(WhitespaceTokenizer::default()).filter(elision).build();
        let mut stream = analyzer.token_stream("l'avion d'or");
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        assert_eq!(out, ["avion", "d'or"]);
    }

    fn texts(a: &Analyzers, name: &str, text: &str) -> Vec<String> {
        a.tokens(name, text).unwrap().into_iter().map(|t| t.text).collect()
    }

    fn flat(settings: Value) -> BTreeMap<String, Value> {
        crate::mapping::meta::parse_settings(Some(&settings)).unwrap()
    }

    #[test]
    fn built_in_analyzers() {
        let a = Analyzers::from_settings(&BTreeMap::new()).unwrap();
        assert_eq!(texts(&a, "standard", "The Lord of the Rings"), ["the", "lord", "of", "the", "rings"]);
        assert_eq!(texts(&a, "english", "The Running Men"), ["run", "men"]);
        assert_eq!(texts(&a, "keyword", "New York"), ["New York"]);
        assert_eq!(texts(&a, "whitespace", "New York"), ["New", "York"]);
        assert!(a.analyzer("nope").is_err());
    }

    #[test]
    fn custom_analyzers_chain_filters_in_order() {
        let settings = flat(json!({"analysis": {
            "filter": {"autocomplete": {"type": "edge_ngram", "min_gram": 2, "max_gram": 4}},
            "analyzer": {
                "folding": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
                "prefix": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "autocomplete"]}
            },
            "normalizer": {"folded": {"type": "custom", "filter": ["lowercase", "asciifolding"]}}
        }}));
        let a = Analyzers::from_settings(&settings).unwrap();
        assert_eq!(texts(&a, "folding", "Léon Amélie"), ["leon", "amelie"]);
        assert_eq!(texts(&a, "prefix", "Héat"), ["hé", "héa", "héat"]);
        assert_eq!(a.normalize(Some("folded"), "Léon The Professional"), "leon the professional");
        assert_eq!(a.normalize(None, "Léon"), "Léon");
        let tokens = a.tokens("prefix", "ab cde").unwrap();
        assert_eq!(
            tokens.iter().map(|t| (t.text.as_str(), t.position)).collect::<Vec<_>>(),
            [("ab", 0), ("cd", 1), ("cde", 1)]
        );
    }

    #[test]
    fn unknown_parts_are_refused_by_name() {
        let e = Analyzers::from_settings(&flat(json!({"analysis": {"analyzer": {"x": {"tokenizer": "icu"}}}})))
            .unwrap_err();
        assert!(e.reason.contains("tokenizer under name [icu]"), "{}", e.reason);
        let e = Analyzers::from_settings(&flat(json!({"analysis": {"analyzer": {"x": {"filter": ["phonetic"]}}}})))
            .unwrap_err();
        assert!(e.reason.contains("filter under name [phonetic]"), "{}", e.reason);
    }
}

//! `dfs_query_then_fetch`: BM25 statistics (document count, tokens per
//! field, document frequency per term) summed over every shard of a search
//! instead of each shard's own, so that scores compare across shards and
//! across indexes. Without it a title in a small index (a rare genre) can
//! outscore a better match in a big one, because its words look rarer
//! there.
//!
//! Each index has its own tantivy schema, so a field is matched across
//! shards by its name (the Elasticsearch path) and value type, and a term is
//! rebuilt with the other shard's field. Shards lacking the field add
//! nothing to its token and term counts. One difference from Elasticsearch:
//! the document count is that of every shard searched, where Lucene counts
//! the documents having the field; for indexes of one mapping (the title
//! alias) the two agree, across different mappings (`imdb-*`) idf comes out
//! somewhat higher.
//!
//! Every shard asks for the same statistics, so the sums are computed once
//! per search and shared ([`StatsCache`]): without it a search over n shards
//! would look every term up n x n times.

use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::query::Bm25StatisticsProvider;
use tantivy::schema::{Field, Type};
use tantivy::{Searcher, Term};

/// Sums already computed in one search, by field name (and term value).
#[derive(Debug, Default)]
pub struct StatsCache {
    tokens: Mutex<HashMap<String, u64>>,
    doc_freq: Mutex<HashMap<(String, Vec<u8>), u64>>,
    docs: Mutex<Option<u64>>,
}

/// The statistics of all `shards`, seen from `own` (the shard being
/// searched, whose schema the fields and terms asked about belong to).
#[derive(Clone, Copy)]
pub struct GlobalStats<'a> {
    /// The shard being searched.
    pub own: &'a Searcher,
    /// Every shard of the search, `own` included.
    pub shards: &'a [&'a Searcher],
    /// Shared by the shards of the search.
    pub cache: &'a StatsCache,
}

impl std::fmt::Debug for GlobalStats<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalStats").field("shards", &self.shards.len()).finish()
    }
}

impl GlobalStats<'_> {
    /// `field` of `own` as a field of `other`: same name and value type (an
    /// index mapping the name otherwise holds no comparable terms).
    fn field_in(&self, field: Field, other: &Searcher) -> Option<Field> {
        let own = self.own.schema();
        let found = other.schema().get_field(own.get_field_name(field)).ok()?;
        let same_type = other.schema().get_field_entry(found).field_type().value_type()
            == own.get_field_entry(field).field_type().value_type();
        same_type.then_some(found)
    }

    /// `term` rebuilt on `field`; `None` for a value type with no term
    /// constructor (JSON terms), which then count in their own shard only.
    fn term_on(term: &Term, field: Field) -> Option<Term> {
        let value = term.value();
        Some(match value.typ() {
            Type::Str => Term::from_field_text(field, value.as_str()?),
            Type::U64 => Term::from_field_u64(field, value.as_u64()?),
            Type::I64 => Term::from_field_i64(field, value.as_i64()?),
            Type::F64 => Term::from_field_f64(field, value.as_f64()?),
            Type::Bool => Term::from_field_bool(field, value.as_bool()?),
            Type::Date => Term::from_field_date(field, value.as_date()?),
            Type::IpAddr => Term::from_field_ip_addr(field, value.as_ip_addr()?),
            Type::Bytes => Term::from_field_bytes(field, value.as_bytes()?),
            Type::Facet => Term::from_facet(field, &value.as_facet()?),
            _ => return None,
        })
    }
}

impl Bm25StatisticsProvider for GlobalStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let name = self.own.schema().get_field_name(field).to_owned();
        // Computed under the lock: the shards ask at the same moment, and
        // the first must answer for all.
        let mut tokens = self.cache.tokens.lock().expect("not poisoned");
        if let Some(n) = tokens.get(&name) {
            return Ok(*n);
        }
        let mut total = 0;
        for shard in self.shards {
            if let Some(f) = self.field_in(field, shard) {
                total += shard.total_num_tokens(f)?;
            }
        }
        tokens.insert(name, total);
        Ok(total)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        let mut docs = self.cache.docs.lock().expect("not poisoned");
        if let Some(n) = *docs {
            return Ok(n);
        }
        let mut total = 0;
        for shard in self.shards {
            total += Bm25StatisticsProvider::total_num_docs(*shard)?;
        }
        *docs = Some(total);
        Ok(total)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let Some(_) = Self::term_on(term, term.field()) else {
            // A value type outside scoring: this shard's own figure.
            return self.own.doc_freq(term);
        };
        let key = (self.own.schema().get_field_name(term.field()).to_owned(), term.value().as_serialized().to_vec());
        let mut doc_freq = self.cache.doc_freq.lock().expect("not poisoned");
        if let Some(n) = doc_freq.get(&key) {
            return Ok(*n);
        }
        let mut total = 0;
        for shard in self.shards {
            if let Some(t) = self.field_in(term.field(), shard).and_then(|f| Self::term_on(term, f)) {
                total += shard.doc_freq(&t)?;
            }
        }
        doc_freq.insert(key, total);
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::{STORED, Schema, TEXT};
    use tantivy::{Index, doc};

    /// An index whose schema has `extra` fields before `title`, so the
    /// field ids differ between indexes.
    fn index(extra: usize, titles: &[&str]) -> Searcher {
        let mut builder = Schema::builder();
        for i in 0..extra {
            builder.add_text_field(&format!("pad{i}"), STORED);
        }
        let title = builder.add_text_field("title", TEXT);
        let index = Index::create_in_ram(builder.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for t in titles {
            writer.add_document(doc!(title => *t)).unwrap();
        }
        writer.commit().unwrap();
        index.reader().unwrap().searcher()
    }

    #[test]
    fn statistics_add_up_across_schemas_by_field_name() {
        let small = index(0, &["bride wars"]);
        let big = index(2, &["star wars", "star trek", "wars of the worlds", "the star"]);
        let shards = [&small, &big];
        let cache = StatsCache::default();
        let stats = GlobalStats { own: &small, shards: &shards, cache: &cache };
        let field = small.schema().get_field("title").unwrap();
        assert_eq!(stats.total_num_docs().unwrap(), 5);
        assert_eq!(stats.total_num_tokens(field).unwrap(), 2 + 2 + 2 + 4 + 2);
        assert_eq!(stats.doc_freq(&Term::from_field_text(field, "wars")).unwrap(), 3);
        assert_eq!(stats.doc_freq(&Term::from_field_text(field, "star")).unwrap(), 3);
        assert_eq!(stats.doc_freq(&Term::from_field_text(field, "bride")).unwrap(), 1);
    }

    /// Indexes `titles` into a new one-shard index `name` of `node`.
    fn load(node: &crate::node::Node, name: &str, titles: &[&str]) {
        use crate::ops::{Action, OpType};
        let mapping = serde_json::json!({"settings": {"number_of_shards": 1},
                                         "mappings": {"properties": {"title": {"type": "text"}}}});
        node.create(name, &mapping).unwrap();
        let actions = titles
            .iter()
            .enumerate()
            .map(|(i, t)| Action {
                op: OpType::Index,
                index: name.into(),
                id: Some(format!("{name}-{i}")),
                routing: None,
                body: Ok(serde_json::json!({"title": t}).as_object().unwrap().clone()),
                conditions: Default::default(),
                retry_on_conflict: 0,
                require_alias: false,
            })
            .collect();
        assert!(crate::ops::execute(node, actions).iter().all(|i| i.status == 201));
        node.handle(name).unwrap().refresh().unwrap();
    }

    #[test]
    fn dfs_ranks_across_indexes_as_one_collection() {
        let dir = tempfile::tempdir().unwrap();
        let node = crate::node::Node::open(dir.path()).unwrap();
        // `wars` is rare in the small index and everywhere in the big one.
        load(&node, "small", &["The Bride Wars Saga", "Something Else"]);
        let big: Vec<String> =
            std::iter::once("Wars".to_owned()).chain((1..=20).map(|i| format!("Wars Part {i}"))).collect();
        load(&node, "big", &big.iter().map(String::as_str).collect::<Vec<_>>());
        let handles = vec![node.handle("small").unwrap(), node.handle("big").unwrap()];
        let body = serde_json::json!({"query": {"match": {"title": "wars"}}, "size": 1});
        let first = |search_type: &str| {
            let params = std::collections::HashMap::from([("search_type".to_owned(), search_type.to_owned())]);
            let req = crate::search::SearchRequest::parse(&body, &params).unwrap();
            crate::search::search(&handles, &req).unwrap()["hits"]["hits"][0]["_id"].as_str().unwrap().to_owned()
        };
        assert_eq!(first("query_then_fetch"), "small-0", "per-index statistics favour the small index");
        assert_eq!(first("dfs_query_then_fetch"), "big-0", "global statistics: the shortest title wins");
        let params = std::collections::HashMap::from([("search_type".to_owned(), "scan".to_owned())]);
        assert!(crate::search::SearchRequest::parse(&body, &params).is_err());
    }
}

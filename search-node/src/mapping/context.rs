//! The mapping context of an index: its parsed mapping, the tantivy
//! schema derived from it and its analyzers, built together from the
//! index's metadata.
//!
//! Contract: a context is immutable; a mapping change builds a new one
//! (and the shards are rebuilt when the schema differs), so a document is
//! never built under one schema and applied under another.

use tantivy::tokenizer::TokenizerManager;

use crate::error::EsError;
use crate::mapping::Mapping;
use crate::mapping::analysis::Analyzers;
use crate::mapping::meta::IndexMeta;
use crate::mapping::schema::IndexSchema;

/// Everything needed to turn sources into documents and queries into
/// tantivy queries, for one version of an index's mapping.
pub struct IndexContext {
    /// Index name.
    pub name: String,
    /// The parsed mapping.
    pub mapping: Mapping,
    /// The tantivy schema derived from it.
    pub schema: IndexSchema,
    /// The index's analyzers.
    pub analyzers: Analyzers,
    /// `_id` as a queryable keyword field.
    pub id_def: crate::mapping::FieldDef,
    /// The analyzers as tantivy tokenizers, built once: every aggregation
    /// of every search asks for them.
    tokenizers: TokenizerManager,
    /// The settings and mapping this context was built from, as JSON:
    /// indexes of equal shapes (the indexes of one template) compile a
    /// query alike, so a search over them compiles it once.
    pub shape: String,
}

impl std::fmt::Debug for IndexContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tokenizer manager has no Debug; the analyzers say the same.
        f.debug_struct("IndexContext")
            .field("name", &self.name)
            .field("mapping", &self.mapping)
            .field("schema", &self.schema)
            .field("analyzers", &self.analyzers)
            .finish_non_exhaustive()
    }
}

impl IndexContext {
    /// The context of an index's metadata; checks that every analyzer the
    /// mapping names exists.
    pub fn new(meta: &IndexMeta) -> Result<IndexContext, EsError> {
        let mapping = Mapping::parse(&meta.mappings)?;
        let analyzers = Analyzers::from_settings(&meta.settings)?;
        for field in mapping.fields.values() {
            match &field.ty {
                crate::mapping::FieldType::Text { analyzer, search_analyzer, .. } => {
                    analyzers.analyzer(analyzer)?;
                    analyzers.analyzer(search_analyzer)?;
                }
                crate::mapping::FieldType::Keyword { normalizer: Some(n), .. } if !analyzers.has_normalizer(n) => {
                    return Err(EsError::mapper_parsing(format!(
                        "normalizer [{n}] not found for field [{}]",
                        field.path
                    )));
                }
                _ => {}
            }
        }
        let schema = IndexSchema::build(&mapping);
        let id_def = crate::mapping::FieldDef {
            path: "_id".into(),
            ty: crate::mapping::FieldType::Keyword { normalizer: None, ignore_above: None },
            index: true,
            doc_values: true,
            null_value: None,
            ignore_malformed: false,
            coerce: true,
            subfields: Vec::new(),
            is_subfield: false,
            copy_to: Vec::new(),
        };
        let tokenizers = TokenizerManager::default();
        for (name, analyzer) in analyzers.all() {
            tokenizers.register(name, analyzer.clone());
        }
        let shape = serde_json::to_string(&(&meta.settings, &meta.mappings))
            .map_err(|e| EsError::internal(format!("index metadata as JSON: {e}")))?;
        Ok(IndexContext { name: meta.name.clone(), mapping, schema, analyzers, id_def, tokenizers, shape })
    }

    /// A tokenizer manager holding the index's analyzers (shared, not a
    /// copy): the shards' tantivy indexes and every aggregation use it.
    pub fn tokenizers(&self) -> TokenizerManager {
        self.tokenizers.clone()
    }
}

//! The tantivy schema of an index, derived from its mapping.
//!
//! Every leaf field of the mapping (multi-fields included) is one tantivy
//! field named by its full Elasticsearch path, so BM25 statistics (field
//! length norms above all) are per field as in Elasticsearch. tantivy
//! schemas are fixed, so a mapping that gains fields makes a new schema and
//! the shards are rebuilt from `_source` (see [`crate::storage::shard`]); the derivation is
//! deterministic, so the same mapping always gives the same schema.
//!
//! Metadata fields: `_id` (exact, columnar), `_source` (stored bytes),
//! `_version` and `_seq_no` (columnar), `_routing` (stored), and
//! `_field_names` (the paths a document has values for, for `exists`).

use std::collections::BTreeMap;

use tantivy::schema::{
    BytesOptions, DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, NumericOptions, STORED,
    STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::mapping::analysis::prefix_tokenizer;
use crate::mapping::{FieldDef, FieldType, Mapping, Numeric};

/// Suffix of the edge-n-gram field kept beside a text field with
/// `index_prefixes` (or of type `search_as_you_type`).
pub const PREFIX_SUFFIX: &str = "._index_prefix";
/// Handles of the metadata fields.
#[derive(Debug, Clone, Copy)]
pub struct MetaFields {
    /// `_id`.
    pub id: Field,
    /// `_source`.
    pub source: Field,
    /// `_version`.
    pub version: Field,
    /// `_seq_no`.
    pub seq_no: Field,
    /// `_routing`.
    pub routing: Field,
    /// `_field_names`.
    pub field_names: Field,
}

/// A schema and the handles of its fields.
#[derive(Debug, Clone)]
pub struct IndexSchema {
    /// The tantivy schema.
    pub schema: Schema,
    /// Metadata fields.
    pub meta: MetaFields,
    /// Leaf fields by Elasticsearch path.
    pub fields: BTreeMap<String, Field>,
}

fn text_options(tokenizer: &str, index: bool, positions: bool) -> TextOptions {
    if !index {
        return TextOptions::default();
    }
    let record = if positions { IndexRecordOption::WithFreqsAndPositions } else { IndexRecordOption::Basic };
    TextOptions::default()
        .set_indexing_options(TextFieldIndexing::default().set_tokenizer(tokenizer).set_index_option(record))
}

fn numeric_options(field: &FieldDef) -> NumericOptions {
    let mut options = NumericOptions::default();
    if field.index {
        options = options | INDEXED;
    }
    if field.doc_values {
        options = options | FAST;
    }
    options
}

impl IndexSchema {
    /// The schema of a mapping.
    pub fn build(mapping: &Mapping) -> IndexSchema {
        let mut builder = Schema::builder();
        let meta = MetaFields {
            id: builder.add_text_field("_id", STRING | FAST),
            source: builder.add_bytes_field("_source", BytesOptions::default().set_stored()),
            version: builder.add_u64_field("_version", FAST),
            seq_no: builder.add_u64_field("_seq_no", FAST),
            routing: builder.add_text_field("_routing", STORED),
            field_names: builder.add_text_field("_field_names", STRING),
        };
        let mut fields = BTreeMap::new();
        for (path, def) in &mapping.fields {
            let field = match &def.ty {
                FieldType::Text { analyzer, index_prefixes, .. } => {
                    if *index_prefixes && def.index {
                        let prefix = format!("{path}{PREFIX_SUFFIX}");
                        let handle =
                            builder.add_text_field(&prefix, text_options(&prefix_tokenizer(analyzer), true, false));
                        fields.insert(prefix, handle);
                    }
                    builder.add_text_field(path, text_options(analyzer, def.index, true))
                }
                FieldType::Keyword { .. } => {
                    // No norms, as Elasticsearch's keyword fields.
                    let mut options = if def.index {
                        TextOptions::default().set_indexing_options(
                            TextFieldIndexing::default()
                                .set_tokenizer("raw")
                                .set_index_option(IndexRecordOption::Basic)
                                .set_fieldnorms(false),
                        )
                    } else {
                        TextOptions::default()
                    };
                    if def.doc_values {
                        options = options.set_fast("raw");
                    }
                    builder.add_text_field(path, options)
                }
                FieldType::Number { kind: Numeric::Integer { .. }, .. } => {
                    builder.add_i64_field(path, numeric_options(def))
                }
                FieldType::Number { .. } => builder.add_f64_field(path, numeric_options(def)),
                FieldType::Boolean => builder.add_bool_field(path, numeric_options(def)),
                FieldType::Ip => builder.add_ip_addr_field(path, {
                    let mut options = tantivy::schema::IpAddrOptions::default();
                    if def.index {
                        options = options.set_indexed();
                    }
                    if def.doc_values {
                        options = options.set_fast();
                    }
                    options
                }),
                FieldType::Date { .. } => {
                    let mut options = DateOptions::default().set_precision(DateTimePrecision::Milliseconds);
                    if def.index {
                        options = options.set_indexed();
                    }
                    if def.doc_values {
                        options = options.set_fast();
                    }
                    builder.add_date_field(path, options)
                }
            };
            fields.insert(path.clone(), field);
        }
        IndexSchema { schema: builder.build(), meta, fields }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_tantivy_field_per_leaf_and_the_same_schema_every_time() {
        let mapping = Mapping::parse(&json!({"properties": {
            "title": {"type": "search_as_you_type", "fields": {"keyword": {"type": "keyword"}}},
            "year": {"type": "integer"},
            "released": {"type": "date"}
        }}))
        .unwrap();
        let a = IndexSchema::build(&mapping);
        let b = IndexSchema::build(&mapping);
        assert_eq!(a.schema, b.schema);
        let names: Vec<&str> = a.fields.keys().map(String::as_str).collect();
        assert_eq!(names, ["released", "title", "title._index_prefix", "title.keyword", "year"]);
        assert!(a.schema.get_field_entry(a.fields["title.keyword"]).is_fast());
        assert!(!a.schema.get_field_entry(a.fields["title"]).is_fast());
    }
}

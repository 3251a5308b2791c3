//! The Logstash pipelines in `logstash/` agree with the model crate: one
//! pipeline per raw topic, reading that topic with the `json_lines` codec,
//! writing the raw index the model names, with the row's IMDb key as
//! document id and a dead-letter queue. A renamed topic or index in the
//! model fails here instead of in production.

use std::path::{Path, PathBuf};

use imdb_model::RawSource;
use imdb_model::index::IndexNames;

fn logstash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../logstash")
}

/// The value of `key => "value"` or `key => ["value"]` in a config.
fn setting<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    let line =
        config.lines().map(str::trim).find(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with("=>"))?;
    let value = line.split_once("=>")?.1.trim().trim_start_matches('[').trim_end_matches(']');
    Some(value.trim().trim_matches('"'))
}

#[test]
fn every_raw_topic_has_a_pipeline_that_matches_the_model() {
    let names = IndexNames::default();
    let pipelines = std::fs::read_to_string(logstash_dir().join("pipelines.yml")).unwrap();
    for source in RawSource::ALL {
        let slug = source.file_stem().replace('.', "-");
        let file = logstash_dir().join(format!("pipeline/raw-{slug}.conf"));
        let config = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(setting(&config, "topics"), Some(source.topic().name), "{slug}: topic");
        assert_eq!(setting(&config, "codec"), Some("json_lines"), "{slug}: raw messages are JSON lines");
        assert_eq!(setting(&config, "index"), Some(names.raw_index(source).as_str()), "{slug}: index");
        let id: Vec<String> = source.doc_id_columns().iter().map(|c| format!("%{{{c}}}")).collect();
        assert_eq!(setting(&config, "document_id"), Some(id.join("-").as_str()), "{slug}: document id");
        let entry = format!(
            "- pipeline.id: raw-{slug}\n  path.config: \"/usr/share/logstash/pipeline/raw-{slug}.conf\"\n  dead_letter_queue.enable: true"
        );
        assert!(pipelines.contains(&entry), "{slug}: pipelines.yml entry with a dead-letter queue");
    }
    let files = std::fs::read_dir(logstash_dir().join("pipeline")).unwrap().count();
    assert_eq!(files, RawSource::ALL.len(), "no pipeline without a raw topic");
}

#[test]
fn settings_are_read_from_the_config_syntax() {
    let config = "  kafka {\n    topics => [\"a.b\"]\n    codec => json_lines\n  }\n  document_id => \"%{x}-%{y}\"";
    assert_eq!(setting(config, "topics"), Some("a.b"));
    assert_eq!(setting(config, "codec"), Some("json_lines"));
    assert_eq!(setting(config, "document_id"), Some("%{x}-%{y}"));
    assert_eq!(setting(config, "index"), None);
}

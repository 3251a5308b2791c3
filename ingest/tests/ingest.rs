//! The ingest crate's integration tests: real IMDb rows from `../shared/data`
//! through the whole pipeline (chunking, join, documents, raw batches) into
//! an in-memory sink, and the command line's contract (exit codes, help).
//! The Kafka side is tested against a real broker in integration-tests/.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::path::{Path, PathBuf};
use std::process::Command;

use imdb_ingest::sink::{MemorySink, OwnedMessage};
use imdb_ingest::source::Format;
use imdb_ingest::stats::MessageKind;
use imdb_ingest::worker::RawSettings;
use imdb_ingest::{LoadSettings, Stats, load};
use imdb_model::{PersonDoc, TitleDoc};

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if dir.join("title.basics.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: ../shared/data is not beside the repository");
        None
    }
}

/// Copies the named shared files into a fresh directory under IMDb's names.
fn imdb_dir(shared: &Path, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in files {
        std::fs::copy(shared.join(from), dir.path().join(to)).unwrap();
    }
    dir
}

fn run(input: &Path, chunk_bytes: usize) -> (Vec<OwnedMessage>, imdb_ingest::Summary) {
    let (sink, stats) = (MemorySink::default(), Stats::default());
    let config = LoadSettings {
        input: input.to_path_buf(),
        format: Format::Auto,
        workers: 2,
        chunk_bytes,
        raw: RawSettings { no_raw: false, max_rows: 7, max_bytes: 512 * 1024 },
    };
    load(&config, &sink, &stats).unwrap();
    (sink.messages(), stats.summary(std::time::Duration::from_secs(1)))
}

fn docs<T: serde::de::DeserializeOwned>(messages: &[OwnedMessage], kind: MessageKind) -> Vec<T> {
    messages.iter().filter(|m| m.kind == kind).map(|m| serde_json::from_slice(&m.payload).unwrap()).collect()
}

#[test]
fn real_imdb_rows_join_into_documents() {
    let Some(shared) = shared_data() else { return };
    let files: Vec<(&str, &str)> = [
        "title.basics.tsv",
        "title.ratings.tsv",
        "title.crew.tsv",
        "title.principals.tsv",
        "title.akas.tsv",
        "title.episode.tsv",
        "name.basics.tsv",
    ]
    .iter()
    .map(|f| (*f, *f))
    .collect();
    let dir = imdb_dir(&shared, &files);
    // Tiny chunks: the join must not depend on where chunks end.
    for chunk_bytes in [300, 1 << 20] {
        let (messages, summary) = run(dir.path(), chunk_bytes);
        assert_eq!((summary.records_read, summary.records_rejected), (99 * 6 + 5, 0));
        assert_eq!(messages.iter().filter(|m| m.kind == MessageKind::Raw).map(|m| m.records).sum::<u64>(), 599);
        // The episode rows are from a newer dump: their titles are not here.
        assert_eq!(summary.orphan_rows, 5, "chunk {chunk_bytes}");

        let titles: Vec<TitleDoc> = docs(&messages, MessageKind::Title);
        assert_eq!(titles.len(), 99);
        let carmencita = titles.iter().find(|t| t.tconst == "tt0000001").unwrap();
        assert_eq!(carmencita.primary_title, "Carmencita");
        assert_eq!(carmencita.genres, ["documentary", "short"]);
        assert_eq!((carmencita.average_rating, carmencita.num_votes), (Some(5.8), Some(1472)));
        assert_eq!(carmencita.directors[0].nconst.as_deref(), Some("nm0005690"));
        assert_eq!(carmencita.directors[0].name, None, "this person is not in the sample's name.basics");
        assert_eq!(carmencita.cast.len(), 1, "the director and cinematographer are not cast");
        assert_eq!(
            (carmencita.cast[0].nconst.as_str(), &carmencita.cast[0].characters[..]),
            ("nm1588970", &["Herself".to_owned()][..])
        );
        let akas: Vec<&str> = carmencita.akas.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(akas, ["Carmencita - spanyol tánc", "Καρμενσίτα", "Карменсита"]);

        let people: Vec<PersonDoc> = docs(&messages, MessageKind::Person);
        assert_eq!(people.len(), 99);
        let fred = people.iter().find(|p| p.nconst == "nm0000001").unwrap();
        assert_eq!(
            (fred.primary_name.as_str(), fred.birth_year, fred.death_year),
            ("Fred Astaire", Some(1899), Some(1987))
        );
        assert_eq!(fred.professions, ["soundtrack", "actor", "miscellaneous"]);
        assert_eq!(fred.known_for.len(), 4);
    }
}

#[test]
fn popular_films_carry_their_ratings() {
    let Some(shared) = shared_data() else { return };
    let dir = imdb_dir(
        &shared,
        &[("title.basics.popular.tsv", "title.basics.tsv"), ("title.ratings.popular.tsv", "title.ratings.tsv.gz")],
    );
    // A plain file named .gz is read by its content, not its name.
    let (messages, summary) = run(dir.path(), 256);
    assert_eq!((summary.records_read, summary.records_rejected, summary.orphan_rows), (80, 0, 0));
    let titles: Vec<TitleDoc> = docs(&messages, MessageKind::Title);
    assert_eq!(titles.len(), 40);
    assert!(titles.iter().all(|t| t.average_rating.is_some() && t.num_votes.is_some()));
    let godfather = titles.iter().find(|t| t.tconst == "tt0068646").unwrap();
    assert_eq!(godfather.primary_title, "The Godfather");
    assert_eq!((godfather.average_rating, godfather.num_votes), (Some(9.2), Some(1_814_613)));
    assert_eq!(godfather.genres, ["crime", "drama"]);
}

fn ingest() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imdb-ingest"))
}

#[test]
fn help_names_every_environment_variable() {
    let out = ingest().args(["load", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in
        ["IMDB_INGEST_INPUT", "IMDB_BROKERS", "IMDB_INGEST_WORKERS", "IMDB_INGEST_CHUNK_SIZE", "IMDB_INGEST_DRY_RUN"]
    {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

#[test]
fn exit_codes_tell_user_errors_from_failures() {
    let out = ingest().args(["load", "--input", "/nonexistent/imdb", "--dry-run", "--quiet"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let out = ingest().args(["load", "--input"]).arg(dir.path()).args(["--dry-run", "--quiet"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no IMDb TSV files"));

    // Nothing listens on this port: topics cannot be created, the run fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(dir.path().join("title.ratings.tsv"), "tconst\taverageRating\tnumVotes\ntt0000001\t5.0\t10\n")
        .unwrap();
    let out = ingest()
        .args(["load", "--quiet", "--message-timeout", "3s", "--flush-timeout", "5s", "--brokers"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--input")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn dry_run_reports_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = ingest().args(["generate", "--titles", "300", "--out"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    let summary = dir.path().join("summary.json");
    let out = ingest()
        .args(["load", "--dry-run", "--quiet", "--input"])
        .arg(dir.path())
        .arg("--summary-json")
        .arg(&summary)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in ["records read", "records published", "records rejected", "bytes", "records/s"] {
        assert!(stderr.contains(line), "{line} missing from the summary");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    assert_eq!(json["titles_published"], 300);
    assert_eq!(json["records_rejected"], 0);
}

#[test]
fn byte_order_marks_are_skipped_and_oversized_json_rows_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut basics = b"\xEF\xBB\xBFtconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres\n".to_vec();
    basics.extend_from_slice(b"tt0000001\tmovie\tOne\tOne\t0\t1990\t\\N\t90\tDrama\n");
    // 200,000 control characters: under the 1 MiB record limit, but over a
    // Kafka message once escaped as JSON.
    basics.extend_from_slice(
        format!("tt0000002\tmovie\t{}\tTwo\t0\t1990\t\\N\t90\tDrama\n", "\u{1}".repeat(200_000)).as_bytes(),
    );
    std::fs::write(dir.path().join("title.basics.tsv"), basics).unwrap();
    let (messages, summary) = run(dir.path(), 1 << 20);
    assert_eq!((summary.records_read, summary.records_rejected), (2, 1));
    let letters: Vec<imdb_model::DeadLetter> = docs(&messages, MessageKind::DeadLetter);
    assert_eq!(letters[0].line, Some(3));
    assert!(letters[0].reason.starts_with("row as JSON too large"), "{}", letters[0].reason);
    assert!(messages.iter().all(|m| m.payload.len() <= imdb_ingest::sink::MAX_MESSAGE_BYTES));

    let ndjson = dir.path().join("bom.ndjson");
    std::fs::write(&ndjson, "\u{feff}{\"Title\":\"With a BOM\"}\n").unwrap();
    let (messages, summary) = run(&ndjson, 1 << 20);
    assert_eq!((summary.records_read, summary.records_rejected), (1, 0));
    assert_eq!(docs::<TitleDoc>(&messages, MessageKind::Title)[0].primary_title, "With a BOM");
}

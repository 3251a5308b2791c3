//! Ingest against a real Kafka broker: a generated dataset goes through
//! exactly (every row once, in the partition its id selects, every document
//! joined as an independent reading of the files says), and bad input ends
//! in the dead-letter topic while the rest goes through.
//!
//! Skips with a message when Kafka's jars are not installed, unless
//! `IMDB_REQUIRE_KAFKA=1` (set by scripts/test.sh), where that is a failure.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test, with its line")]

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use flate2::read::MultiGzDecoder;
use imdb_ingest::generate::{GenerateSettings, generate};
use imdb_ingest::kafka::ensure_topics;
use imdb_ingest::source::Format;
use imdb_ingest::worker::RawSettings;
use imdb_ingest::{LoadSettings, Summary, inspect};
use imdb_integration_tests::kafka_load::load_into_kafka;
use imdb_local_kafka::{Cluster, start_for_test};
use imdb_model::topics::{INGEST_DEAD_LETTER, PEOPLE, TITLES, all_topics};
use imdb_model::{DeadLetter, PersonDoc, RawSource, TitleDoc, normalise_genres, partition_for_key};
use rdkafka::Message;

const READ_TIMEOUT: Duration = Duration::from_secs(120);

fn run_load(broker: &Cluster, input: &Path, format: Format) -> Summary {
    load_into(broker.bootstrap_servers(), input.to_path_buf(), format, 16 * 1024)
}

/// Loads `input` with small chunks and small raw batches (many chunks, many
/// batches, several workers racing), checking that the run succeeded.
fn load_into(brokers: String, input: std::path::PathBuf, format: Format, chunk_bytes: usize) -> Summary {
    let config = LoadSettings {
        input,
        format,
        workers: 3,
        chunk_bytes,
        raw: RawSettings { no_raw: false, max_rows: 50, max_bytes: 64 * 1024 },
    };
    load_into_kafka(brokers, &config)
}

/// Every message of a topic: (partition, key, payload).
fn messages(broker: &Cluster, topic: &str) -> Vec<(i32, String, Vec<u8>)> {
    let mut out = Vec::new();
    inspect::read_topic(&broker.bootstrap_servers(), topic, READ_TIMEOUT, |m| {
        let key = String::from_utf8(m.key().unwrap_or_default().to_vec()).unwrap();
        out.push((m.partition(), key, m.payload().unwrap_or_default().to_vec()));
        true
    })
    .unwrap();
    out
}

/// The data rows of an IMDb file, read naively: the test's own oracle.
fn file_rows(dir: &Path, source: RawSource) -> Vec<Vec<String>> {
    let path = dir.join(format!("{}.tsv.gz", source.file_stem()));
    let mut text = String::new();
    MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text.lines().skip(1).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

fn opt(v: &str) -> Option<&str> {
    (v != "\\N").then_some(v)
}

#[test]
fn generated_dataset_goes_through_exactly() {
    let Some(broker) = start_for_test(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateSettings { titles: 2_000, seed: 7, out: dir.path().to_path_buf() }).unwrap();
    let summary = run_load(&broker, dir.path(), Format::Auto);
    assert_eq!(summary.records_rejected, 0);
    assert_eq!(summary.messages_failed + summary.messages_unconfirmed, 0);

    // Raw topics: every row exactly once, as in the file, in its key's partition.
    let mut total = 0;
    for source in RawSource::ALL.into_iter().filter(|s| *s != RawSource::Json) {
        let topic = source.topic();
        let mut got: Vec<Vec<String>> = Vec::new();
        for (partition, _, payload) in messages(&broker, topic.name) {
            for line in std::str::from_utf8(&payload).unwrap().lines() {
                let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
                let fields: Vec<String> =
                    source.columns().iter().map(|c| row[*c].as_str().map_or("\\N".to_owned(), str::to_owned)).collect();
                assert_eq!(partition, partition_for_key(fields[0].as_bytes(), topic.partitions), "{line}");
                got.push(fields);
            }
        }
        let mut expected = file_rows(dir.path(), source);
        assert!(!expected.is_empty(), "{source:?}");
        total += expected.len() as u64;
        got.sort();
        expected.sort();
        assert_eq!(got.len(), expected.len(), "{source:?}");
        assert!(got == expected, "{source:?}: raw rows differ from the file");
    }
    assert_eq!(summary.records_read, total);
    assert_eq!(summary.records_published, total);

    // Title documents: one per basics row, keyed and partitioned by tconst,
    // joined as the files say.
    let names: HashMap<String, String> =
        file_rows(dir.path(), RawSource::NameBasics).into_iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let ratings: HashMap<String, (f32, u64)> = file_rows(dir.path(), RawSource::TitleRatings)
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), r[2].parse().unwrap())))
        .collect();
    let crew: HashMap<String, Vec<String>> =
        file_rows(dir.path(), RawSource::TitleCrew).into_iter().map(|r| (r[0].clone(), r.clone())).collect();
    let mut cast: HashMap<String, BTreeMap<u32, String>> = HashMap::new();
    for r in file_rows(dir.path(), RawSource::TitlePrincipals) {
        if matches!(r[3].as_str(), "actor" | "actress" | "self") {
            cast.entry(r[0].clone()).or_default().insert(r[1].parse().unwrap(), r[2].clone());
        }
    }
    let basics = file_rows(dir.path(), RawSource::TitleBasics);
    let docs = messages(&broker, TITLES.name);
    assert_eq!(docs.len(), basics.len());
    let docs: HashMap<String, TitleDoc> = docs
        .into_iter()
        .map(|(partition, key, payload)| {
            assert_eq!(partition, partition_for_key(key.as_bytes(), TITLES.partitions), "librdkafka's murmur2");
            let doc: TitleDoc = serde_json::from_slice(&payload).unwrap();
            assert_eq!(doc.tconst, key);
            (key, doc)
        })
        .collect();
    assert_eq!(docs.len(), basics.len(), "a title was published twice");
    for row in &basics {
        let doc = &docs[&row[0]];
        assert_eq!(doc.primary_title, row[2]);
        assert_eq!(doc.start_year, opt(&row[5]).map(|y| y.parse().unwrap()));
        assert_eq!(doc.genres, normalise_genres(opt(&row[8]).unwrap_or("").split(',')));
        let rating = ratings.get(&row[0]);
        assert_eq!(doc.average_rating, rating.map(|r| r.0));
        assert_eq!(doc.num_votes, rating.map(|r| r.1));
        let directors: Vec<String> = crew[&row[0]][1].split(',').filter(|d| *d != "\\N").map(str::to_owned).collect();
        assert_eq!(doc.directors.iter().map(|d| d.nconst.clone().unwrap()).collect::<Vec<_>>(), directors);
        for d in &doc.directors {
            assert_eq!(d.name.as_ref(), names.get(d.nconst.as_ref().unwrap()), "director name resolved");
        }
        let expected_cast: Vec<&String> = cast.get(&row[0]).map(|c| c.values().take(10).collect()).unwrap_or_default();
        assert_eq!(doc.cast.iter().map(|c| &c.nconst).collect::<Vec<_>>(), expected_cast);
    }

    // Person documents, with known-for titles resolved.
    let titles: HashMap<&str, &str> = basics.iter().map(|r| (r[0].as_str(), r[2].as_str())).collect();
    let people = messages(&broker, PEOPLE.name);
    assert_eq!(people.len(), names.len());
    for (_, key, payload) in people {
        let doc: PersonDoc = serde_json::from_slice(&payload).unwrap();
        assert_eq!(doc.nconst, key);
        assert_eq!(names[&key], doc.primary_name);
        for k in &doc.known_for {
            assert_eq!(k.title.as_deref(), titles.get(k.tconst.as_str()).copied());
        }
    }
    assert!(messages(&broker, INGEST_DEAD_LETTER.name).is_empty());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn dead_letters(broker: &Cluster) -> Vec<DeadLetter> {
    messages(broker, INGEST_DEAD_LETTER.name).into_iter().map(|(_, _, p)| serde_json::from_slice(&p).unwrap()).collect()
}

#[test]
fn bad_input_is_dead_lettered_and_the_rest_goes_through() {
    let Some(broker) = start_for_test(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    let imdb = dir.path().join("imdb");
    std::fs::create_dir(&imdb).unwrap();

    // title.basics: 3 good rows, a short row, a bad year, invalid UTF-8.
    let mut basics =
        b"tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\tendYear\truntimeMinutes\tgenres\n"
            .to_vec();
    basics.extend_from_slice(b"tt0000001\tmovie\tOne\tOne\t0\t1990\t\\N\t90\tDrama\n");
    basics.extend_from_slice(b"tt0000002\tmovie\tShort row\n");
    basics.extend_from_slice(b"tt0000003\tmovie\tThree\tThree\t0\tnineteen\t\\N\t90\tDrama\n");
    basics.extend_from_slice(b"tt0000004\tmovie\tFo\xffur\tFour\t0\t1990\t\\N\t90\tDrama\n");
    basics.extend_from_slice(b"tt0000005\tmovie\tFive\tFive\t0\t1995\t\\N\t90\tComedy\n");
    basics.extend_from_slice(b"tt0000006\tmovie\tSix\tSix\t0\t1996\t\\N\t90\t\\N\n");
    std::fs::write(imdb.join("title.basics.tsv"), basics).unwrap();

    // title.ratings.tsv.gz: 2,000 rows, the gzip stream cut in the middle.
    let mut ratings = b"tconst\taverageRating\tnumVotes\n".to_vec();
    for i in 1..=2000 {
        ratings.extend_from_slice(format!("tt{i:07}\t{}.{}\t{}\n", i % 9 + 1, i % 10, i * 37).as_bytes());
    }
    let gz = gzip(&ratings);
    std::fs::write(imdb.join("title.ratings.tsv.gz"), &gz[..gz.len() / 2]).unwrap();

    let summary = run_load(&broker, &imdb, Format::Auto);
    let letters = dead_letters(&broker);
    let reasons: Vec<String> = letters
        .iter()
        .map(|l| format!("{}:{} {}", l.source.rsplit('/').next().unwrap(), l.line.unwrap(), l.reason))
        .collect();
    assert!(reasons.contains(&"title.basics.tsv:3 expected 9 tab-separated fields, found 3".to_owned()), "{reasons:?}");
    assert!(
        reasons.contains(&"title.basics.tsv:4 startYear: expected a year, found \"nineteen\"".to_owned()),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"title.basics.tsv:5 invalid UTF-8 at byte 18 of the row".to_owned()), "{reasons:?}");
    let truncated: Vec<&DeadLetter> = letters.iter().filter(|l| l.source.ends_with("title.ratings.tsv.gz")).collect();
    assert_eq!(truncated.len(), 1, "{reasons:?}");
    assert!(truncated[0].reason.contains("unreadable"), "{}", truncated[0].reason);
    assert!(truncated[0].byte_offset.unwrap() > 0);
    // Everything read before the cut went through.
    let ratings_read = summary.per_source.iter().find(|s| s.source == "title.ratings").unwrap().read;
    assert!(ratings_read > 100 && ratings_read < 2000, "{ratings_read}");
    let titles: Vec<TitleDoc> =
        messages(&broker, TITLES.name).into_iter().map(|(_, _, p)| serde_json::from_slice(&p).unwrap()).collect();
    let mut ids: Vec<&str> = titles.iter().map(|t| t.tconst.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["tt0000001", "tt0000005", "tt0000006"]);
    assert_eq!(summary.records_rejected, 4);
    assert_eq!(summary.dead_letters_published, 4);

    // JSON: malformed, wrong types, a numeric title that is kept.
    let ndjson = dir.path().join("movies.ndjson");
    std::fs::write(
        &ndjson,
        concat!(
            "{\"Title\": 300, \"Release Date\": \"Mar 09 2007\", \"IMDB Rating\": 7.8}\n",
            "{\"Title\": \"Broken\", \n",
            "{\"Title\": [\"a\"]}\n",
            "{\"Title\": \"Léon\", \"IMDB Votes\": \"12,345\"}\n",
            "42\n",
        ),
    )
    .unwrap();
    let before = dead_letters(&broker).len();
    let summary = run_load(&broker, &ndjson, Format::Auto);
    assert_eq!((summary.records_read, summary.records_rejected), (5, 3));
    let letters = dead_letters(&broker);
    let new: Vec<String> = letters[before..].iter().map(|l| format!("{} {}", l.line.unwrap(), l.reason)).collect();
    assert!(new[0].starts_with("2 malformed JSON"), "{new:?}");
    assert_eq!(new[1], "3 field \"Title\": expected text, found an array");
    assert_eq!(new[2], "5 expected a JSON object, found a number");
    let titles: Vec<TitleDoc> =
        messages(&broker, TITLES.name).into_iter().map(|(_, _, p)| serde_json::from_slice(&p).unwrap()).collect();
    assert!(titles.iter().any(|t| t.primary_title == "300" && t.start_year == Some(2007)));
    assert!(titles.iter().any(|t| t.primary_title == "Léon" && t.num_votes == Some(12_345)));
}

#[test]
fn a_broker_killed_mid_load_loses_and_duplicates_nothing() {
    let Some(mut broker) = start_for_test(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateSettings { titles: 20_000, seed: 11, out: dir.path().to_path_buf() }).unwrap();
    let (brokers, input) = (broker.bootstrap_servers(), dir.path().to_path_buf());
    let loader = std::thread::spawn(move || load_into(brokers, input, Format::Auto, 64 * 1024));
    // Kill it while the title documents are flowing, then bring it back.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!loader.is_finished(), "the load ended before the broker was killed: use a bigger dataset");
    broker.kill(1).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    broker.restart(1).unwrap();
    let summary = loader.join().unwrap();
    assert_eq!(summary.messages_failed + summary.messages_unconfirmed, 0);

    let basics = file_rows(dir.path(), RawSource::TitleBasics);
    let titles = messages(&broker, TITLES.name);
    let distinct: std::collections::HashSet<&String> = titles.iter().map(|(_, k, _)| k).collect();
    assert_eq!(distinct.len(), basics.len(), "every title document is there");
    assert_eq!(titles.len(), basics.len(), "and none twice");
    let principals = file_rows(dir.path(), RawSource::TitlePrincipals).len();
    let raw: usize = messages(&broker, RawSource::TitlePrincipals.topic().name)
        .iter()
        .map(|(_, _, p)| std::str::from_utf8(p).unwrap().lines().count())
        .sum();
    assert_eq!(raw, principals, "raw rows neither lost nor duplicated");
}

#[test]
fn vega_movies_json_is_read_as_a_profile() {
    // Fetched by scripts/setup.sh from the npm package vega-datasets.
    let path = std::env::var_os("IMDB_MOVIES_JSON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/data/movies.json"),
        std::path::PathBuf::from,
    );
    if !path.is_file() {
        eprintln!("SKIPPED: {} not found (scripts/setup.sh fetches it)", path.display());
        return;
    }
    let Some(broker) = start_for_test(1) else { return };
    let summary = run_load(&broker, &path, Format::Auto);
    assert_eq!(summary.records_read, 3201);
    // One film has a null title: the only record nothing can be made of.
    assert_eq!(summary.records_rejected, 1);
    assert_eq!(summary.titles_published, 3200);
    let titles: Vec<TitleDoc> =
        messages(&broker, TITLES.name).into_iter().map(|(_, _, p)| serde_json::from_slice(&p).unwrap()).collect();
    let by_title = |t: &str| titles.iter().find(|d| d.primary_title == t);
    assert!(by_title("300").is_some(), "a numeric title is kept as text");
    assert!(by_title("Léon").is_some(), "mis-decoded accents are repaired");
    assert!(by_title("Le Fabuleux destin d'Amélie Poulain").is_some());
    let raw_rows: usize = messages(&broker, RawSource::Json.topic().name)
        .iter()
        .map(|(_, _, p)| std::str::from_utf8(p).unwrap().lines().count())
        .sum();
    assert_eq!(raw_rows, 3200);
}

#[test]
fn a_topic_with_the_wrong_partition_count_is_refused_up_front() {
    let Some(broker) = start_for_test(1) else { return };
    let brokers = broker.bootstrap_servers();
    let wrong = imdb_model::Topic { partitions: 2, ..TITLES };
    ensure_topics(&brokers, &[wrong], None, Duration::from_secs(30)).unwrap();
    let error = ensure_topics(&brokers, &all_topics(), None, Duration::from_secs(30)).unwrap_err();
    assert!(error.is_user_error(), "{error}");
    assert!(error.to_string().contains("imdb.enriched.titles has 2 partitions where ingest needs 6"), "{error}");
}

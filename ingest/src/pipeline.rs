//! The master: plans the passes, feeds workers through bounded channels,
//! and collects the lookup tables between passes.
//!
//! IMDb TSV input runs in three passes:
//! - A: `name.basics` -> the name table (id and name only), so title
//!   documents can name their directors, writers and cast;
//! - B: the title files, aligned by id ([`crate::join`]) -> raw rows and
//!   title documents, and the title table;
//! - C: `name.basics` again -> raw rows and person documents with their
//!   known-for titles from the title table.
//!
//! JSON input is one pass. Every file is read by its own thread (so several
//! gzip streams decompress in parallel), cut into chunks, and the chunks go
//! to `workers` threads over a channel of `2 * workers` slots: when the
//! workers (or the broker behind them) are slow, the readers block, and
//! memory stays bounded by the chunks in flight.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam_channel::{Receiver, Sender, bounded};
use imdb_model::RawSource;

use crate::chunk::{Chunk, ChunkItem, LineChunker};
use crate::enrich::{self, TitleWork};
use crate::error::IngestError;
use crate::join::{Follower, align};
use crate::json;
use crate::json_array::JsonArrayChunker;
use crate::sink::Sink;
use crate::source::{self, Format, InputFile, Inputs};
use crate::stats::Stats;
use crate::tables::{IdTable, NameTable, TitleTable};
use crate::worker::{Ctx, RawSettings};

/// Title files that follow `title.basics` in pass B.
const FOLLOWERS: [RawSource; 5] = [
    RawSource::TitleRatings,
    RawSource::TitleCrew,
    RawSource::TitlePrincipals,
    RawSource::TitleAkas,
    RawSource::TitleEpisode,
];

/// What to load and how (`imdb-ingest load`'s flags).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadSettings {
    /// A directory of IMDb TSV files (`title.basics.tsv[.gz]`, ...), one
    /// such file, a JSON array file or an NDJSON file.
    #[arg(long, env = "IMDB_INGEST_INPUT")]
    pub input: PathBuf,
    /// Input format; `auto` decides from the file name and first byte.
    #[arg(long, env = "IMDB_INGEST_FORMAT", value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Worker threads that parse, join and publish (default: the core count).
    #[arg(long, env = "IMDB_INGEST_WORKERS", default_value_t = default_workers())]
    pub workers: usize,
    /// Target size of the chunks the master hands to workers (decompressed).
    #[arg(long = "chunk-size", value_name = "SIZE", env = "IMDB_INGEST_CHUNK_SIZE", default_value = "1MiB",
          value_parser = crate::units::parse_size)]
    pub chunk_bytes: usize,
    /// Raw-row publishing.
    #[command(flatten)]
    pub raw: RawSettings,
}

/// One worker per core.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

enum Work {
    Names(Chunk),
    Titles(TitleWork),
    People(Chunk),
    Json(Chunk),
    Incident(RawSource, ChunkItem),
}

enum Output {
    Names(NameTable),
    Titles(TitleTable),
}

/// Loads everything `config` names into `sink`.
pub fn load(config: &LoadSettings, sink: &dyn Sink, stats: &Stats) -> Result<(), IngestError> {
    if config.workers == 0 || config.chunk_bytes == 0 {
        return Err(IngestError::BadSetting("--workers and --chunk-size must be positive".into()));
    }
    if config.raw.max_bytes > crate::sink::MAX_MESSAGE_BYTES {
        return Err(IngestError::BadSetting(format!(
            "--raw-batch-bytes is at most {} (Kafka's default message size limit)",
            crate::sink::MAX_MESSAGE_BYTES
        )));
    }
    let inputs = source::discover(&config.input, config.format)?;
    let files: Vec<&InputFile> = match &inputs {
        Inputs::ImdbTsv(files) => files.iter().collect(),
        Inputs::JsonArray(f) | Inputs::Ndjson(f) => vec![f],
    };
    let paths: HashMap<RawSource, String> = files.iter().map(|f| (f.source, f.path.display().to_string())).collect();
    let logged = AtomicU64::new(0);
    let (no_names, no_titles) = (NameTable::default(), TitleTable::default());
    let ctx =
        Ctx { sink, stats, names: &no_names, titles: &no_titles, paths: &paths, raw: config.raw, logged: &logged };

    match &inputs {
        Inputs::JsonArray(file) | Inputs::Ndjson(file) => {
            stats.planned_disk_bytes.store(file.size, Relaxed);
            let array = matches!(inputs, Inputs::JsonArray(_));
            run_pass(&ctx, config.workers, |tx| {
                let rx = spawn_reader(file, stats, config.chunk_bytes, array)?;
                forward(rx, RawSource::Json, tx, Work::Json);
                Ok(())
            })?;
        }
        Inputs::ImdbTsv(_) => {
            let title_files: Vec<&InputFile> =
                [RawSource::TitleBasics].iter().chain(&FOLLOWERS).filter_map(|s| inputs.imdb_file(*s)).collect();
            let name_file = inputs.imdb_file(RawSource::NameBasics);
            let name_passes = if title_files.is_empty() { 1 } else { 2 };
            let planned =
                title_files.iter().map(|f| f.size).sum::<u64>() + name_file.map_or(0, |f| f.size * name_passes);
            stats.planned_disk_bytes.store(planned, Relaxed);

            let names = match (name_file, title_files.is_empty()) {
                (Some(file), false) => build_names(&ctx, config, file)?,
                _ => NameTable::default(),
            };
            let ctx = Ctx { names: &names, ..ctx };
            let titles =
                if title_files.is_empty() { TitleTable::default() } else { join_titles(&ctx, config, &inputs)? };
            let ctx = Ctx { titles: &titles, ..ctx };
            if let Some(file) = name_file {
                run_pass(&ctx, config.workers, |tx| {
                    let rx = spawn_reader(file, stats, config.chunk_bytes, false)?;
                    forward(rx, RawSource::NameBasics, tx, Work::People);
                    Ok(())
                })?;
            }
        }
    }
    match stats.internal_errors.load(Relaxed) {
        0 => Ok(()),
        n => Err(IngestError::WorkerPanic(format!("{n} reader thread(s) failed; see the log"))),
    }
}

/// Pass A.
fn build_names(ctx: &Ctx<'_>, config: &LoadSettings, file: &InputFile) -> Result<NameTable, IngestError> {
    let outputs = run_pass(ctx, config.workers, |tx| {
        let rx = spawn_reader(file, ctx.stats, config.chunk_bytes, false)?;
        // Bad rows are reported in pass C, which reads the file again.
        for item in rx {
            if let ChunkItem::Records(chunk) = item
                && tx.send(Work::Names(chunk)).is_err()
            {
                break;
            }
        }
        Ok(())
    })?;
    merge(outputs.into_iter().filter_map(|o| if let Output::Names(t) = o { Some(t) } else { None }), "name")
}

/// Pass B.
fn join_titles(ctx: &Ctx<'_>, config: &LoadSettings, inputs: &Inputs) -> Result<TitleTable, IngestError> {
    let outputs = run_pass(ctx, config.workers, |tx| {
        let reader = |source| -> Result<Option<Receiver<ChunkItem>>, IngestError> {
            inputs.imdb_file(source).map(|f| spawn_reader(f, ctx.stats, config.chunk_bytes, false)).transpose()
        };
        let basics = reader(RawSource::TitleBasics)?;
        let mut followers = Vec::new();
        for source in FOLLOWERS {
            if let Some(rx) = reader(source)? {
                followers.push(Follower::new(source, rx.into_iter()));
            }
        }
        let incident_tx = tx.clone();
        align(
            basics.into_iter().flatten(),
            &mut followers,
            config.chunk_bytes.saturating_mul(crate::join::FOLLOWER_SHARE),
            |work| tx.send(Work::Titles(work)).is_ok(),
            |source, item| drop(incident_tx.send(Work::Incident(source, item))),
        );
        Ok(())
    })?;
    merge(outputs.into_iter().filter_map(|o| if let Output::Titles(t) = o { Some(t) } else { None }), "title")
}

/// Joins the workers' parts of a lookup table and sorts it.
fn merge<V: Copy>(parts: impl Iterator<Item = IdTable<V>>, what: &str) -> Result<IdTable<V>, IngestError> {
    let parts: Vec<IdTable<V>> = parts.collect();
    let mut table = IdTable::default();
    table.reserve(parts.iter().map(IdTable::len).sum(), parts.iter().map(IdTable::text_len).sum());
    for part in parts {
        table.append(part).map_err(IngestError::Internal)?;
    }
    table.finish();
    table.shrink();
    tracing::info!(table = what, entries = table.len(), heap_mib = table.heap_bytes() >> 20, "lookup table built");
    Ok(table)
}

/// Sends every chunk of `rx` to the workers, wrapped by `wrap`.
fn forward(rx: Receiver<ChunkItem>, source: RawSource, tx: Sender<Work>, wrap: fn(Chunk) -> Work) {
    for item in rx {
        let work = match item {
            ChunkItem::Records(chunk) => wrap(chunk),
            other => Work::Incident(source, other),
        };
        if tx.send(work).is_err() {
            break;
        }
    }
}

/// Runs `workers` threads over the work `produce` sends, and returns what
/// they produced. The first error of any worker is returned, after all have
/// finished.
fn run_pass(
    ctx: &Ctx<'_>,
    workers: usize,
    produce: impl FnOnce(Sender<Work>) -> Result<(), IngestError>,
) -> Result<Vec<Output>, IngestError> {
    let (tx, rx) = bounded::<Work>(workers * 2);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let rx = rx.clone();
                scope.spawn(move || {
                    let mut outputs = Vec::new();
                    for work in rx {
                        if let Some(output) = process(ctx, work)? {
                            outputs.push(output);
                        }
                    }
                    Ok::<_, IngestError>(outputs)
                })
            })
            .collect();
        drop(rx);
        let produced = produce(tx);
        let mut outputs = Vec::new();
        let mut first_error = produced.err();
        for handle in handles {
            match handle.join() {
                Ok(Ok(mut out)) => outputs.append(&mut out),
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(panic) => first_error = first_error.or(Some(IngestError::WorkerPanic(panic_message(&panic)))),
            }
        }
        first_error.map_or(Ok(outputs), Err)
    })
}

fn process(ctx: &Ctx<'_>, work: Work) -> Result<Option<Output>, IngestError> {
    match work {
        Work::Names(chunk) => enrich::collect_names(&chunk).map(|t| Some(Output::Names(t))),
        Work::Titles(work) => enrich::process_titles(ctx, &work).map(|t| Some(Output::Titles(t))),
        Work::People(chunk) => enrich::process_names(ctx, &chunk).map(|()| None),
        Work::Json(chunk) => json::process_json(ctx, &chunk).map(|()| None),
        Work::Incident(source, item) => incident(ctx, source, item).map(|()| None),
    }
}

fn incident(ctx: &Ctx<'_>, source: RawSource, item: ChunkItem) -> Result<(), IngestError> {
    // A record the master could not hand out whole was still read: count it,
    // so that read = published + rejected per source.
    ctx.stats.read(source, 1, 0);
    match item {
        ChunkItem::Records(_) => unreachable!("records are work, not incidents"),
        ChunkItem::Oversized(chunk) => ctx.reject(
            source,
            (Some(chunk.first_line), Some(chunk.first_byte)),
            &format!("{}; skipped to the next line", crate::worker::too_long()),
            &chunk.data,
        ),
        ChunkItem::Failed(failure) => {
            ctx.reject(source, (Some(failure.line), Some(failure.byte_offset)), &failure.reason, &failure.partial)
        }
    }
}

/// Starts a thread that reads `file` and sends its chunks; for TSV files it
/// checks and strips the header line first.
fn spawn_reader(
    file: &InputFile,
    stats: &Stats,
    chunk_bytes: usize,
    json_array: bool,
) -> Result<Receiver<ChunkItem>, IngestError> {
    let reader = source::open(&file.path, stats.disk_bytes.clone())?;
    let (tx, rx) = bounded(2);
    let source = file.source;
    let failures = stats.internal_errors.clone();
    std::thread::Builder::new()
        .name(format!("read-{}", source.file_stem()))
        .spawn(move || {
            let read = std::panic::AssertUnwindSafe(|| {
                let items: Box<dyn Iterator<Item = ChunkItem>> = if json_array {
                    Box::new(JsonArrayChunker::new(reader, chunk_bytes))
                } else {
                    Box::new(LineChunker::new(reader, chunk_bytes))
                };
                let mut first = true;
                for mut item in items {
                    if std::mem::take(&mut first) {
                        strip_bom(&mut item);
                        if source != RawSource::Json
                            && let Err(failure) = strip_header(source, &mut item)
                        {
                            let _ = tx.send(failure);
                            return;
                        }
                    }
                    if tx.send(item).is_err() {
                        return;
                    }
                }
            });
            // A reader that dies must not look like the end of its file.
            if let Err(panic) = std::panic::catch_unwind(read) {
                failures.fetch_add(1, Relaxed);
                tracing::error!(source = source.file_stem(), panic = panic_message(&panic), "reader failed");
            }
        })
        .map_err(|e| IngestError::io(&file.path, e))?;
    Ok(rx)
}

/// Drops a UTF-8 byte-order mark at the start of a file.
fn strip_bom(item: &mut ChunkItem) {
    if let ChunkItem::Records(chunk) = item
        && chunk.first_byte == 0
        && chunk.data.starts_with(b"\xEF\xBB\xBF")
    {
        chunk.data.drain(..3);
        chunk.first_byte = 3;
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Removes the expected header line from the first chunk. A file without a
/// header (its first line is a data row) is read as it is; a file with a
/// different header is refused as a whole, since its columns cannot be
/// trusted.
fn strip_header(source: RawSource, item: &mut ChunkItem) -> Result<(), ChunkItem> {
    let ChunkItem::Records(chunk) = item else { return Ok(()) };
    let end = memchr::memchr(b'\n', &chunk.data).map_or(chunk.data.len(), |i| i + 1);
    let line = String::from_utf8_lossy(&chunk.data[..end]);
    let header = line.trim_end_matches(['\n', '\r']);
    let expected = source.columns().join("\t");
    if header == expected {
        chunk.data.drain(..end);
        chunk.first_line += 1;
        chunk.first_byte += end as u64;
        return Ok(());
    }
    if header.starts_with("tt") || header.starts_with("nm") {
        tracing::warn!(source = source.file_stem(), "no header line; reading the first line as data");
        return Ok(());
    }
    Err(ChunkItem::Failed(crate::chunk::ReadFailure {
        reason: format!("unexpected header {header:?}, expected {expected:?}: file skipped"),
        line: 1,
        byte_offset: 0,
        partial: chunk.data[..end].to_vec(),
    }))
}

//! Input files: finding them, recognising their format, opening them.
//!
//! A `.gz` file (by name or by its magic bytes) is decompressed on the fly.
//! Every source counts the bytes it consumed from disk, which is what the
//! progress bar measures against the files' sizes.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use imdb_model::RawSource;

use crate::error::IngestError;

/// How an input is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Decide from the path: a directory or a file named like an IMDb file
    /// is IMDb TSV; otherwise the first byte tells a JSON array from NDJSON.
    Auto,
    /// IMDb non-commercial TSV files (`title.basics.tsv[.gz]`, ...).
    ImdbTsv,
    /// One JSON array of title records.
    Json,
    /// One JSON title record per line.
    Ndjson,
}

/// One file to read and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Its path.
    pub path: PathBuf,
    /// Which IMDb file (or JSON).
    pub source: RawSource,
    /// Its size on disk.
    pub size: u64,
}

/// What a run reads: either a set of IMDb files, or JSON files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inputs {
    /// IMDb TSV files, at most one per source.
    ImdbTsv(Vec<InputFile>),
    /// A JSON array file.
    JsonArray(InputFile),
    /// An NDJSON file.
    Ndjson(InputFile),
}

impl Inputs {
    /// The IMDb file of `source`, if present.
    pub fn imdb_file(&self, source: RawSource) -> Option<&InputFile> {
        match self {
            Inputs::ImdbTsv(files) => files.iter().find(|f| f.source == source),
            _ => None,
        }
    }
}

/// The IMDb source a file name stands for: `title.basics.tsv`,
/// `title.basics.tsv.gz`, also `title.basics.popular.tsv` style names.
pub fn imdb_source_of(path: &Path) -> Option<RawSource> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name).strip_suffix(".tsv")?;
    let mut parts = stem.split('.');
    let stem = format!("{}.{}", parts.next()?, parts.next()?);
    RawSource::from_file_stem(&stem).filter(|s| *s != RawSource::Json)
}

fn input_file(path: &Path, source: RawSource) -> Result<InputFile, IngestError> {
    let size = std::fs::metadata(path).map_err(|e| IngestError::io(path, e))?.len();
    Ok(InputFile { path: path.to_path_buf(), source, size })
}

/// Finds what to read at `path` in the given format.
pub fn discover(path: &Path, format: Format) -> Result<Inputs, IngestError> {
    let bad = |reason: &str| IngestError::BadInput { path: path.to_path_buf(), reason: reason.to_owned() };
    let meta = std::fs::metadata(path).map_err(|e| IngestError::io(path, e))?;
    if meta.is_dir() {
        if !matches!(format, Format::Auto | Format::ImdbTsv) {
            return Err(bad("a directory is read as IMDb TSV files; JSON input must be a file"));
        }
        let mut files: Vec<InputFile> = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| IngestError::io(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| IngestError::io(path, e))?;
            let Some(source) = imdb_source_of(&entry.path()) else { continue };
            if let Some(other) = files.iter().find(|f| f.source == source) {
                return Err(bad(&format!(
                    "two files for {}: {} and {}",
                    source.file_stem(),
                    other.path.display(),
                    entry.path().display()
                )));
            }
            files.push(input_file(&entry.path(), source)?);
        }
        if files.is_empty() {
            return Err(bad("no IMDb TSV files (title.basics.tsv[.gz], name.basics.tsv[.gz], ...) in this directory"));
        }
        files.sort_by_key(|f| f.source);
        return Ok(Inputs::ImdbTsv(files));
    }
    let format = match format {
        Format::Auto if imdb_source_of(path).is_some() => Format::ImdbTsv,
        Format::Auto => sniff_json(path)?,
        other => other,
    };
    match format {
        Format::ImdbTsv => {
            let source = imdb_source_of(path).ok_or_else(|| {
                bad("an IMDb TSV file must be named after its IMDb file (title.basics.tsv[.gz], ...)")
            })?;
            Ok(Inputs::ImdbTsv(vec![input_file(path, source)?]))
        }
        Format::Json => Ok(Inputs::JsonArray(input_file(path, RawSource::Json)?)),
        Format::Ndjson => Ok(Inputs::Ndjson(input_file(path, RawSource::Json)?)),
        Format::Auto => unreachable!("resolved above"),
    }
}

/// Tells a JSON array from NDJSON by the first byte that is not white space.
fn sniff_json(path: &Path) -> Result<Format, IngestError> {
    let mut reader = open(path, Arc::default())?;
    let mut buf = [0u8; 4096];
    loop {
        let n = reader.read(&mut buf).map_err(|e| IngestError::io(path, e))?;
        if n == 0 {
            return Err(IngestError::BadInput { path: path.to_path_buf(), reason: "the file is empty".into() });
        }
        let first = buf[..n].iter().find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
        match first {
            Some(b'[') => return Ok(Format::Json),
            Some(b'{') => return Ok(Format::Ndjson),
            Some(_) => {
                return Err(IngestError::BadInput {
                    path: path.to_path_buf(),
                    reason: "not IMDb TSV (by name) nor JSON (starts with neither [ nor {); use --format".into(),
                });
            }
            None => {}
        }
    }
}

/// Counts the bytes read through it into a shared counter.
#[derive(Debug)]
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` for reading, decompressing gzip (recognised by its magic
/// bytes), and adds the bytes consumed from disk to `consumed`.
pub fn open(path: &Path, consumed: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut magic = [0u8; 2];
    let is_gzip = {
        use std::io::{Seek, SeekFrom};
        let mut f = &file;
        let n = f.read(&mut magic).map_err(|e| IngestError::io(path, e))?;
        f.seek(SeekFrom::Start(0)).map_err(|e| IngestError::io(path, e))?;
        n == 2 && magic == [0x1f, 0x8b]
    };
    let counted = BufReader::with_capacity(256 * 1024, Counting { inner: file, counter: consumed });
    if is_gzip {
        Ok(Box::new(BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(counted))))
    } else {
        Ok(Box::new(counted))
    }
}

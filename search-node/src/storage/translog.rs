//! The write-ahead log of a shard (Elasticsearch's translog).
//!
//! Contract: an operation is acknowledged only after [`Translog::sync`]
//! returned for it, and a synced operation survives `kill -9`: at start the
//! shard replays every operation newer than its last tantivy commit. Syncs
//! are batched: concurrent requests that wait for a sync share one
//! `fdatasync`, so many small bulks cost one disk flush.
//!
//! Layout: `translog-<generation>.log` files in the shard folder, each a
//! sequence of records `[u32 length][u32 crc32][JSON operation]`. A new
//! generation starts at each tantivy commit (refresh); generations wholly
//! older than a durable commit are deleted. A torn or corrupt record ends a
//! file's replay: it can only be the tail of a write that was never
//! acknowledged.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// One logged operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A document indexed (created or replaced).
    Index {
        /// Document id.
        id: String,
        /// Sequence number in the shard.
        seq_no: u64,
        /// Document version.
        version: u64,
        /// Custom routing, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing: Option<String>,
        /// The source, as JSON text.
        source: String,
    },
    /// A document deleted.
    Delete {
        /// Document id.
        id: String,
        /// Sequence number in the shard.
        seq_no: u64,
        /// Version of the delete.
        version: u64,
    },
}

impl Op {
    /// The operation's sequence number.
    pub fn seq_no(&self) -> u64 {
        match self {
            Op::Index { seq_no, .. } | Op::Delete { seq_no, .. } => *seq_no,
        }
    }
}

struct Writer {
    file: BufWriter<File>,
    generation: u64,
    /// Bytes appended over the log's life (all generations).
    written: u64,
}

/// A shard's translog.
pub struct Translog {
    dir: PathBuf,
    writer: Mutex<Writer>,
    sync_lock: Mutex<()>,
    synced: AtomicU64,
}

impl std::fmt::Debug for Translog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translog").field("dir", &self.dir).finish_non_exhaustive()
    }
}

fn file_name(generation: u64) -> String {
    format!("translog-{generation:010}.log")
}

/// The generations present in a folder, oldest first.
fn generations(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("translog-")?.strip_suffix(".log")?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// Reads the complete records of one file.
fn read_file(path: &Path) -> std::io::Result<Vec<Op>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut ops = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        match serde_json::from_slice(payload) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
        at += 8 + len;
    }
    if at < bytes.len() {
        tracing::warn!(file = %path.display(), valid_bytes = at, total_bytes = bytes.len(), "translog tail torn, ignored");
    }
    Ok(ops)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Translog {
    /// Opens the translog of a shard folder: returns it with the logged
    /// operations, oldest first. Writing goes to a new generation.
    pub fn open(dir: &Path) -> std::io::Result<(Translog, Vec<Op>)> {
        fs::create_dir_all(dir)?;
        let existing = generations(dir)?;
        let mut ops = Vec::new();
        for generation in &existing {
            ops.extend(read_file(&dir.join(file_name(*generation)))?);
        }
        let generation = existing.last().map_or(0, |g| g + 1);
        let file = OpenOptions::new().create(true).append(true).open(dir.join(file_name(generation)))?;
        sync_dir(dir)?;
        let translog = Translog {
            dir: dir.to_path_buf(),
            writer: Mutex::new(Writer { file: BufWriter::new(file), generation, written: 0 }),
            sync_lock: Mutex::new(()),
            synced: AtomicU64::new(0),
        };
        Ok((translog, ops))
    }

    /// Appends operations (buffered); returns the position to [`sync`] to.
    ///
    /// [`sync`]: Translog::sync
    pub fn append(&self, ops: &[Op]) -> std::io::Result<u64> {
        let mut writer = self.writer.lock().expect("not poisoned");
        for op in ops {
            let payload = serde_json::to_vec(op).map_err(std::io::Error::other)?;
            let len = u32::try_from(payload.len()).map_err(|_| std::io::Error::other("operation over 4 GiB"))?;
            writer.file.write_all(&len.to_le_bytes())?;
            writer.file.write_all(&crc32fast::hash(&payload).to_le_bytes())?;
            writer.file.write_all(&payload)?;
            writer.written += 8 + u64::from(len);
        }
        Ok(writer.written)
    }

    /// Makes everything appended up to `position` durable. Callers that
    /// arrive while a sync runs wait for it and are usually covered by the
    /// next one, together.
    pub fn sync(&self, position: u64) -> std::io::Result<()> {
        if self.synced.load(Ordering::Acquire) >= position {
            return Ok(());
        }
        let _one_at_a_time = self.sync_lock.lock().expect("not poisoned");
        if self.synced.load(Ordering::Acquire) >= position {
            return Ok(());
        }
        let (file, written) = {
            let mut writer = self.writer.lock().expect("not poisoned");
            writer.file.flush()?;
            (writer.file.get_ref().try_clone()?, writer.written)
        };
        file.sync_data()?;
        self.synced.fetch_max(written, Ordering::AcqRel);
        Ok(())
    }

    /// Starts a new generation (before a tantivy commit): the current file
    /// is flushed and synced first, so nothing acknowledged depends on it
    /// being synced later. Returns the generation that is now closed.
    pub fn roll(&self) -> std::io::Result<u64> {
        let _no_sync_meanwhile = self.sync_lock.lock().expect("not poisoned");
        let mut writer = self.writer.lock().expect("not poisoned");
        writer.file.flush()?;
        writer.file.get_ref().sync_data()?;
        let closed = writer.generation;
        let next = closed + 1;
        let file = OpenOptions::new().create(true).append(true).open(self.dir.join(file_name(next)))?;
        sync_dir(&self.dir)?;
        writer.file = BufWriter::new(file);
        writer.generation = next;
        self.synced.fetch_max(writer.written, Ordering::AcqRel);
        Ok(closed)
    }

    /// Deletes the generations up to and including `generation`, once a
    /// durable commit holds their operations.
    pub fn trim(&self, generation: u64) -> std::io::Result<()> {
        for g in generations(&self.dir)? {
            if g <= generation {
                fs::remove_file(self.dir.join(file_name(g)))?;
            }
        }
        sync_dir(&self.dir)
    }

    /// Bytes in the generations not yet trimmed.
    pub fn size_bytes(&self) -> u64 {
        generations(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|g| fs::metadata(self.dir.join(file_name(*g))).ok())
            .map(|m| m.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(id: &str, seq_no: u64) -> Op {
        Op::Index { id: id.into(), seq_no, version: 1, routing: None, source: format!("{{\"n\":{seq_no}}}") }
    }

    #[test]
    fn synced_operations_are_replayed_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (log, ops) = Translog::open(dir.path()).unwrap();
            assert!(ops.is_empty());
            let at = log.append(&[index("a", 0), Op::Delete { id: "a".into(), seq_no: 1, version: 2 }]).unwrap();
            log.sync(at).unwrap();
            let at = log.append(&[index("b", 2)]).unwrap();
            log.sync(at).unwrap();
        }
        // A torn record at the end of the newest file.
        let newest = generations(dir.path()).unwrap().pop().unwrap();
        let mut f = OpenOptions::new().append(true).open(dir.path().join(file_name(newest))).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, b'{']).unwrap();
        let (_log, ops) = Translog::open(dir.path()).unwrap();
        assert_eq!(ops.iter().map(Op::seq_no).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn rolled_generations_are_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Translog::open(dir.path()).unwrap();
        log.append(&[index("a", 0)]).unwrap();
        let closed = log.roll().unwrap();
        let at = log.append(&[index("b", 1)]).unwrap();
        log.sync(at).unwrap();
        log.trim(closed).unwrap();
        drop(log);
        let (_, ops) = Translog::open(dir.path()).unwrap();
        assert_eq!(ops, [index("b", 1)]);
    }

    #[test]
    fn concurrent_syncs_all_return_durable() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Translog::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..50 {
                        let at = log.append(&[index(&format!("{t}-{i}"), t * 100 + i)]).unwrap();
                        log.sync(at).unwrap();
                        assert!(log.synced.load(Ordering::Acquire) >= at);
                    }
                });
            }
        });
        drop(log);
        assert_eq!(Translog::open(dir.path()).unwrap().1.len(), 200);
    }
}

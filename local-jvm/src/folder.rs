//! A cluster's data folder: one folder per node (`node-1`, `node-2`, ...),
//! a given folder or a temporary one.
//!
//! Contract: a temporary folder lives as long as its [`TempDir`]; a given
//! one is made absolute, so that pid files and configuration paths written
//! into it are found again from any working directory.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// The folder `dir` (created, made absolute), or a new temporary folder
/// named from `prefix` with its guard.
pub fn open(dir: Option<&Path>, prefix: &str) -> std::io::Result<(Option<TempDir>, PathBuf)> {
    if let Some(dir) = dir {
        fs::create_dir_all(dir)?;
        Ok((None, std::path::absolute(dir)?))
    } else {
        let temp = tempfile::Builder::new().prefix(prefix).tempdir()?;
        let dir = temp.path().to_path_buf();
        Ok((Some(temp), dir))
    }
}

/// Writes `text` to `path`, creating its folder.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, text)
}

/// The node folders (`node-<id>`) of a data folder, in id order.
pub fn node_dirs(data_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = fs::read_dir(data_dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let id = e.file_name().to_str()?.strip_prefix("node-")?.parse().ok()?;
            Some((id, e.path()))
        })
        .collect();
    dirs.sort();
    dirs.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_folders_come_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["node-10", "node-2", "node-1", "logs", "node-x"] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        let names: Vec<String> =
            node_dirs(dir.path()).iter().map(|d| d.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["node-1", "node-2", "node-10"]);
    }
}

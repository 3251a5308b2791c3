//! Finding the workspace's own binaries for tests that run them as
//! processes.
//!
//! Contract: [`workspace_bin`] returns the debug build of a binary made by
//! `cargo build --workspace --bins` (what `scripts/test.sh` runs before the
//! tests), under `$CARGO_TARGET_DIR` when set, else `<workspace root>/target`.
//! It never builds anything: a test binary cannot run cargo on the target
//! folder its own `cargo test` holds locked. A missing binary is a panic
//! that says which command makes it.

use std::path::{Path, PathBuf};

use crate::workspace_root;

/// The target folder cargo builds into: `$CARGO_TARGET_DIR` (a relative one
/// taken from the workspace root, where cargo is normally run), else
/// `<workspace root>/target`.
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// The path of a workspace binary's debug build, if it exists.
pub fn find_workspace_bin(name: &str) -> Option<PathBuf> {
    let path = bin_path(&target_dir(), name);
    path.is_file().then_some(path)
}

/// The path of a workspace binary's debug build.
///
/// # Panics
/// When the binary has not been built, with a message naming the command
/// that builds it.
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = bin_path(&target_dir(), name);
    assert!(
        path.is_file(),
        "{name} is not built (looked for {}): run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

fn bin_path(target: &Path, name: &str) -> PathBuf {
    target.join("debug").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_live_in_the_debug_folder_of_the_target_dir() {
        let path = bin_path(Path::new("/w/target"), "imdb-search-node");
        assert_eq!(
            path,
            Path::new("/w/target/debug").join(format!("imdb-search-node{}", std::env::consts::EXE_SUFFIX))
        );
    }

    #[test]
    #[should_panic(expected = "run `cargo build --workspace --bins` first")]
    fn a_missing_binary_says_how_to_build_it() {
        workspace_bin("no-such-binary-in-this-workspace");
    }
}

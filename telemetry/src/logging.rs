//! One tracing setup for every binary: human-readable lines on standard
//! error (coloured only on a terminal) (standard output is left to a command's own output, e.g.
//! `imdb-ingest inspect`), filtered by `RUST_LOG` when it is set and by
//! the binary's default otherwise.
//!
//! Exit codes are the binaries' other shared convention (DEVELOPERS.md,
//! "Exit codes"): [`EXIT_FAILURE`] when the work failed, [`EXIT_USAGE`]
//! for a setting that cannot work (clap itself exits 2 for a flag it
//! cannot parse, before any of this runs).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The work failed (a run error, a lost cluster, a failed batch).
pub const EXIT_FAILURE: u8 = 1;
/// The command line or a setting cannot work, as clap's own exit code.
pub const EXIT_USAGE: u8 = 2;

/// Installs the process's subscriber: `RUST_LOG` if set (and valid), else
/// `default` (e.g. `"info,rdkafka=warn"`). Call once, first thing in main.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, plain text for files and CI logs.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// An error and its sources, `: `-separated, for logs
/// (`error = %ErrorChain(&e)`): `Display` of an error alone leaves its
/// sources out.
#[derive(Debug)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_chain_shows_every_source() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(ErrorChain(&e).to_string(), "outer: inner");
    }
}

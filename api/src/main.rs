//! `imdb-api`: Stateless HTTP search API over the search cluster, for apps and the web UI.
//!
//! Only the command line exists so far; the service itself is built by its
//! own issue. Running it prints the help and exits 0, so that scripts and
//! packaging can already refer to the binary.

use clap::{CommandFactory, Parser};

/// Stateless HTTP search API over the search cluster, for apps and the web UI.
///
/// Not built yet: this binary only describes itself.
#[derive(Debug, Parser)]
#[command(name = "imdb-api", version)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    Cli::command().print_help().expect("stdout is writable");
    println!();
}

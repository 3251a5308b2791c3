//! Query DSL tests against real indexes.

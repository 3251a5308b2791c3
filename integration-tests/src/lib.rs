//! Integration tests of imdb-search live in `tests/`; this library is empty.

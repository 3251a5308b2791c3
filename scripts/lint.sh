#!/usr/bin/env bash
# The gates, the first step of scripts/test.sh (so CI and a developer's local
# run both stop here first): formatting, clippy with the workspace's lint set
# as errors, rustdoc without warnings, and cargo-deny (scripts/deny.sh).
# Each prints what to run to fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf 'lint: %s\n' "$*" >&2; }
step "cargo fmt --all --check (fix: cargo fmt --all)"
cargo fmt --all --check
step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo doc --workspace --no-deps, warnings as errors"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
step "cargo-deny: licenses, duplicate versions, sources, advisories"
scripts/deny.sh

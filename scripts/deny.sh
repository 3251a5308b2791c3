#!/usr/bin/env bash
# cargo-deny over Cargo.lock (deny.toml): licenses, one version per crate,
# crates.io as the only source, and RustSec advisories from the database
# vendored in deny/advisory-db (deny/README.md), all offline.
#
# cargo-deny reads its advisory database as a git clone under db-path; the
# vendored files become one there, committed with the snapshot's own date
# so that the staleness limit in deny.toml measures the snapshot's age.
set -euo pipefail
cd "$(dirname "$0")/.."
deny=.local/venv/bin/cargo-deny
[ -x "$deny" ] || { echo "deny: $deny missing: run scripts/setup.sh" >&2; exit 2; }
# The folder name cargo-deny derives from the database URL in deny.toml.
db=.local/advisory-dbs/advisory-db-3157b0e258782691
snapshot=$(sed -n 's/^commit_date=//p' deny/advisory-db.snapshot)
if [ "$(git -C "$db" log -1 --format=%cI 2>/dev/null)" != "$snapshot" ] \
  || ! diff -rq --exclude=.git deny/advisory-db "$db" >/dev/null 2>&1; then
  rm -rf "$db"
  mkdir -p "$(dirname "$db")"
  cp -r deny/advisory-db "$db"
  (
    cd "$db"
    git init -q
    git add -A
    GIT_AUTHOR_DATE="$snapshot" GIT_COMMITTER_DATE="$snapshot" \
      git -c user.name=imdb-search -c user.email=imdb-search@localhost commit -qm "RustSec advisory-db snapshot"
  )
fi
# Cargo.lock's crates are downloaded by the build; --offline keeps
# cargo-deny off GitHub (unreachable) and off the network altogether.
cargo fetch --locked --target x86_64-unknown-linux-gnu >/dev/null
"$deny" --offline check "$@"

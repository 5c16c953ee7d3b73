#!/usr/bin/env bash
# Model-check the concurrent state machines with loom: every interleaving of a few
# threads. A separate build (`--cfg loom` swaps std's atomics and locks for loom's), kept
# in its own target directory so it does not evict the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dsys-target}/loom"
RUSTFLAGS="--cfg loom" cargo test --locked --release -p dsys-resilience --lib -- breaker::model bulkhead::model rate::model retry::model
# The event store's group commit. Its own cfg: tokio (under the PostgreSQL client) changes
# itself under `--cfg loom`.
RUSTFLAGS="--cfg dsys_loom" cargo test --locked --release -p dsys-tx --lib -- group_commit::model

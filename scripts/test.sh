#!/usr/bin/env bash
# The one test command: formatting, lints, every test. Works on a fresh machine with
# only the Rust toolchain; the build cache lives outside the clone so reruns are fast.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dsys-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "doc tests"
cargo test --workspace --locked --doc

step "agent skill (the public validator)"
scripts/validate-skill.sh

step "spec schema (a public JSON Schema validator)"
scripts/validate-spec-schema.sh

step "model check (loom)"
scripts/model-check.sh

step "services"
# The servers the integration tests start and stop themselves (on 127.0.0.1 only), and
# Graphviz (the DOT drawings are rendered by it) and nginx (the gateway benchmark's peer,
# whose set-up a test runs); installed here if missing, and then
# required: a test that finds none fails.
scripts/services.sh install redis postgres nats etcd graphviz nginx
export DSYS_REQUIRE_SERVICES=1

# Last, so the runner's summary closes the output.
step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --profile ci
else
    cargo test --workspace --locked --lib --bins --tests
fi

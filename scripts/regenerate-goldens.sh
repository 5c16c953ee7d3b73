#!/usr/bin/env bash
# Regenerate the golden designs and drawings of the example specs (and the skill's
# architecture diagrams), after a change to the advisor or the diagrams that is meant to
# change them. Review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin dsys
dsys="${CARGO_TARGET_DIR:-target}/debug/dsys"
for spec in specs/*.toml; do
    name="$(basename "$spec" .toml)"
    "$dsys" design "$spec" --format json > "crates/cli/tests/golden/design/$name.json"
    "$dsys" diagram "$spec" --format unicode > "crates/cli/tests/golden/diagram/$name.txt"
    "$dsys" diagram "$spec" --format ascii > "crates/cli/tests/golden/diagram/$name.ascii.txt"
    "$dsys" diagram "$spec" --format svg > "crates/cli/tests/golden/diagram/$name.svg"
    "$dsys" diagram "$spec" --format mermaid > "crates/cli/tests/golden/diagram/$name.mmd"
    "$dsys" diagram "$spec" --format dot > "crates/cli/tests/golden/diagram/$name.dot"
done
# The skill's architecture diagrams are dsys's drawings too (checked byte for byte).
for drawing in skills/designing-distributed-systems/diagrams/*-architecture.txt; do
    name="$(basename "$drawing" -architecture.txt)"
    "$dsys" diagram "specs/$name.toml" --format ascii --width 80 > "$drawing"
done
git status --short crates/cli/tests/golden skills/designing-distributed-systems/diagrams

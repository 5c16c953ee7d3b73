#!/usr/bin/env bash
# Fuzz the history readers (and every check behind them) and the requirement-spec parser
# (and the advisor behind it) with libFuzzer.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# Needs a nightly toolchain and cargo-fuzz; installs cargo-fuzz if missing.
# Crashes land in fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
for target in read_dsys read_jepsen_edn read_jepsen_log read_spec; do
    echo "== $target for ${seconds}s"
    # The example specs seed the spec parser's corpus.
    seeds=()
    if [ "$target" = read_spec ]; then
        mkdir -p fuzz/corpus/read_spec
        seeds=(fuzz/corpus/read_spec specs)
    fi
    cargo +nightly fuzz run "$target" "${seeds[@]}" -- -max_total_time="$seconds" -max_len=4096
done

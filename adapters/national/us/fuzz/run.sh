#!/usr/bin/env bash
# Run every trilink-us fuzz target for a bounded time each.
# Usage: adapters/national/us/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Needs cargo-fuzz; on a stable toolchain RUSTC_BOOTSTRAP=1 lets it use -Zsanitizer.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
status=0
for target in $(cargo fuzz list); do
    echo "=== fuzzing ${target} for ${secs}s"
    # Seed the corpus with the committed valid vectors (hex -> bytes).
    mkdir -p "corpus/${target}"
    for f in ../../../../schemas/vectors/us/*.hex; do
        name="$(basename "$f" .hex)"
        grep -v '^#' "$f" | sed 's/#.*//' | tr -d ' \n' | xxd -r -p > "corpus/${target}/vec-${name}" || true
    done
    if ! cargo fuzz run "${target}" -- -max_total_time="${secs}" -rss_limit_mb=1024; then
        echo "!!! ${target}: crash found (see artifacts/${target}/)"
        status=1
    fi
done
exit "${status}"

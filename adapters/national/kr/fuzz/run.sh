#!/usr/bin/env bash
# Run every KR fuzz target for a bounded time each.
#   adapters/national/kr/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Seeds each corpus with the committed test vectors. Needs cargo-fuzz; on a stable
# toolchain RUSTC_BOOTSTRAP=1 enables the nightly-only sanitizer flags.
set -euo pipefail
secs="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
vectors="$here/../../../schemas/vectors/kr"
cd "$here"
export RUSTC_BOOTSTRAP=1
for target in decode roundtrip; do
    mkdir -p "corpus/$target"
    for f in "$vectors"/*.hex; do
        name="$(basename "$f" .hex)"
        sed 's/#.*//' "$f" | tr -d ' \n\r\t' | xxd -r -p > "corpus/$target/vec-$name" || true
    done
    echo "== fuzz target $target for ${secs}s"
    cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$secs" -max_len=4096 2>&1 \
        | tee "/tmp/kr-fuzz-$target.log" | grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY|.*panicked)' || true
    if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
        echo "!! crashes found in artifacts/$target" >&2
        exit 1
    fi
done

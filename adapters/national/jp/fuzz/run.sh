#!/usr/bin/env bash
# Run every JP fuzz target for a bounded time each.
#   adapters/national/jp/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Needs cargo-fuzz (cargo install cargo-fuzz). The toolchain is stable, so RUSTC_BOOTSTRAP=1
# enables the nightly-only sanitizer flags cargo-fuzz passes. Exits non-zero if a target
# finds a crash; the reproducer is left in fuzz/artifacts/<target>/.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
# Seed the corpora from the committed test vectors (valid and invalid frames).
python3 - <<'PY'
import glob, os, struct
for path in glob.glob("../../../../schemas/vectors/jp/*.hex"):
    text = "".join(l.split("#")[0] for l in open(path))
    raw = bytes.fromhex("".join(text.split()))
    name = os.path.basename(path)[:-4]
    os.makedirs("corpus/decode", exist_ok=True)
    open(f"corpus/decode/vec-{name}", "wb").write(raw)
    if len(raw) >= 12:
        # roundtrip input: 8 bytes of receive time, type byte - 1, body.
        os.makedirs("corpus/roundtrip", exist_ok=True)
        seed = struct.pack(">II", 1795000000, 123456789) + bytes([(raw[3] - 1) % 256]) + raw[10:-2]
        open(f"corpus/roundtrip/vec-{name}", "wb").write(seed)
PY
status=0
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    echo "== $target: ${secs}s"
    if ! cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$secs" -print_final_stats=1; then
        echo "!! $target found a crash (see artifacts/$target/)"
        status=1
    fi
done
exit "$status"

#!/usr/bin/env bash
# Replay timing benchmark (BENCHMARKS.md "Replay timing"): replays a national capture at a
# recorded (or scaled) pace into real receivers on loopback — `trilink record` on UDP/TCP and
# a mosquitto for KR — and prints the replay's timing summary (JSON, one line).
#
#   adapters/tools/cli/scripts/replay-timing.sh CAPTURE SPEED LABEL [extra `trilink replay` args]
#   BUSY=2 adapters/tools/cli/scripts/replay-timing.sh …   # with two CPU-bound `yes` processes
#
# TRILINK (default target/release/trilink) is the binary measured. Every process started is
# stopped by PID on exit; all sockets are on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../../.."
T=${TRILINK:-target/release/trilink}
cap=$1; speed=$2; label=$3; shift 3
export PATH="$PATH:/usr/sbin"
d=$(mktemp -d "${TMPDIR:-/tmp}/replay-timing.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
free() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
for _ in $(seq 1 "${BUSY:-0}"); do yes > /dev/null & pids+=($!); done
MQ=$(free); JP=$(free); US=$(free)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQ" > "$d/mq.conf"
mosquitto -c "$d/mq.conf" > "$d/mq.log" 2>&1 & pids+=($!)
sleep 0.5
"$T" record --out "$d/r.pcapng" --jp-udp "$JP" --us-tcp "$US" \
  --kr-mqtt "mqtt://127.0.0.1:$MQ/kr/warning/out" > "$d/rec.log" 2>&1 & rec=$!; pids+=($rec)
sleep 1
load0=$(cut -d' ' -f1 /proc/loadavg)
"$T" replay "$cap" --jp "udp://127.0.0.1:$JP" --us "tcp://127.0.0.1:$US" \
  --kr "mqtt://127.0.0.1:$MQ/kr/warning/out" --speed "$speed" --json --no-progress "$@" \
  > "$d/summary.json"
load1=$(cut -d' ' -f1 /proc/loadavg)
sleep 1
kill -INT "$rec" 2>/dev/null || true
python3 - "$d/summary.json" "$label" "$load0" "$load1" <<'PY'
import json, sys
path, label, l0, l1 = sys.argv[1:]
s = json.load(open(path))
keep = ("sent", "clock_scheduling", "timing_error_ms", "mqtt_wire_error_ms")
print(label, "load", l0, "->", l1, json.dumps({k: s.get(k) for k in keep}))
PY

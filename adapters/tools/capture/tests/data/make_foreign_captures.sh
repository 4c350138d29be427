#!/usr/bin/env bash
# Regenerates the tshark-written captures in this folder (run as root, from the repo root):
#   adapters/tools/capture/tests/data/make_foreign_captures.sh
# Real loopback traffic: JP frames as UDP datagrams to 127.0.0.1:15500, US SIMPLE frames as one
# TCP stream to 127.0.0.1:15601 in odd-sized writes, KR sentences PUBLISHed (QoS 1) by a
# hand-written MQTT 3.1.1 client to a real mosquitto on 127.0.0.1:18830. Captured three ways:
#   foreign-any-sll2.pcapng  tshark -i any -y LINUX_SLL2 (Linux cooked v2, as newer tcpdump -i any)
#   foreign-any-sll.pcap     tshark -i any -y LINUX_SLL -F pcap (Linux cooked v1, legacy pcap)
#   foreign-lo.pcap          tshark -i lo, then editcap -F pcap (Ethernet, legacy pcap, usec)
# The exact frames sent are written to frames-{jp,kr,us}.hex (one frame per line).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

TRILINK_DUMP_DIR="$here" cargo test -q -p trilink-capture --test foreign_captures -- --ignored dump_frames >/dev/null

printf 'listener 18830 127.0.0.1\nallow_anonymous true\npersistence false\n' > "$work/m.conf"
/usr/sbin/mosquitto -c "$work/m.conf" >"$work/mosq.log" 2>&1 & pids+=($!)
sleep 1
filter="udp port 15500 or tcp port 15601 or tcp port 18830"
tshark -i any -y LINUX_SLL2 -w "$work/any2.pcapng" -f "$filter" -q 2>"$work/t1.log" & pids+=($!); t1=$!
tshark -i any -y LINUX_SLL -F pcap -w "$work/any1.pcap" -f "$filter" -q 2>"$work/t2.log" & pids+=($!); t2=$!
tshark -i lo -w "$work/lo.pcapng" -f "$filter" -q 2>"$work/t3.log" & pids+=($!); t3=$!
for l in t1 t2 t3; do for _ in $(seq 100); do grep -q "Capturing on" "$work/$l.log" && break; sleep 0.1; done; done
sleep 1

python3 - "$here" <<'PY'
import socket, sys, time, threading
d = sys.argv[1]
def frames(n): return [bytes.fromhex(l) for l in open(f"{d}/frames-{n}.hex").read().split()]
jp, kr, us = frames("jp"), frames("kr"), frames("us")
# JP: UDP datagrams
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 15500))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); tx.bind(("127.0.0.1", 15499))
for f in jp:
    tx.sendto(f, ("127.0.0.1", 15500)); assert rx.recv(4096) == f; time.sleep(0.003)
# US: one TCP stream in odd-sized writes
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(("127.0.0.1", 15601)); ls.listen(1)
got = []
def srv():
    c, _ = ls.accept()
    while True:
        b = c.recv(65536)
        if not b: break
        got.append(b)
    c.close()
t = threading.Thread(target=srv); t.start()
c = socket.create_connection(("127.0.0.1", 15601)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
stream = b"".join(us); sizes = [5, 17, 3, 41, 1, 29, 64]; i = 0; k = 0
while i < len(stream):
    n = sizes[k % len(sizes)]; c.sendall(stream[i:i+n]); i += n; k += 1; time.sleep(0.002)
c.close(); t.join(); assert b"".join(got) == stream
# KR: MQTT 3.1.1 CONNECT, PUBLISH QoS 1 per sentence, DISCONNECT
def rl(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def s(x): return len(x).to_bytes(2, "big") + x
m = socket.create_connection(("127.0.0.1", 18830))
vh = s(b"MQTT") + b"\x04\x02" + (60).to_bytes(2, "big") + s(b"kr-national-system")
m.sendall(b"\x10" + rl(len(vh)) + vh); assert m.recv(4)[0] == 0x20
for pkid, f in enumerate(kr, 1):
    body = s(b"kr/kamd/warning") + pkid.to_bytes(2, "big") + f
    m.sendall(b"\x32" + rl(len(body)) + body)
    ack = m.recv(4); assert ack[0] == 0x40 and int.from_bytes(ack[2:4], "big") == pkid, ack
    time.sleep(0.003)
m.sendall(b"\xe0\x00"); m.close()
PY
sleep 1
for p in $t1 $t2 $t3; do kill -INT "$p"; done
for p in $t1 $t2 $t3; do wait "$p" || true; done
cp "$work/any2.pcapng" "$here/foreign-any-sll2.pcapng"
cp "$work/any1.pcap" "$here/foreign-any-sll.pcap"
editcap -F pcap "$work/lo.pcapng" "$here/foreign-lo.pcap"
for f in foreign-any-sll2.pcapng foreign-any-sll.pcap foreign-lo.pcap; do capinfos -t -E -c "$here/$f" | sed 's/^/  /'; done

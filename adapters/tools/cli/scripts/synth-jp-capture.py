#!/usr/bin/env python3
"""Synthetic JP capture for the replay timing benchmark.

synth-jp-capture.py SRC.pcapng OUT.pcapng RATE SECONDS: the JP UDP datagrams (port 5500) of
SRC, extracted with tshark, repeated at RATE per second for SECONDS into a pcapng (Ethernet,
microsecond timestamps) that `trilink replay` reads with SRC's capture map.
"""
import struct, subprocess, sys
src, out, rate, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
hexes = subprocess.run(["tshark", "-r", src, "-Y", "udp.dstport==5500", "-T", "fields", "-e", "udp.payload"],
                       capture_output=True, text=True, check=True).stdout.split()
frames = [bytes.fromhex(h.replace(":", "")) for h in hexes]
assert frames, "no JP frames"
def blk(t, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", t, n) + body + struct.pack("<I", n)
def csum(h):
    s = sum(struct.unpack("!10H", h)); s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
with open(out, "wb") as f:
    f.write(blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    f.write(blk(1, struct.pack("<HHI", 1, 0, 65535)))  # Ethernet, µs timestamps
    t0 = 1_795_000_000_000_000
    n = int(rate * secs)
    for i in range(n):
        p = frames[i % len(frames)]
        udp = struct.pack("!HHHH", 40000, 5500, 8 + len(p), 0) + p
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0, bytes([127,0,0,1]), bytes([127,0,0,1]))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pkt = b"\0" * 12 + b"\x08\x00" + ip + udp
        ts = t0 + i * 1_000_000 // rate
        f.write(blk(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff, len(pkt), len(pkt)) + pkt))
print(n, "frames from", len(frames), "distinct")

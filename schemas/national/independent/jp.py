"""Independent decoder for the JP reference format (schemas/national/jp.md), stdlib only.

Written only from jp.md; never from adapters/national/jp. `decode(frame, ingested_at)` takes one
whole UDP datagram and returns the common-schema envelope as a JSON-compatible dict, or
raises `DecodeError` whose `.code` is the spec's error code (section 10).
"""

from __future__ import annotations

import math
import uuid

from common import (
    TRACK_ID_RE,
    DecodeError,
    derive_message_id,
    format_rfc3339,
    nation_set,
    parse_rfc3339,
    rfc3339_to_unix_us,
)

MAX_FRAME_LEN = 1024
MIN_FRAME_LEN = 12
HEADER_LEN = 10
TOD_MAX = 86_399_999_999
DAY_US = 86_400_000_000
JST_OFFSET_US = 32_400_000_000
HALF_DAY_US = 43_200_000_000

KINDS = {
    1: "launch_detection",
    2: "track_update",
    3: "impact_prediction",
    4: "event_end",
    5: "cancel",
    6: "correction",
    7: "status",
}
ORIGINS = {1: "jp", 2: "kr", 3: "us"}
MODES = {1: "real_world", 2: "exercise", 3: "test"}
MISSILE_CLASSES = {1: "srbm", 2: "mrbm", 3: "irbm", 4: "icbm", 5: "slbm", 6: "unknown"}
FLIGHT_PHASES = {1: "boost", 2: "midcourse", 3: "terminal", 4: "unknown"}
END_REASONS = {1: "impact", 2: "lost", 3: "other"}
STATES = {1: "ok", 2: "degraded", 3: "down"}


def crc16_ibm_3740(data: bytes) -> int:
    """Bitwise CRC-16/IBM-3740, exactly as printed in jp.md section 3.3."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


assert crc16_ibm_3740(b"123456789") == 0x29B1


def resolve_tod(tod: int, ref_us: int) -> int:
    """Section 6: the instant with JST time of day `tod` in [R - 12 h, R + 12 h)."""
    r_tod = (ref_us + JST_OFFSET_US) % DAY_US
    delta = ((tod - r_tod + HALF_DAY_US) % DAY_US) - HALF_DAY_US
    return ref_us + delta


class _Reader:
    """Reads fields from frame[pos:end] (end = length - 2, the CRC's offset)."""

    def __init__(self, frame: bytes, pos: int, end: int) -> None:
        self.frame = frame
        self.pos = pos
        self.end = end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise DecodeError("bad_length", f"{what} runs past the CRC")
        out = self.frame[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def i32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "big", signed=True)

    def enum(self, table: dict[int, str], what: str) -> str:
        code = self.uint(1, what)
        if code not in table:
            raise DecodeError("field_out_of_range", f"{what} code {code}")
        return table[code]

    def ranged(self, value: int, lo: int, hi: int, what: str) -> int:
        if not lo <= value <= hi:
            raise DecodeError("field_out_of_range", f"{what} = {value}")
        return value

    def tod(self, what: str) -> int:
        return self.ranged(self.uint(8, what), 0, TOD_MAX, what)

    def text(self, prefix: int, limit: int, what: str) -> str:
        n = self.uint(prefix, f"{what} length")
        # Limit is checked before the bytes are required to be present (FINDINGS J-3).
        if n > limit:
            raise DecodeError("field_out_of_range", f"{what} length {n} > {limit}")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("bad_text", f"{what}: {exc}") from None

    def track_id(self) -> str:
        n = self.uint(1, "track_id length")
        if not 1 <= n <= 32:
            raise DecodeError("field_out_of_range", f"track_id length {n}")
        raw = self.take(n, "track_id")
        text = raw.decode("latin-1")
        if not TRACK_ID_RE.fullmatch(text):
            raise DecodeError("bad_text", f"track_id {raw!r}")
        return text

    def point(self, what: str) -> dict:
        lat = self.ranged(self.i32(f"{what}.lat"), -900_000_000, 900_000_000, f"{what}.lat")
        lon = self.ranged(self.i32(f"{what}.lon"), -1_800_000_000, 1_800_000_000, f"{what}.lon")
        alt = self.ranged(self.i32(f"{what}.alt"), -100_000, 1_000_000_000, f"{what}.alt")
        return {"lat_deg": lat / 1e7, "lon_deg": lon / 1e7, "alt_m": alt / 100}

    def cm32(self, what: str) -> float:
        return self.ranged(self.uint(4, what), 0, 1_000_000_000, what) / 100

    def mmps32(self, what: str) -> float:
        return self.ranged(self.i32(what), -12_000_000, 12_000_000, what) / 1000


def decode(frame_bytes: bytes, ingested_at: str) -> dict:
    """Decode one whole JP datagram into a common envelope dict (jp.md sections 3-10)."""
    buf = bytes(frame_bytes)
    # 1. sync, on the bytes present
    if (len(buf) >= 1 and buf[0] != 0x4A) or (len(buf) >= 2 and buf[1] != 0x50):
        raise DecodeError("bad_sync")
    # 2. length as soon as present
    if len(buf) >= 6:
        length = int.from_bytes(buf[4:6], "big")
        if length > MAX_FRAME_LEN:
            raise DecodeError("oversize", f"length {length}")
        if length < MIN_FRAME_LEN:
            raise DecodeError("bad_length", f"length {length}")
    # 3./4. incomplete datagram
    if len(buf) < HEADER_LEN:
        raise DecodeError("truncated", f"{len(buf)} bytes < header")
    length = int.from_bytes(buf[4:6], "big")
    if len(buf) < length:
        raise DecodeError("truncated", f"{len(buf)} bytes < length {length}")
    frame = buf[:length]
    # 5. CRC
    crc_written = int.from_bytes(frame[length - 2 : length], "big")
    crc_computed = crc16_ibm_3740(frame[: length - 2])
    if crc_written != crc_computed:
        raise DecodeError("bad_checksum", f"computed {crc_computed:#06x}, frame {crc_written:#06x}")
    # 6./7.
    if frame[2] != 1:
        raise DecodeError("unsupported_version", str(frame[2]))
    msg_type = frame[3]
    if msg_type not in KINDS:
        raise DecodeError("unknown_type", str(msg_type))
    # 8. fields in wire order
    r = _Reader(frame, HEADER_LEN, length - 2)
    origin = r.enum(ORIGINS, "origin")
    mode = r.enum(MODES, "mode")
    rel = r.uint(1, "releasability")
    if rel & 0xF8:
        raise DecodeError("field_out_of_range", f"releasability reserved bits {rel:#04x}")
    ref_count = r.ranged(r.uint(1, "ref_count"), 0, 16, "ref_count")
    observed_tod = r.tod("observed_tod")
    system = r.text(1, 64, "system")
    sensor = r.text(1, 64, "sensor")
    national_id = r.text(1, 128, "national_message_id")
    references = [str(uuid.UUID(bytes=r.take(16, "reference"))) for _ in range(ref_count)]

    ingested_us = rfc3339_to_unix_us(ingested_at)
    observed_us = resolve_tod(observed_tod, ingested_us)

    def when(tod: int) -> str:
        return format_rfc3339(resolve_tod(tod, observed_us))

    kind = KINDS[msg_type]
    payload: dict = {"kind": kind}
    if kind == "launch_detection":
        payload["track_id"] = r.track_id()
        payload["launch_time"] = when(r.tod("launch_tod"))
        payload["launch_point"] = r.point("launch")
        payload["launch_point_uncertainty"] = {
            "horizontal_m": r.cm32("unc_h"),
            "vertical_m": r.cm32("unc_v"),
        }
        payload["missile_class"] = r.enum(MISSILE_CLASSES, "missile_class")
        payload["confidence"] = r.ranged(r.uint(2, "confidence"), 0, 10_000, "confidence") / 1e4
    elif kind == "track_update":
        payload["track_id"] = r.track_id()
        payload["time"] = when(r.tod("track_tod"))
        payload["position"] = r.point("position")
        payload["position_uncertainty"] = {
            "horizontal_m": r.cm32("unc_h"),
            "vertical_m": r.cm32("unc_v"),
        }
        payload["velocity"] = {
            "east_mps": r.mmps32("vel_e"),
            "north_mps": r.mmps32("vel_n"),
            "up_mps": r.mmps32("vel_u"),
        }
        payload["quality"] = r.ranged(r.uint(1, "quality"), 0, 15, "quality")
        payload["flight_phase"] = r.enum(FLIGHT_PHASES, "flight_phase")
    elif kind == "impact_prediction":
        payload["track_id"] = r.track_id()
        payload["impact_time"] = when(r.tod("impact_tod"))
        payload["impact_point"] = r.point("impact")
        payload["error_ellipse"] = {
            "semi_major_m": r.cm32("semi_major"),
            "semi_minor_m": r.cm32("semi_minor"),
            "orientation_deg": r.ranged(r.uint(2, "orientation"), 0, 18_000, "orientation") / 100,
        }
    elif kind == "event_end":
        payload["track_id"] = r.track_id()
        payload["time"] = when(r.tod("end_tod"))
        payload["reason"] = r.enum(END_REASONS, "end_reason")
        flags = r.uint(1, "end_flags")
        if flags & 0xFE:
            raise DecodeError("field_out_of_range", f"end_flags reserved bits {flags:#04x}")
        if flags & 1:
            payload["final_point"] = r.point("final")
    elif kind == "cancel":
        payload["track_id"] = r.track_id()
        payload["reason"] = r.text(2, 256, "reason")
    elif kind == "correction":
        payload["track_id"] = r.track_id()
        payload["reason"] = r.text(2, 256, "reason")
        flags = r.uint(1, "correction_flags")
        if flags & 0xF8:
            raise DecodeError("field_out_of_range", f"correction_flags reserved bits {flags:#04x}")
        if flags & 1:
            payload["corrected_time"] = when(r.tod("corrected_tod"))
        if flags & 2:
            payload["corrected_point"] = r.point("corrected")
        if flags & 4:
            payload["corrected_missile_class"] = r.enum(MISSILE_CLASSES, "corrected_class")
    else:  # status
        payload["component"] = r.text(1, 64, "component")
        payload["state"] = r.enum(STATES, "state")
        payload["uptime_s"] = r.ranged(r.uint(8, "uptime"), 0, 10**15, "uptime") / 1e6
        payload["detail"] = r.text(2, 256, "detail")
    # 9. leftover body bytes
    if r.pos != r.end:
        raise DecodeError("bad_length", f"{r.end - r.pos} bytes between body and CRC")
    # 10. datagram longer than the frame
    if len(buf) > length:
        raise DecodeError("trailing_bytes", f"{len(buf) - length} bytes after the frame")

    return {
        "schema_version": 1,
        "message_id": derive_message_id(origin, system, national_id),
        "origin": origin,
        "source": {"system": system, "sensor": sensor, "national_message_id": national_id},
        "observed_at": format_rfc3339(observed_us),
        "ingested_at": ingested_at,
        "mode": mode,
        "releasability": nation_set((bool(rel & 1), bool(rel & 2), bool(rel & 4))),
        "provenance": [],
        "hop_limit": 4,
        "references": references,
        "payload": payload,
    }


# ------------------------------------------------------------ encoder-side checks


def _fits(value: float, scale: float, lo: int, hi: int) -> bool:
    """Section 8: multiply, round half away from zero, must be finite and in range."""
    if not math.isfinite(value):
        return False
    scaled = value * scale
    rounded = math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)
    return lo <= rounded <= hi


def unrepresentable_reason(env: dict) -> str | None:
    """Why `to_national` must refuse `env` with `unrepresentable` (jp.md section 10), or None.

    Only the checks the spec lists; this is not an encoder.
    """
    src = env["source"]
    for name, limit in (("system", 64), ("sensor", 64), ("national_message_id", 128)):
        if len(src[name].encode("utf-8")) > limit:
            return f"source.{name} longer than {limit} bytes"
    if len(env["references"]) > 16:
        return "more than 16 references"
    if parse_rfc3339(env["observed_at"])[2]:
        return "observed_at is a leap second"
    p = env["payload"]

    def point_ok(pt: dict) -> bool:
        return (
            _fits(pt["lat_deg"], 1e7, -900_000_000, 900_000_000)
            and _fits(pt["lon_deg"], 1e7, -1_800_000_000, 1_800_000_000)
            and _fits(pt["alt_m"], 100, -100_000, 1_000_000_000)
        )

    if "track_id" in p and not TRACK_ID_RE.fullmatch(p["track_id"]):
        return "track id"
    for key in ("launch_point", "position", "impact_point", "final_point", "corrected_point"):
        if key in p and not point_ok(p[key]):
            return f"{key} out of range"
    for key in ("launch_point_uncertainty", "position_uncertainty"):
        if key in p:
            for sub in ("horizontal_m", "vertical_m"):
                if not _fits(p[key][sub], 100, 0, 1_000_000_000):
                    return f"{key}.{sub} out of range"
    if "velocity" in p:
        for sub in ("east_mps", "north_mps", "up_mps"):
            if not _fits(p["velocity"][sub], 1000, -12_000_000, 12_000_000):
                return f"velocity.{sub} out of range"
    if "confidence" in p and not _fits(p["confidence"], 1e4, 0, 10_000):
        return "confidence out of range"
    if "error_ellipse" in p:
        ee = p["error_ellipse"]
        if not (
            _fits(ee["semi_major_m"], 100, 0, 1_000_000_000)
            and _fits(ee["semi_minor_m"], 100, 0, 1_000_000_000)
            and _fits(ee["orientation_deg"], 100, 0, 18_000)
        ):
            return "error ellipse out of range"
    if "quality" in p and not 0 <= p["quality"] <= 15:
        return "quality out of range"
    if "uptime_s" in p and not _fits(p["uptime_s"], 1e6, 0, 10**15):
        return "uptime out of range"
    for key, limit in (("reason", 256), ("detail", 256), ("component", 64)):
        if key in p and len(p[key].encode("utf-8")) > limit:
            return f"{key} longer than {limit} bytes"
    for key in ("launch_time", "time", "impact_time", "corrected_time"):
        if key in p and parse_rfc3339(p[key])[2]:
            return f"{key} is a leap second"
    return None

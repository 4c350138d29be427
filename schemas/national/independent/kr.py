"""Independent decoder for the KR reference format `$TLKR` (schemas/national/kr.md), stdlib only.

Written only from kr.md; never from adapters/national/kr. `decode(payload, ingested_at)` takes one
whole MQTT payload and returns the common-schema envelope as a JSON-compatible dict, or
raises `DecodeError` whose `.code` is the spec's error code (section 9).
"""

from __future__ import annotations

import math
import re
import zlib

from common import (
    TRACK_ID_RE,
    DecodeError,
    days_from_civil,
    days_in_month,
    derive_message_id,
    format_rfc3339,
    parse_rfc3339,
    rfc3339_to_unix_us,
)

SYNC = b"$TLKR,"
MAX_SENTENCE = 2048
FIELD_COUNTS = {"LCH": 20, "TRK": 23, "IMP": 19, "END": 17, "CAN": 13, "COR": 18, "STA": 15}
KINDS = {
    "LCH": "launch_detection",
    "TRK": "track_update",
    "IMP": "impact_prediction",
    "END": "event_end",
    "CAN": "cancel",
    "COR": "correction",
    "STA": "status",
}
MODES = {"REAL": "real_world", "EXERCISE": "exercise", "TEST": "test"}
NATION_CODES = {"JP": "jp", "KR": "kr", "US": "us"}
CLASSES = {w: w.lower() for w in ("SRBM", "MRBM", "IRBM", "ICBM", "SLBM", "UNKNOWN")}
PHASES = {w: w.lower() for w in ("BOOST", "MIDCOURSE", "TERMINAL", "UNKNOWN")}
END_REASONS = {w: w.lower() for w in ("IMPACT", "LOST", "OTHER")}
STATES = {w: w.lower() for w in ("OK", "DEGRADED", "DOWN")}

UPPER_HEX = set(b"0123456789ABCDEF")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
I64_MAX = 2**63 - 1

# 1970-01-01T00:00:00Z .. 9999-12-31T14:59:59.999999Z (section 5.4)
TIME_MIN_US = 0
TIME_MAX_US = (days_from_civil(9999, 12, 31) * 86_400 + 14 * 3600 + 59 * 60 + 59) * 1_000_000 + 999_999


def _is_plain(byte: int) -> bool:
    return 0x20 <= byte <= 0x7E and byte not in b"$*,\\^"


class _Fields:
    def __init__(self, fields: list[str]) -> None:
        self.f = fields

    # -- generic helpers ---------------------------------------------------------
    def raw(self, i: int) -> str:
        return self.f[i]

    def required(self, i: int, what: str) -> str:
        value = self.f[i]
        if value == "":
            raise DecodeError("missing_field", f"field {i} {what}")
        return value

    def code(self, i: int, table: dict[str, str], what: str) -> str:
        value = self.required(i, what)
        if value not in table:
            raise DecodeError("bad_field", f"field {i} {what} = {value!r}")
        return table[value]

    def fix(self, i: int, n: int, lo: int, hi: int, what: str) -> int:
        """FIX(n, lo, hi): returns the integer value (decimal x 10^n); lo/hi in the same units."""
        value = self.required(i, what)
        pattern = r"-?(0|[1-9][0-9]*)" + (rf"\.[0-9]{{{n}}}" if n else "")
        if not re.fullmatch(pattern, value, flags=re.ASCII):
            raise DecodeError("bad_field", f"field {i} {what} = {value!r}")
        number = int(value.replace(".", ""))
        if value.startswith("-") and number == 0:
            raise DecodeError("bad_field", f"field {i} {what} negative zero")
        if not -I64_MAX - 1 <= number <= I64_MAX or not lo <= number <= hi:
            raise DecodeError("field_out_of_range", f"field {i} {what} = {value}")
        return number

    def dms(self, i: int, lat: bool, what: str) -> float:
        value = self.required(i, what)
        deg_digits = 2 if lat else 3
        width = deg_digits + 10
        hemis = "NS" if lat else "EW"
        if (
            len(value) != width
            or not value[: deg_digits + 4].isdigit()
            or not value[: deg_digits + 4].isascii()
            or value[deg_digits + 4] != "."
            or not value[deg_digits + 5 : deg_digits + 9].isdigit()
            or not value[deg_digits + 5 : deg_digits + 9].isascii()
            or value[-1] not in hemis
        ):
            raise DecodeError("bad_field", f"field {i} {what} = {value!r}")
        dd = int(value[:deg_digits])
        mm = int(value[deg_digits : deg_digits + 2])
        ss = int(value[deg_digits + 2 : deg_digits + 4])
        frac = int(value[deg_digits + 5 : deg_digits + 9])
        units = dd * 36_000_000 + mm * 600_000 + ss * 10_000 + frac
        if units == 0 and value[-1] == hemis[1]:
            raise DecodeError("bad_field", f"field {i} {what}: zero with {hemis[1]}")
        limit = 3_240_000_000 if lat else 6_480_000_000
        if mm > 59 or ss > 59 or units > limit:
            raise DecodeError("field_out_of_range", f"field {i} {what} = {value}")
        if value[-1] == hemis[1]:
            units = -units
        return units / 36_000_000

    def time(self, i: int, what: str) -> int:
        """TIME: returns UTC µs since the Unix epoch."""
        value = self.required(i, what)
        digit_positions = [k for k in range(22) if k not in (8, 15)]
        if (
            len(value) != 27
            or not value.isascii()
            or value[8] != "T"
            or value[15] != "."
            or not all(value[k].isdigit() for k in digit_positions)
            or value[22:] != "+0900"
        ):
            raise DecodeError("bad_field", f"field {i} {what} = {value!r}")
        y, mo, d = int(value[0:4]), int(value[4:6]), int(value[6:8])
        hh, mi, ss = int(value[9:11]), int(value[11:13]), int(value[13:15])
        micro = int(value[16:22])
        if not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo) or hh > 23 or mi > 59 or ss > 59:
            raise DecodeError("field_out_of_range", f"field {i} {what} = {value}")
        local_s = days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mi * 60 + ss
        utc_us = (local_s - 9 * 3600) * 1_000_000 + micro
        if not TIME_MIN_US <= utc_us <= TIME_MAX_US:
            raise DecodeError("field_out_of_range", f"field {i} {what} = {value} outside 1970..9999")
        return utc_us

    def text(self, i: int, limit: int, required: bool, what: str) -> str:
        value = self.f[i]
        if value == "" and required:
            raise DecodeError("missing_field", f"field {i} {what}")
        raw = value.encode("ascii")  # framing guarantees 0x20..0x7E
        out = bytearray()
        k = 0
        while k < len(raw):
            byte = raw[k]
            if byte == 0x5E:  # '^'
                pair = raw[k + 1 : k + 3]
                if len(pair) != 2 or not all(c in UPPER_HEX for c in pair):
                    raise DecodeError("bad_text", f"field {i} {what}: bad escape at {k}")
                escaped = int(pair, 16)
                if _is_plain(escaped):
                    raise DecodeError("bad_text", f"field {i} {what}: needless escape ^{pair.decode()}")
                out.append(escaped)
                k += 3
            elif byte == 0x5C:  # '\'
                raise DecodeError("bad_text", f"field {i} {what}: unescaped backslash")
            else:
                out.append(byte)
                k += 1
        if len(out) > limit:
            raise DecodeError("field_out_of_range", f"field {i} {what}: {len(out)} bytes > {limit}")
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("bad_text", f"field {i} {what}: {exc}") from None

    def track(self, i: int) -> str:
        value = self.f[i]
        if value == "":
            raise DecodeError("missing_field", f"field {i} track_id")
        if len(value) > 32:
            raise DecodeError("field_out_of_range", f"field {i} track_id longer than 32")
        if not TRACK_ID_RE.fullmatch(value):
            raise DecodeError("bad_text", f"field {i} track_id {value!r}")
        return value

    def nations(self, i: int) -> list[str]:
        value = self.required(i, "releasability")
        order = ["JP", "KR", "US"]
        parts = value.split("+")
        positions = []
        for part in parts:
            if part not in order:
                raise DecodeError("bad_field", f"field {i} releasability {value!r}")
            positions.append(order.index(part))
        if positions != sorted(set(positions)):
            raise DecodeError("bad_field", f"field {i} releasability {value!r}: order/duplicate")
        return [NATION_CODES[p] for p in parts]

    def references(self, i: int) -> list[str]:
        value = self.f[i]
        if value == "":
            return []
        refs = value.split("+")
        for ref in refs:
            if not UUID_RE.fullmatch(ref):
                raise DecodeError("bad_field", f"field {i} reference {ref!r}")
        return refs

    def point(self, i: int) -> dict:
        return {
            "lat_deg": self.dms(i, True, "lat"),
            "lon_deg": self.dms(i + 1, False, "lon"),
            "alt_m": self.fix(i + 2, 2, -100_000, 1_000_000_000, "alt") / 100,
        }

    def optional_point(self, i: int) -> dict | None:
        if self.f[i] == "" and self.f[i + 1] == "" and self.f[i + 2] == "":
            return None
        return self.point(i)


def decode(payload: bytes, ingested_at: str) -> dict:
    """Decode one whole MQTT payload (one sentence) into a common envelope dict (kr.md §7, §11)."""
    buf = bytes(payload)
    n_sync = min(len(buf), len(SYNC))
    # 1. sync
    if buf[:n_sync] != SYNC[:n_sync]:
        raise DecodeError("bad_sync")
    if len(buf) < len(SYNC):
        raise DecodeError("truncated", "fewer than 6 bytes")
    # 2. length
    lf = buf.find(b"\n", 0, MAX_SENTENCE)
    if lf < 0:
        if len(buf) >= MAX_SENTENCE:
            raise DecodeError("oversize", "2048 bytes without LF")
        raise DecodeError("truncated", "no LF")
    n = lf + 1
    s = buf[:n]
    # 3. framing
    if s[n - 2] != 0x0D:
        raise DecodeError("bad_framing", "no CR before LF")
    if n < 11 or s[n - 11] != 0x2A:
        raise DecodeError("bad_framing", "no '*' 10 bytes before LF")
    body = s[1 : n - 11]
    for k, byte in enumerate(body):
        if not 0x20 <= byte <= 0x7E or byte in (0x24, 0x2A):
            raise DecodeError("bad_framing", f"forbidden byte {byte:#04x} at body offset {k}")
    crc_text = s[n - 10 : n - 2]
    if not all(c in UPPER_HEX for c in crc_text):
        raise DecodeError("bad_framing", f"checksum digits {crc_text!r}")
    # 4. checksum
    computed = zlib.crc32(body) & 0xFFFFFFFF
    written = int(crc_text, 16)
    if computed != written:
        raise DecodeError("bad_checksum", f"computed {computed:08X}, written {written:08X}")
    # 5. field count, version, type
    fields = body.decode("ascii").split(",")
    if len(fields) < 3:
        raise DecodeError("field_count", f"{len(fields)} fields")
    if fields[2] != "1":
        raise DecodeError("unsupported_version", fields[2])
    type_code = fields[1]
    if type_code not in FIELD_COUNTS:
        raise DecodeError("unknown_type", type_code)
    if len(fields) != FIELD_COUNTS[type_code]:
        raise DecodeError("field_count", f"{type_code} with {len(fields)} fields")
    # 6. fields in order
    f = _Fields(fields)
    mode = f.code(3, MODES, "mode")
    origin = f.code(4, NATION_CODES, "origin")
    releasability = f.nations(5)
    system = f.text(6, 64, True, "system")
    sensor = f.text(7, 64, True, "sensor")
    national_id = f.text(8, 128, True, "national_id")
    observed_us = f.time(9, "observed")
    references = f.references(10)

    kind = KINDS[type_code]
    payload_out: dict = {"kind": kind}
    if type_code == "LCH":
        payload_out["track_id"] = f.track(11)
        payload_out["launch_time"] = format_rfc3339(f.time(12, "launch_time"))
        payload_out["launch_point"] = f.point(13)
        payload_out["launch_point_uncertainty"] = {
            "horizontal_m": f.fix(16, 2, 0, 100_000_000, "unc_h") / 100,
            "vertical_m": f.fix(17, 2, 0, 100_000_000, "unc_v") / 100,
        }
        payload_out["missile_class"] = f.code(18, CLASSES, "class")
        payload_out["confidence"] = f.fix(19, 4, 0, 10_000, "confidence") / 10_000
    elif type_code == "TRK":
        payload_out["track_id"] = f.track(11)
        payload_out["time"] = format_rfc3339(f.time(12, "time"))
        payload_out["position"] = f.point(13)
        payload_out["position_uncertainty"] = {
            "horizontal_m": f.fix(16, 2, 0, 100_000_000, "unc_h") / 100,
            "vertical_m": f.fix(17, 2, 0, 100_000_000, "unc_v") / 100,
        }
        payload_out["velocity"] = {
            "east_mps": f.fix(18, 2, -1_200_000, 1_200_000, "vel_e") / 100,
            "north_mps": f.fix(19, 2, -1_200_000, 1_200_000, "vel_n") / 100,
            "up_mps": f.fix(20, 2, -1_200_000, 1_200_000, "vel_u") / 100,
        }
        payload_out["quality"] = f.fix(21, 0, 0, 15, "quality")
        payload_out["flight_phase"] = f.code(22, PHASES, "phase")
    elif type_code == "IMP":
        payload_out["track_id"] = f.track(11)
        payload_out["impact_time"] = format_rfc3339(f.time(12, "impact_time"))
        payload_out["impact_point"] = f.point(13)
        payload_out["error_ellipse"] = {
            "semi_major_m": f.fix(16, 2, 0, 100_000_000, "semi_major") / 100,
            "semi_minor_m": f.fix(17, 2, 0, 100_000_000, "semi_minor") / 100,
            "orientation_deg": f.fix(18, 3, 0, 180_000, "orientation") / 1000,
        }
    elif type_code == "END":
        payload_out["track_id"] = f.track(11)
        payload_out["time"] = format_rfc3339(f.time(12, "time"))
        payload_out["reason"] = f.code(13, END_REASONS, "end_reason")
        final = f.optional_point(14)
        if final is not None:
            payload_out["final_point"] = final
    elif type_code == "CAN":
        payload_out["track_id"] = f.track(11)
        payload_out["reason"] = f.text(12, 256, True, "reason")
    elif type_code == "COR":
        payload_out["track_id"] = f.track(11)
        payload_out["reason"] = f.text(12, 256, True, "reason")
        if f.raw(13) != "":
            payload_out["corrected_time"] = format_rfc3339(f.time(13, "corrected_time"))
        point = f.optional_point(14)
        if point is not None:
            payload_out["corrected_point"] = point
        if f.raw(17) != "":
            payload_out["corrected_missile_class"] = f.code(17, CLASSES, "corrected_class")
    else:  # STA
        payload_out["component"] = f.text(11, 64, True, "component")
        payload_out["state"] = f.code(12, STATES, "state")
        payload_out["uptime_s"] = f.fix(13, 3, 0, 999_999_999_999_999, "uptime") / 1000
        payload_out["detail"] = f.text(14, 256, False, "detail")

    # One complete MQTT payload: bytes after the sentence's LF.
    if len(buf) > n:
        raise DecodeError("trailing_data", f"{len(buf) - n} bytes after the sentence")

    return {
        "schema_version": 1,
        "message_id": derive_message_id(origin, system, national_id),
        "origin": origin,
        "source": {"system": system, "sensor": sensor, "national_message_id": national_id},
        "observed_at": format_rfc3339(observed_us),
        "ingested_at": ingested_at,
        "mode": mode,
        "releasability": releasability,
        "provenance": [],
        "hop_limit": 4,
        "references": references,
        "payload": payload_out,
    }


# ------------------------------------------------------------ encoder-side checks


def _fits(value: float, scale: int, lo: int, hi: int) -> bool:
    if not math.isfinite(value):
        return False
    scaled = value * scale
    rounded = math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)
    return lo <= rounded <= hi


def _time_ok(text: str) -> bool:
    secs, nanos, leap = parse_rfc3339(text)
    if leap:
        return False  # KST text has no second 60 (section 5.4: "no leap seconds")
    us = secs * 1_000_000 + nanos // 1000
    return TIME_MIN_US <= us <= TIME_MAX_US


def unrepresentable_reason(env: dict) -> str | None:
    """Why `to_national` must refuse `env` (kr.md section 11.2), or None. Not an encoder."""
    src = env["source"]
    for name, limit in (("system", 64), ("sensor", 64), ("national_message_id", 128)):
        size = len(src[name].encode("utf-8"))
        if size == 0 or size > limit:
            return f"source.{name} empty or longer than {limit} bytes"
    if not env["releasability"]:
        return "empty releasability"
    if not _time_ok(env["observed_at"]):
        return "observed_at outside 1970..9999"
    p = env["payload"]
    for key in ("launch_time", "time", "impact_time", "corrected_time"):
        if key in p and not _time_ok(p[key]):
            return f"{key} outside 1970..9999"
    if "track_id" in p and not TRACK_ID_RE.fullmatch(p["track_id"]):
        return "track id"

    def point_ok(pt: dict) -> bool:
        return (
            _fits(pt["lat_deg"], 36_000_000, -3_240_000_000, 3_240_000_000)
            and _fits(pt["lon_deg"], 36_000_000, -6_480_000_000, 6_480_000_000)
            and _fits(pt["alt_m"], 100, -100_000, 1_000_000_000)
        )

    for key in ("launch_point", "position", "impact_point", "final_point", "corrected_point"):
        if key in p and not point_ok(p[key]):
            return f"{key} out of range"
    for key in ("launch_point_uncertainty", "position_uncertainty"):
        if key in p:
            for sub in ("horizontal_m", "vertical_m"):
                if not _fits(p[key][sub], 100, 0, 100_000_000):
                    return f"{key}.{sub} out of range"
    if "velocity" in p:
        for sub in ("east_mps", "north_mps", "up_mps"):
            if not _fits(p["velocity"][sub], 100, -1_200_000, 1_200_000):
                return f"velocity.{sub} out of range"
    if "confidence" in p and not _fits(p["confidence"], 10_000, 0, 10_000):
        return "confidence out of range"
    if "error_ellipse" in p:
        ee = p["error_ellipse"]
        if not (
            _fits(ee["semi_major_m"], 100, 0, 100_000_000)
            and _fits(ee["semi_minor_m"], 100, 0, 100_000_000)
            and _fits(ee["orientation_deg"], 1000, 0, 180_000)
        ):
            return "error ellipse out of range"
    if "quality" in p and not 0 <= p["quality"] <= 15:
        return "quality out of range"
    if "uptime_s" in p and not _fits(p["uptime_s"], 1000, 0, 999_999_999_999_999):
        return "uptime out of range"
    for key, limit, required in (("reason", 256, True), ("detail", 256, False), ("component", 64, True)):
        if key in p:
            size = len(p[key].encode("utf-8"))
            if size > limit or (required and size == 0):
                return f"{key} empty or longer than {limit} bytes"
    return None

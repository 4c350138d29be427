"""Independent decoder for the US reference format: SIMPLE packets carrying J-words
(schemas/national/us.md), Python standard library only.

Written only from us.md; never from adapters/national/us. `decode(packet, ingested_at)` takes one
whole UDP datagram and returns the common-schema envelope as a JSON-compatible dict, or
raises `DecodeError` whose `.code` is the spec's error code (section 9). ECEF -> geodetic is
implemented here from the WGS84 constants of section 6 (no pyproj, no map_3d).
"""

from __future__ import annotations

import math
import uuid

from common import (
    TRACK_ID_RE,
    DecodeError,
    days_from_civil,
    derive_message_id,
    format_rfc3339,
    nation_set,
    parse_rfc3339,
)

MAX_LEN = 510
MIN_LEN = 50  # us.md §2: at least two words (changed from 40 in ba6c975)
GPS_EPOCH_UNIX = 315_964_800
T_LIMIT = 1 << 56
UPTIME_LIMIT_US = (1 << 30) * 1_000_000
ALT_MIN_M = -1_000.0
ALT_MAX_M = 10_000_000.0
DISTANCE_MAX_CM = 1_000_000_000  # §5.2: uncertainties and ellipse axes, 10 000 km
VELOCITY_MAX_MPS = 12_000.0  # §6 / §9 step 18: each ENU component

# Leap-second table (section 6): UTC dates at which GPS - UTC grew by 1 s.
LEAP_DATES = [
    (1981, 7, 1), (1982, 7, 1), (1983, 7, 1), (1985, 7, 1), (1988, 1, 1), (1990, 1, 1),
    (1991, 1, 1), (1992, 7, 1), (1993, 7, 1), (1994, 7, 1), (1996, 1, 1), (1997, 7, 1),
    (1999, 1, 1), (2006, 1, 1), (2009, 1, 1), (2012, 7, 1), (2015, 7, 1), (2017, 1, 1),
]  # fmt: skip
LEAP_UNIX = [days_from_civil(*d) * 86_400 for d in LEAP_DATES]

# WGS84 (section 6)
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
WGS84_B = WGS84_A * (1 - WGS84_F)

# (label, sublabel) -> (kind, MLI)
PRIMARY = {
    (3, 0): ("reference_point", 5),
    (3, 6): ("track_update", 6),
    (7, 0): ("event_end", 3),
    (7, 1): ("cancel", 0),
    (7, 2): ("correction", 3),
    (13, 5): ("status", 2),
    # us.md 5 / 13: J7.7 association, MLI 1-3 = ceil((4 + contributors) / 8); hub only
    (7, 7): ("association", None),
}
ASSOCIATION_MAX = 16
CONTRIBUTION_STATES = ["active", "stale", "ended", "cancelled"]
CONTAINER = (28, 2)
BODY_USED = {
    "launch_detection": 34,
    "impact_prediction": 34,
    "track_update": 42,
    "event_end": 22,
    "cancel": 0,
    "correction": 22,
    "status": 10,
}
ORIGINS = ["jp", "kr", "us"]
MODES = ["real_world", "exercise", "test"]
CLASSES = ["unknown", "srbm", "mrbm", "irbm", "icbm", "slbm"]
PHASES = ["unknown", "boost", "midcourse", "terminal"]
END_REASONS = ["impact", "lost", "other"]
STATES = ["ok", "degraded", "down"]


# ------------------------------------------------------------------ time


def gps_us_to_rfc3339(gps_us: int) -> str:
    """GPS µs since 1980-01-06 -> RFC 3339 UTC, with 23:59:60.x inside a leap second."""
    g, frac = divmod(gps_us, 1_000_000)
    for i, d_unix in enumerate(LEAP_UNIX, start=1):
        if g == d_unix - GPS_EPOCH_UNIX + (i - 1):
            # inside the leap second inserted before D_i: 23:59:60.frac of the previous day
            return format_rfc3339((d_unix - 1) * 1_000_000 + frac, leap_second=True)
    k = sum(1 for i, d_unix in enumerate(LEAP_UNIX, start=1) if g >= d_unix - GPS_EPOCH_UNIX + i)
    unix_s = g - k + GPS_EPOCH_UNIX
    return format_rfc3339(unix_s * 1_000_000 + frac)


def rfc3339_to_gps_us(text: str) -> int:
    """UTC -> GPS µs (section 6), used only by the encoder-side representability check."""
    secs, nanos, leap = parse_rfc3339(text)
    unix_s = secs + (1 if leap else 0)
    k = sum(1 for d in LEAP_UNIX if d <= unix_s)
    if leap:
        k -= 1  # the leap second itself precedes the table date
        unix_s -= 1
        gps_s = unix_s - GPS_EPOCH_UNIX + k + 1
    else:
        gps_s = unix_s - GPS_EPOCH_UNIX + k
    micro = (nanos + 500) // 1000  # nearest µs, half up
    return gps_s * 1_000_000 + micro


# ------------------------------------------------------------------ geodesy


def geodetic_to_ecef(lat_deg: float, lon_deg: float, alt_m: float) -> tuple[float, float, float]:
    phi = math.radians(lat_deg)
    lam = math.radians(lon_deg)
    sin_phi = math.sin(phi)
    n = WGS84_A / math.sqrt(1 - WGS84_E2 * sin_phi * sin_phi)
    x = (n + alt_m) * math.cos(phi) * math.cos(lam)
    y = (n + alt_m) * math.cos(phi) * math.sin(lam)
    z = (n * (1 - WGS84_E2) + alt_m) * sin_phi
    return x, y, z


def ecef_to_geodetic(x: float, y: float, z: float) -> tuple[float, float, float]:
    """ECEF metres -> (lat deg, lon deg, h m) on WGS84.

    Bowring's closed-form start, then Newton-free fixed-point iterations of
    phi = atan2(z + e^2 N sin(phi), p) until phi stops changing; h from the formula of
    us.md section 6 (h = p cos(phi) + z sin(phi) - a sqrt(1 - e^2 sin^2 phi)), which is
    well conditioned at every latitude.
    """
    lon = math.atan2(y, x)
    p = math.hypot(x, y)
    if p == 0.0 and z == 0.0:
        raise ValueError("Earth's centre has no geodetic position")
    ep2 = WGS84_E2 / (1 - WGS84_E2)
    theta = math.atan2(z * WGS84_A, p * WGS84_B)
    phi = math.atan2(
        z + ep2 * WGS84_B * math.sin(theta) ** 3,
        p - WGS84_E2 * WGS84_A * math.cos(theta) ** 3,
    )
    for _ in range(20):
        sin_phi = math.sin(phi)
        n = WGS84_A / math.sqrt(1 - WGS84_E2 * sin_phi * sin_phi)
        nxt = math.atan2(z + WGS84_E2 * n * sin_phi, p)
        if nxt == phi:
            break
        phi = nxt
    sin_phi = math.sin(phi)
    h = p * math.cos(phi) + z * sin_phi - WGS84_A * math.sqrt(1 - WGS84_E2 * sin_phi * sin_phi)
    return math.degrees(phi), math.degrees(lon), h


def ecef_to_enu(vx: float, vy: float, vz: float, lat_deg: float, lon_deg: float) -> tuple[float, float, float]:
    phi = math.radians(lat_deg)
    lam = math.radians(lon_deg)
    sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
    e = -sl * vx + cl * vy
    n = -sp * cl * vx - sp * sl * vy + cp * vz
    u = cp * cl * vx + cp * sl * vy + sp * vz
    return e, n, u


# ------------------------------------------------------------------ decoding


def _u(b: bytes, off: int, n: int) -> int:
    return int.from_bytes(b[off : off + n], "little")


def _i32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little", signed=True)


def _check_initial(header: int, what: str) -> tuple[int, int, int]:
    fmt = header & 3
    if fmt == 1:
        raise DecodeError("malformed", f"{what}: continuation word where an initial word belongs")
    if fmt in (2, 3):
        raise DecodeError("unknown_type", f"{what}: word format {fmt}")
    if header >> 13:
        raise DecodeError("malformed", f"{what}: bits 13-15 set")
    return (header >> 2) & 0x1F, (header >> 7) & 7, (header >> 10) & 7


def _check_continuation(words: list[tuple[int, bytes]], start: int, mli: int, what: str) -> None:
    for index in range(1, mli + 1):
        pos = start + index
        if pos >= len(words):
            raise DecodeError("truncated", f"{what}: continuation {index} missing")
        header = words[pos][0]
        fmt = header & 3
        if fmt == 0:
            raise DecodeError("malformed", f"{what}: initial word where continuation {index} belongs")
        if fmt in (2, 3):
            raise DecodeError("unknown_type", f"{what}: word format {fmt}")
        if (header >> 2) & 0x1F != index or header >> 7:
            raise DecodeError("malformed", f"{what}: continuation label {(header >> 2) & 0x1F} != {index}")


class _Area:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise DecodeError("truncated", f"{what} runs past the text area")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def text(self, prefix: int, limit: int, what: str) -> str:
        n = int.from_bytes(self.take(prefix, f"{what} length"), "little")
        if n > limit:
            raise DecodeError("field_out_of_range", f"{what} length {n} > {limit}")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("bad_text", f"{what}: {exc}") from None


def decode(packet: bytes, ingested_at: str) -> dict:
    return decode_with_raw(packet, ingested_at)[0]


def decode_with_raw(packet: bytes, ingested_at: str, association_out: dict | None = None) -> tuple[dict, dict]:
    """Like `decode`, also returning the raw ECEF values (for the checker's comparisons).

    A J7.7 association (us.md 13) passes steps 1-17a and is then refused at step 18 with
    `hub_only_kind`; what it names is put into `association_out` first, if given."""
    buf = bytes(packet)
    # 1.-3.
    if not buf:
        raise DecodeError("truncated", "empty datagram")
    if buf[0] != 0x49 or (len(buf) >= 2 and buf[1] != 0x36):
        raise DecodeError("bad_sync")
    if len(buf) < 4:
        raise DecodeError("truncated", "fewer than 4 bytes")
    length = _u(buf, 2, 2)
    # 4.-6.
    if length > MAX_LEN:
        raise DecodeError("oversize", f"length {length}")
    if length < MIN_LEN or (length - 30) % 10:
        raise DecodeError("bad_length", f"length {length}")
    if len(buf) < length:
        raise DecodeError("truncated", f"{len(buf)} bytes < length {length}")
    pkt = buf[:length]
    # 7.
    computed = sum(pkt[: length - 2]) & 0xFFFF
    carried = _u(pkt, length - 2, 2)
    if computed != carried:
        raise DecodeError("bad_checksum", f"computed {computed:#06x}, carried {carried:#06x}")
    n_words = (length - 30) // 10
    # 8.-11.
    if pkt[10] != (length - 8) // 2:
        raise DecodeError("bad_length", f"packet size {pkt[10]}")
    if pkt[11] != 1:
        raise DecodeError("unknown_type", f"packet type {pkt[11]}")
    if pkt[14] != 2:
        raise DecodeError("unknown_type", f"link16 subtype {pkt[14]}")
    if _u(pkt, 24, 2) != 5 * n_words:
        raise DecodeError("bad_length", f"word count {_u(pkt, 24, 2)} != {5 * n_words}")
    words = [(_u(pkt, 28 + 10 * i, 2), pkt[28 + 10 * i + 2 : 28 + 10 * i + 10]) for i in range(n_words)]
    # 12.
    label, sublabel, mli = _check_initial(words[0][0], "word 0")
    if (label, sublabel) not in PRIMARY:
        raise DecodeError("unknown_type", f"j_label {label * 10 + sublabel}")
    kind, want_mli = PRIMARY[(label, sublabel)]
    if want_mli is None:
        if not 1 <= mli <= 3:
            raise DecodeError("bad_length", f"association mli {mli} not 1-3")
    elif mli != want_mli:
        raise DecodeError("bad_length", f"mli {mli} != {want_mli}")
    # 13.
    _check_continuation(words, 0, mli, "primary")
    envelope_word = words[0][1]
    body = b"".join(w[1] for w in words[1 : 1 + mli])
    # 14.
    area = bytearray()
    pos = 1 + mli
    if pos >= n_words:
        # us.md §5 "one or more container J-messages"; §9 step 14: none at all -> malformed
        raise DecodeError("malformed", "no J28.2 container after the primary J-message")
    while pos < n_words:
        c_label, c_sub, c_mli = _check_initial(words[pos][0], f"word {pos}")
        if (c_label, c_sub) != CONTAINER:
            raise DecodeError("unknown_type", f"j_label {c_label * 10 + c_sub} where J28.2 belongs")
        _check_continuation(words, pos, c_mli, f"container at word {pos}")
        last = pos + 1 + c_mli >= n_words
        if c_mli != 7 and not last:
            raise DecodeError("malformed", f"container at word {pos} has MLI {c_mli} and is not the last")
        for w in words[pos : pos + 1 + c_mli]:
            area += w[1]
        pos += 1 + c_mli
    # 15.
    b0 = envelope_word[0]
    if b0 & 3 == 3:
        raise DecodeError("field_out_of_range", "origin 3")
    if (b0 >> 2) & 3 == 3:
        raise DecodeError("field_out_of_range", "mode 3")
    if b0 & 0x80:
        raise DecodeError("field_out_of_range", "envelope_reserved")
    origin = ORIGINS[b0 & 3]
    mode = MODES[(b0 >> 2) & 3]
    releasability = nation_set((bool(b0 & 0x10), bool(b0 & 0x20), bool(b0 & 0x40)))
    observed = int.from_bytes(envelope_word[1:8], "little")
    # 16. texts 1-3
    ar = _Area(bytes(area))
    system = ar.text(1, 64, "system")
    sensor = ar.text(1, 64, "sensor")
    national_id = ar.text(1, 128, "national_message_id")

    def out_of_range(what: str) -> DecodeError:
        return DecodeError("field_out_of_range", what)

    def enum(table: list[str], value: int, what: str) -> str:
        if value >= len(table):
            raise out_of_range(f"{what} {value}")
        return table[value]

    def tfield(off: int, what: str) -> int:
        value = _u(body, off, 8)
        if value >= T_LIMIT:
            raise out_of_range(f"{what} {value} >= 2^56")
        return value

    def pfield(off: int) -> tuple[int, int, int]:
        return _i32(body, off), _i32(body, off + 4), _i32(body, off + 8)

    def dfield(off: int, what: str) -> float:
        value = _u(body, off, 4)
        if value > DISTANCE_MAX_CM:
            raise out_of_range(f"{what} {value} cm > {DISTANCE_MAX_CM}")
        return value / 100

    def ufield(off: int) -> dict:
        return {"horizontal_m": dfield(off, "uncertainty horizontal"), "vertical_m": dfield(off + 4, "uncertainty vertical")}

    payload: dict = {}
    ecef_points: dict[str, tuple[int, int, int]] = {}
    ecef_velocity = None
    if kind == "reference_point":
        point_type = body[0]
        if point_type == 1:
            kind = "launch_detection"
        elif point_type == 2:
            kind = "impact_prediction"
        else:
            raise DecodeError("unknown_type", f"point type {point_type}")
    payload["kind"] = kind
    body_used = BODY_USED.get(kind, 0)
    contributor_codes: list[int] = []
    if kind == "association":
        count = body[0]
        if count == 0 or count > ASSOCIATION_MAX:
            raise out_of_range(f"association count {count}")
        if mli != (4 + count + 7) // 8:
            raise DecodeError("bad_length", f"association mli {mli} for {count} contributors")
        first, total = body[1], body[2]
        if total > ASSOCIATION_MAX or first + count > total:
            raise out_of_range(f"association first {first} count {count} total {total}")
        if body[3] != 0:
            raise out_of_range(f"association reserved byte {body[3]}")
        for i in range(count):
            code = body[4 + i]
            if code & 3 == 3:
                raise out_of_range("contributor origin 3")
            if code >> 4:
                raise out_of_range(f"contributor reserved bits {code >> 4}")
            contributor_codes.append(code)
        payload["first"], payload["total"] = first, total
        body_used = 4 + count
    if kind == "launch_detection":
        payload["missile_class"] = enum(CLASSES, body[1], "missile class")
        confidence = _u(body, 2, 4)
        if confidence > 1_000_000_000:
            raise out_of_range(f"confidence {confidence}")
        payload["confidence"] = confidence / 1e9
        payload["launch_time"] = tfield(6, "launch_time")
        ecef_points["launch_point"] = pfield(14)
        payload["launch_point_uncertainty"] = ufield(26)
    elif kind == "impact_prediction":
        if body[1] != 0:
            raise out_of_range(f"impact reserved byte {body[1]}")
        payload["impact_time"] = tfield(2, "impact_time")
        ecef_points["impact_point"] = pfield(10)
        semi_major, semi_minor = dfield(22, "semi_major"), dfield(26, "semi_minor")
        orientation = _u(body, 30, 4)
        if orientation > 180_000_000:
            raise out_of_range(f"orientation {orientation}")
        payload["error_ellipse"] = {
            "semi_major_m": semi_major,
            "semi_minor_m": semi_minor,
            "orientation_deg": orientation / 1e6,
        }
    elif kind == "track_update":
        if body[0] > 15:
            raise out_of_range(f"quality {body[0]}")
        payload["quality"] = body[0]
        payload["flight_phase"] = enum(PHASES, body[1], "flight phase")
        payload["time"] = tfield(2, "time")
        ecef_points["position"] = pfield(10)
        ecef_velocity = pfield(22)
        payload["position_uncertainty"] = ufield(34)
    elif kind == "event_end":
        payload["reason"] = enum(END_REASONS, body[0], "end reason")
        flags = body[1]
        if flags > 1:
            raise out_of_range(f"event_end flags {flags}")
        payload["time"] = tfield(2, "time")
        if flags & 1:
            ecef_points["final_point"] = pfield(10)
        elif any(body[10:22]):
            raise DecodeError("malformed", "absent final_point is not zero")
    elif kind == "correction":
        flags = body[0]
        if flags > 7:
            raise out_of_range(f"correction flags {flags}")
        if flags & 4:
            payload["corrected_missile_class"] = enum(CLASSES, body[1], "corrected missile class")
        elif body[1] != 0:
            raise DecodeError("malformed", "absent corrected class is not zero")
        if flags & 1:
            payload["corrected_time"] = tfield(2, "corrected_time")
        elif any(body[2:10]):
            raise DecodeError("malformed", "absent corrected_time is not zero")
        if flags & 2:
            ecef_points["corrected_point"] = pfield(10)
        elif any(body[10:22]):
            raise DecodeError("malformed", "absent corrected_point is not zero")
    elif kind == "status":
        payload["state"] = enum(STATES, body[0], "component state")
        if body[1] != 0:
            raise out_of_range(f"status reserved byte {body[1]}")
        uptime = _u(body, 2, 8)
        if uptime >= UPTIME_LIMIT_US:
            raise out_of_range(f"uptime {uptime}")
        payload["uptime_s"] = uptime / 1e6
    # kind's texts 4-5
    if kind == "association":
        # track ids are checked as they are read: a J7.7 never reaches translation (step 18)
        def tid(what: str) -> str:
            text = ar.text(1, 32, what)
            if not TRACK_ID_RE.fullmatch(text):
                raise DecodeError("bad_text", f"{what} {text!r}")
            return text

        payload["track_id"] = tid("association track_id")
        payload["contributors"] = [
            {"origin": ORIGINS[c & 3], "state": CONTRIBUTION_STATES[(c >> 2) & 3], "track_id": tid("contributor track_id")}
            for c in contributor_codes
        ]
    elif kind == "status":
        payload["component"] = ar.text(1, 64, "component")
        payload["detail"] = ar.text(2, 256, "detail")
    else:
        payload["track_id"] = ar.text(1, 32, "track_id")
        if kind in ("cancel", "correction"):
            payload["reason"] = ar.text(2, 256, "reason")
    # 17. body padding, references, area padding
    if any(body[body_used:]):
        raise DecodeError("malformed", "body padding not zero")
    ref_count = ar.take(1, "reference count")[0]
    references = [str(uuid.UUID(bytes=ar.take(16, "reference"))) for _ in range(ref_count)]
    rest = ar.data[ar.pos :]
    if len(rest) >= 8 or any(rest):
        raise DecodeError("malformed", f"text area padding {rest.hex()}")
    # 17a. (datagram) bytes after a packet that passed steps 2-17; before translation
    if len(buf) > length:
        raise DecodeError("trailing_bytes", f"{len(buf) - length} bytes after the packet")
    # 18. a J7.7 association is the hub's: never translated from a national system
    if kind == "association":
        if association_out is not None:
            association_out.update(
                {
                    "origin": origin,
                    "mode": mode,
                    "releasability": releasability,
                    "observed_at": gps_us_to_rfc3339(observed),
                    "source": {"system": system, "sensor": sensor, "national_message_id": national_id},
                    "references": references,
                    "association": {
                        "track_id": payload["track_id"],
                        "first": payload["first"],
                        "total": payload["total"],
                        "contributors": payload["contributors"],
                    },
                }
            )
        raise DecodeError("hub_only_kind", "J7.7 association: sent by the hub only")
    # 18. translation: track id first, then positions in payload field order
    if "track_id" in payload and not TRACK_ID_RE.fullmatch(payload["track_id"]):
        raise DecodeError("bad_text", f"track_id {payload['track_id']!r}")
    for key, (x, y, z) in ecef_points.items():
        if (x, y, z) == (0, 0, 0):
            raise DecodeError("field_out_of_range", f"{key} at the Earth's centre")
        lat, lon, alt = ecef_to_geodetic(x / 100, y / 100, z / 100)
        # us.md §6 / §9 step 18: altitude outside the common schema's range
        if not ALT_MIN_M <= alt <= ALT_MAX_M:
            raise DecodeError("field_out_of_range", f"{key} geodetic altitude {alt} m")
        payload[key] = {"lat_deg": lat, "lon_deg": lon, "alt_m": alt}
    if ecef_velocity is not None:
        pos = payload["position"]
        e, n, u = ecef_to_enu(*(v / 1000 for v in ecef_velocity), pos["lat_deg"], pos["lon_deg"])
        # us.md §6 / §9 step 18: each ENU component within the common schema's ±12 000 m/s
        if not all(-VELOCITY_MAX_MPS <= c <= VELOCITY_MAX_MPS for c in (e, n, u)):
            raise DecodeError("field_out_of_range", f"velocity ENU ({e}, {n}, {u}) m/s")
        payload["velocity"] = {"east_mps": e, "north_mps": n, "up_mps": u}
    for key in ("launch_time", "impact_time", "time", "corrected_time"):
        if key in payload:
            payload[key] = gps_us_to_rfc3339(payload[key])

    envelope = {
        "schema_version": 1,
        "message_id": derive_message_id(origin, system, national_id),
        "origin": origin,
        "source": {"system": system, "sensor": sensor, "national_message_id": national_id},
        "observed_at": gps_us_to_rfc3339(observed),
        "ingested_at": ingested_at,
        "mode": mode,
        "releasability": releasability,
        "provenance": [],
        "hop_limit": 4,
        "references": references,
        "payload": payload,
    }
    return envelope, {"ecef_points": ecef_points, "ecef_velocity": ecef_velocity}


# ------------------------------------------------------------ encoder-side checks


def _round_away(value: float) -> int:
    return math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)


def unrepresentable_reason(env: dict) -> str | None:
    """Why `to_national` must refuse `env` (us.md section 8), or None. Not an encoder."""
    times = [env["observed_at"]] + [
        env["payload"][k] for k in ("launch_time", "impact_time", "time", "corrected_time") if k in env["payload"]
    ]
    for t in times:
        gps = rfc3339_to_gps_us(t)
        if gps < 0 or gps >= T_LIMIT:
            return f"time {t} outside GPS 0 .. 2^56 µs"
    p = env["payload"]
    src = env["source"]
    sizes = {
        "system": (len(src["system"].encode()), 64),
        "sensor": (len(src["sensor"].encode()), 64),
        "national_message_id": (len(src["national_message_id"].encode()), 128),
    }
    if p["kind"] == "status":
        sizes["component"] = (len(p["component"].encode()), 64)
        sizes["detail"] = (len(p["detail"].encode()), 256)
    else:
        sizes["track_id"] = (len(p["track_id"].encode()), 32)
        if "reason" in p:
            sizes["reason"] = (len(p["reason"].encode()), 256)
    for name, (size, limit) in sizes.items():
        if size > limit:
            return f"{name} longer than {limit} bytes"
    if len(env["references"]) > 255:
        return "more than 255 references"
    area = 1 + sizes["system"][0] + 1 + sizes["sensor"][0] + 1 + sizes["national_message_id"][0]
    if p["kind"] == "status":
        area += 1 + sizes["component"][0] + 2 + sizes["detail"][0]
    else:
        area += 1 + sizes["track_id"][0] + (2 + sizes["reason"][0] if "reason" in sizes else 0)
    area += 1 + 16 * len(env["references"])
    mli = {"launch_detection": 5, "impact_prediction": 5, "track_update": 6, "event_end": 3, "cancel": 0,
           "correction": 3, "status": 2}[p["kind"]]  # fmt: skip
    container_words = max(1, -(-area // 8))
    if 1 + mli + container_words > 48:
        return f"{1 + mli + container_words} words > 48"
    decoded_at: dict[str, tuple[float, float, float]] = {}  # what the receiver decodes (§8)
    for key in ("launch_point", "position", "impact_point", "final_point", "corrected_point"):
        if key in p:
            pt = p[key]
            if not all(math.isfinite(pt[k]) for k in ("lat_deg", "lon_deg", "alt_m")):
                return f"{key} not finite"
            if not (-90 <= pt["lat_deg"] <= 90 and -180 <= pt["lon_deg"] <= 180 and -1000 <= pt["alt_m"] <= 1e7):
                return f"{key} outside the schema ranges"
            cm = [_round_away(100 * c) for c in geodetic_to_ecef(pt["lat_deg"], pt["lon_deg"], pt["alt_m"])]
            if any(not -(2**31) <= c < 2**31 for c in cm):
                return f"{key} ECEF outside i32"
            # §8: refused when the centimetre point decodes outside the altitude range
            if cm == [0, 0, 0]:
                return f"{key} rounds to the Earth's centre"
            decoded_at[key] = ecef_to_geodetic(*(c / 100 for c in cm))
            if not ALT_MIN_M <= decoded_at[key][2] <= ALT_MAX_M:
                return f"{key} rounds to altitude {decoded_at[key][2]} m, outside the range"
    for key in ("launch_point_uncertainty", "position_uncertainty"):
        if key in p:
            for sub in ("horizontal_m", "vertical_m"):
                v = p[key][sub]
                if not math.isfinite(v) or not 0 <= _round_away(100 * v) <= DISTANCE_MAX_CM:
                    return f"{key}.{sub} not representable"
    if "confidence" in p and not (math.isfinite(p["confidence"]) and 0 <= p["confidence"] <= 1):
        return "confidence outside 0..1"
    if "error_ellipse" in p:
        ee = p["error_ellipse"]
        if not (math.isfinite(ee["orientation_deg"]) and 0 <= ee["orientation_deg"] <= 180):
            return "orientation outside 0..180"
        for sub in ("semi_major_m", "semi_minor_m"):
            if not math.isfinite(ee[sub]) or not 0 <= _round_away(100 * ee[sub]) <= DISTANCE_MAX_CM:
                return f"{sub} not representable"
    if "quality" in p and not 0 <= p["quality"] <= 15:
        return "quality > 15"
    if "uptime_s" in p and not (math.isfinite(p["uptime_s"]) and 0 <= p["uptime_s"] < 2**30):
        return "uptime outside 0 .. 2^30 s"
    if "velocity" in p:
        v = p["velocity"]
        # §6: rotated at the *decoded* position (the centimetre point converted to geodetic)
        lat, lon, _ = decoded_at["position"]
        # inverse rotation (ENU -> ECEF); transpose of the matrix in §6
        phi, lam = math.radians(lat), math.radians(lon)
        sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
        e, n, u = v["east_mps"], v["north_mps"], v["up_mps"]
        vx = -sl * e - sp * cl * n + cp * cl * u
        vy = cl * e - sp * sl * n + cp * sl * u
        vz = cp * n + sp * u
        if any(not math.isfinite(c) or not -(2**31) <= _round_away(1000 * c) < 2**31 for c in (vx, vy, vz)):
            return "velocity ECEF outside i32"
        # §8: refused when the mm/s value rotates back to a component outside ±12 000 m/s
        mm = [_round_away(1000 * c) for c in (vx, vy, vz)]
        back = ecef_to_enu(*(c / 1000 for c in mm), lat, lon)
        if not all(-VELOCITY_MAX_MPS <= c <= VELOCITY_MAX_MPS for c in back):
            return f"velocity rounds to ENU {back} m/s, outside ±12 000"
    return None

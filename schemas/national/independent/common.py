"""Shared helpers for the independent national decoders (Python 3.11 standard library only).

Written from the specs in schemas/national/*.md, NOT from the Rust adapters. Nothing here
imports anything outside the standard library.
"""

from __future__ import annotations

import hashlib
import re
import uuid

# Message-id namespace: stated in kr.md section 11.1 (jp.md and us.md only name
# `MessageId::derive`; see FINDINGS.md).
MESSAGE_ID_NAMESPACE = uuid.UUID("6c1e7a3a-58f1-4f0e-9d2c-2b7ea1d40c55")

NATIONS = ("jp", "kr", "us")
TRACK_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class DecodeError(Exception):
    """A national frame was rejected. `code` is the spec's stable error code."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def parse_hex_file(text: str) -> bytes:
    """`.hex` vector syntax: '#' to end of line is a comment, whitespace ignored."""
    digits = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        digits.append("".join(line.split()))
    joined = "".join(digits)
    if len(joined) % 2:
        raise ValueError("odd number of hex digits")
    return bytes.fromhex(joined)


def derive_message_id(origin: str, system: str, national_id: str) -> str:
    """UUID v5 over the namespace and the length-prefixed (u32 BE) UTF-8 parts."""
    name = b""
    for part in (origin, system, national_id):
        raw = part.encode("utf-8")
        name += len(raw).to_bytes(4, "big") + raw
    digest = hashlib.sha1(MESSAGE_ID_NAMESPACE.bytes + name).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


# ---------------------------------------------------------------- calendar / time

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def is_leap_year(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if is_leap_year(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def format_rfc3339(unix_us: int, leap_second: bool = False) -> str:
    """UTC instant (µs since the Unix epoch) as RFC 3339 with 0, 3 or 6 fraction digits.

    With `leap_second`, `unix_us` must lie in the last second of a UTC day (23:59:59.x)
    and the result is written as 23:59:60.x (the inserted leap second).
    """
    days, rem = divmod(unix_us, US_PER_DAY)
    y, m, d = civil_from_days(days)
    secs, frac = divmod(rem, US_PER_S)
    hh, rest = divmod(secs, 3600)
    mm, ss = divmod(rest, 60)
    if leap_second:
        if (hh, mm, ss) != (23, 59, 59):
            raise ValueError("leap second outside 23:59:59")
        ss = 60
    text = f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}"
    if frac:
        text += f".{frac // 1000:03d}" if frac % 1000 == 0 else f".{frac:06d}"
    return text + "Z"


RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_rfc3339(text: str) -> tuple[int, int, bool]:
    """Parse RFC 3339 into (unix seconds of the start of the second, nanoseconds, leap).

    A `:60` second is returned as the 23:59:59 second with leap=True so two leap-second
    instants compare equal and differ from 23:59:59.
    """
    match = RFC3339_RE.fullmatch(text)
    if not match:
        raise ValueError(f"not RFC 3339: {text!r}")
    y, mo, d, hh, mi, ss = (int(match.group(i)) for i in range(1, 7))
    frac = match.group(7) or ""
    nanos = int(frac.ljust(9, "0")) if frac else 0
    zone = match.group(8)
    offset = 0
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    leap = ss == 60
    if leap:
        ss = 59
    secs = days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mi * 60 + ss - offset
    return secs, nanos, leap


def rfc3339_to_unix_us(text: str) -> int:
    """Instant in whole µs since the Unix epoch, truncated toward the past."""
    secs, nanos, leap = parse_rfc3339(text)
    if leap:
        raise ValueError("leap second has no Unix µs")
    return secs * US_PER_S + nanos // 1000


def nation_set(bits: tuple[bool, bool, bool]) -> list[str]:
    return [n for n, present in zip(NATIONS, bits) if present]

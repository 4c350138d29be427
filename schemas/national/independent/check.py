#!/usr/bin/env python3
"""Check the independent decoders against every committed vector in schemas/vectors/{jp,kr,us}.

Python 3.11 standard library only. Run from anywhere:

    python3 schemas/national/independent/check.py [-v]

For each vector it prints one line (`ok` / `FAIL`) and at the end a per-nation summary.
Exit status 0 only if every vector agrees, 1 otherwise.

- `NAME.hex` + `NAME.json`: decode with ingested_at = the JSON's `ingested_at`; the result
  must equal the JSON: same keys, strings/enums exactly, times as instants (RFC 3339
  fraction digits may differ, a leap second `:60` must match; US: also the exact text,
  stricter than vectors/us/README.md asks), numbers exactly as IEEE-754
  doubles (JP and KR specs: one correctly rounded division), except US positions and
  velocities (us.md §6 / vectors/us/README.md): the JSON point is mapped forward to ECEF and
  must be within 1e-6 m of the packet's centimetres / 100 per axis, our own ECEF -> geodetic
  inverse must agree with the JSON point within 1e-6 m (compared in ECEF) and the packet's
  ECEF velocity rotated at the JSON position must match the JSON ENU velocity within 1e-6 m/s
  (and so must our own rotation). The spec's encoder rules (`unrepresentable_reason`) must
  not refuse the JSON envelope.
- `NAME.hex` + `NAME.error`: decoding must fail with exactly that error code.
- `NAME.json` + `NAME.error` (no `.hex`): encoder-side vectors; the envelope must be refused
  as `unrepresentable` by the spec's encoder rules (`unrepresentable_reason`), which are
  checked without building the frame.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import traceback
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import jp  # noqa: E402
import kr  # noqa: E402
import us  # noqa: E402
from common import DecodeError, parse_hex_file, parse_rfc3339  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
VECTORS = os.path.join(REPO, "schemas", "vectors")
DECODERS = {"jp": jp, "kr": kr, "us": us}
TIME_KEYS = {"observed_at", "ingested_at", "relayed_at", "launch_time", "time", "impact_time", "corrected_time", "at"}
POINT_KEYS = {"launch_point", "position", "impact_point", "final_point", "corrected_point"}

US_POS_TOL_M = 1e-6
US_VEL_TOL_MPS = 1e-6


def compare(exp, got, path: str, nation: str, extra: dict, problems: list[str]) -> None:
    """Append a description of every difference between `exp` (vector) and `got` (ours)."""
    key = path.rsplit(".", 1)[-1]
    if nation == "us" and key in POINT_KEYS and isinstance(exp, dict) and isinstance(got, dict):
        us_compare_point(exp, got, path, extra, problems)
        return
    if nation == "us" and key == "velocity" and isinstance(exp, dict) and isinstance(got, dict):
        us_compare_velocity(exp, got, path, extra, problems)
        return
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            problems.append(f"{path}: expected object, got {got!r}")
            return
        for k in sorted(set(exp) | set(got)):
            if k not in got:
                problems.append(f"{path}.{k}: missing in decoded (expected {exp[k]!r})")
            elif k not in exp:
                problems.append(f"{path}.{k}: unexpected in decoded ({got[k]!r})")
            else:
                compare(exp[k], got[k], f"{path}.{k}", nation, extra, problems)
    elif isinstance(exp, list):
        if not isinstance(got, list) or len(exp) != len(got):
            problems.append(f"{path}: expected {exp!r}, got {got!r}")
            return
        for i, (e, g) in enumerate(zip(exp, got)):
            compare(e, g, f"{path}[{i}]", nation, extra, problems)
    elif isinstance(exp, bool) or exp is None:
        if exp is not got:
            problems.append(f"{path}: expected {exp!r}, got {got!r}")
    elif isinstance(exp, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            problems.append(f"{path}: expected number {exp!r}, got {got!r}")
        elif isinstance(exp, int) and not isinstance(got, int):
            problems.append(f"{path}: expected integer {exp!r}, got {got!r}")
        elif float(exp) != float(got):
            problems.append(f"{path}: expected {exp!r}, got {got!r} (diff {float(got) - float(exp):.3e})")
    elif isinstance(exp, str):
        if not isinstance(got, str):
            problems.append(f"{path}: expected {exp!r}, got {got!r}")
        elif key in TIME_KEYS:
            try:
                same = parse_rfc3339(exp) == parse_rfc3339(got)
            except ValueError as exc:
                problems.append(f"{path}: {exc}")
                return
            if not same:
                problems.append(f"{path}: expected instant {exp}, got {got}")
            elif nation == "us" and exp != got:
                # Stricter than vectors/us/README.md, which asks for times as values: both
                # sides print the same text, so an exact match is also checked here.
                problems.append(f"{path}: same instant but text {got!r} != {exp!r}")
        elif exp != got:
            problems.append(f"{path}: expected {exp!r}, got {got!r}")
    else:
        problems.append(f"{path}: unexpected JSON type {type(exp).__name__}")


def us_compare_point(exp: dict, got: dict, path: str, extra: dict, problems: list[str]) -> None:
    if set(exp) != {"lat_deg", "lon_deg", "alt_m"} or set(got) != set(exp):
        problems.append(f"{path}: keys {sorted(exp)} vs {sorted(got)}")
        return
    ecef = extra["ecef_points"].get(path.removeprefix("$.payload."))
    if ecef is None:
        problems.append(f"{path}: decoder reported no raw ECEF for this point")
        return
    packet = [c / 100 for c in ecef]
    fwd_exp = us.geodetic_to_ecef(exp["lat_deg"], exp["lon_deg"], exp["alt_m"])
    fwd_got = us.geodetic_to_ecef(got["lat_deg"], got["lon_deg"], got["alt_m"])
    d_exp = max(abs(a - b) for a, b in zip(fwd_exp, packet))
    d_got = max(abs(a - b) for a, b in zip(fwd_got, fwd_exp))
    if not d_exp <= US_POS_TOL_M:
        problems.append(f"{path}: JSON point maps to ECEF {d_exp:.3e} m from the packet's (> {US_POS_TOL_M})")
    if not d_got <= US_POS_TOL_M:
        problems.append(f"{path}: our inverse is {d_got:.3e} m from the JSON point in ECEF (> {US_POS_TOL_M})")
    for k in ("lat_deg", "lon_deg", "alt_m"):
        if not math.isfinite(exp[k]):
            problems.append(f"{path}.{k}: not finite")


def us_compare_velocity(exp: dict, got: dict, path: str, extra: dict, problems: list[str]) -> None:
    keys = ("east_mps", "north_mps", "up_mps")
    if set(exp) != set(keys) or set(got) != set(keys):
        problems.append(f"{path}: keys {sorted(exp)} vs {sorted(got)}")
        return
    vel = extra["ecef_velocity"]
    point_path = path.rsplit(".", 1)[0] + ".position"
    pos = extra["expected_payload_position"]
    enu_at_json = us.ecef_to_enu(vel[0] / 1000, vel[1] / 1000, vel[2] / 1000, pos["lat_deg"], pos["lon_deg"])
    for k, v in zip(keys, enu_at_json):
        if not abs(v - exp[k]) <= US_VEL_TOL_MPS:
            problems.append(
                f"{path}.{k}: packet velocity rotated at the JSON position ({point_path}) = {v!r},"
                f" JSON {exp[k]!r} (diff {v - exp[k]:.3e} > {US_VEL_TOL_MPS})"
            )
        if not abs(got[k] - exp[k]) <= US_VEL_TOL_MPS:
            problems.append(f"{path}.{k}: ours {got[k]!r}, JSON {exp[k]!r} (diff {got[k] - exp[k]:.3e})")


def check_valid(nation: str, hex_path: str, json_path: str) -> list[str]:
    with open(hex_path, encoding="utf-8") as fh:
        data = parse_hex_file(fh.read())
    with open(json_path, encoding="utf-8") as fh:
        expected = json.load(fh)
    module = DECODERS[nation]
    extra: dict = {}
    try:
        if nation == "us":
            got, extra = us.decode_with_raw(data, expected["ingested_at"])
            extra["expected_payload_position"] = expected.get("payload", {}).get("position")
        else:
            got = module.decode(data, expected["ingested_at"])
    except DecodeError as exc:
        return [f"rejected a valid vector: {exc}"]
    problems: list[str] = []
    compare(expected, json.loads(json.dumps(got)), "$", nation, extra, problems)
    # The encoder-side rules must not refuse an envelope the format does carry.
    reason = module.unrepresentable_reason(expected)
    if reason is not None:
        problems.append(f"the spec's encoder rules refuse this valid vector's envelope: {reason}")
    return problems


def check_invalid(nation: str, hex_path: str, error_path: str) -> list[str]:
    with open(hex_path, encoding="utf-8") as fh:
        data = parse_hex_file(fh.read())
    with open(error_path, encoding="utf-8") as fh:
        want = fh.read().strip()
    try:
        DECODERS[nation].decode(data, "2026-11-21T00:00:00Z")
    except DecodeError as exc:
        if exc.code != want:
            return [f"expected {want}, got {exc.code} ({exc.detail})"]
        return []
    return [f"accepted an invalid vector (expected {want})"]


def check_association(nation: str, hex_path: str, error_path: str, assoc_path: str) -> list[str]:
    """`NAME.hex` + `NAME.error` + `NAME.association` (US J7.7, us.md 13): decoding fails with
    the code (`hub_only_kind`) after reading exactly what the `.association` JSON names."""
    with open(hex_path, encoding="utf-8") as fh:
        data = parse_hex_file(fh.read())
    with open(error_path, encoding="utf-8") as fh:
        want = fh.read().strip()
    with open(assoc_path, encoding="utf-8") as fh:
        expected = json.load(fh)
    if nation != "us":
        return ["association vectors are US only"]
    got: dict = {}
    try:
        us.decode_with_raw(data, "2026-11-21T00:00:00Z", association_out=got)
    except DecodeError as exc:
        if exc.code != want:
            return [f"expected {want}, got {exc.code} ({exc.detail})"]
    else:
        return [f"accepted a hub-only packet (expected {want})"]
    problems: list[str] = []
    # times compare as values (README)
    if parse_rfc3339(got.get("observed_at", "")) != parse_rfc3339(expected.get("observed_at", "")):
        problems.append(f"observed_at: ours {got.get('observed_at')!r}, JSON {expected.get('observed_at')!r}")
    for key in sorted(set(got) | set(expected)):
        if key != "observed_at" and got.get(key) != expected.get(key):
            problems.append(f"{key}: ours {got.get(key)!r}, JSON {expected.get(key)!r}")
    return problems


def check_unrepresentable(nation: str, json_path: str, error_path: str) -> list[str]:
    with open(json_path, encoding="utf-8") as fh:
        env = json.load(fh)
    with open(error_path, encoding="utf-8") as fh:
        want = fh.read().strip()
    if want != "unrepresentable":
        return [f"encoder-side vector with code {want!r}: not an encoder code this checker knows"]
    reason = DECODERS[nation].unrepresentable_reason(env)
    if reason is None:
        return ["no encoder rule of the spec refuses this envelope"]
    return []


SPEC_DIR = os.path.join(REPO, "schemas", "national")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def check_spec_examples(verbose: bool) -> tuple[list[str], int]:
    """Every worked example printed in a spec must be byte-identical to its committed vector
    (and, for JP, its printed JSON equal to the vector's JSON); the stated sizes must hold."""
    lines: list[str] = []
    bad = 0
    seen = {"jp": 0, "kr": 0, "us": 0}

    def vector(nation: str, name: str) -> bytes:
        return parse_hex_file(_read(os.path.join(VECTORS, nation, name + ".hex")))

    def report(nation: str, name: str, problems: list[str]) -> None:
        nonlocal bad
        seen[nation] += 1
        if problems:
            bad += 1
            lines.append(f"FAIL spec example {nation}/{name}: " + "; ".join(problems))
        elif verbose:
            lines.append(f"ok   spec example {nation}/{name}")

    jp_md = _read(os.path.join(SPEC_DIR, "jp.md"))
    for m in re.finditer(
        r"Vector `(\w+)`\.\s*\n\s*The whole frame \((\d+) bytes\):\s*\n```\n(.*?)```"
        r".*?Common envelope \(`(\w+)\.json`\):\s*\n```json\n(.*?)```",
        jp_md,
        re.S,
    ):
        name, size, hex_text, json_name, json_text = m.groups()
        problems = []
        data = parse_hex_file(hex_text)
        if len(data) != int(size):
            problems.append(f"says {size} bytes, frame has {len(data)}")
        if data != vector("jp", name):
            problems.append("frame differs from the .hex vector")
        if json_name != name or json.loads(json_text) != json.loads(_read(os.path.join(VECTORS, "jp", name + ".json"))):
            problems.append("printed JSON differs from the .json vector")
        report("jp", name, problems)

    kr_md = _read(os.path.join(SPEC_DIR, "kr.md"))
    for m in re.finditer(
        r"Vector `schemas/vectors/kr/(\w+)\.hex` \(expected envelope: `(\w+)\.json`\)\. (\d+) bytes:\s*\n"
        r"```text\n(.*?)\n```\s*\nHex \(offset: bytes\):\s*\n```text\n(.*?)```",
        kr_md,
        re.S,
    ):
        name, json_name, size, sentence, dump = m.groups()
        problems = []
        dumped = bytes.fromhex("".join(line.split(":", 1)[1] for line in dump.strip().splitlines()))
        text = sentence.replace("\u240d\u240a", "\r\n").encode("utf-8")
        if len(dumped) != int(size):
            problems.append(f"says {size} bytes, hex dump has {len(dumped)}")
        if text != dumped:
            problems.append("sentence text differs from its hex dump")
        if dumped != vector("kr", name):
            problems.append("hex dump differs from the .hex vector")
        if json_name != name:
            problems.append(f"names {json_name}.json")
        report("kr", name, problems)

    us_md = _read(os.path.join(SPEC_DIR, "us.md"))
    for m in re.finditer(r"### 12\.\d+ `(\w+)`\s*\n(.*?)```\n(.*?)```", us_md, re.S):
        name, _, dump = m.groups()
        problems = []
        data = parse_hex_file(dump)
        if data != vector("us", name):
            problems.append("dump differs from the .hex vector")
        report("us", name, problems)
    for nation, minimum in (("jp", 7), ("kr", 10), ("us", 11)):
        if seen[nation] < minimum:
            bad += 1
            lines.append(f"FAIL spec examples {nation}: found {seen[nation]} worked examples, expected >= {minimum}")
    lines.append(f"     spec worked examples checked: jp {seen['jp']}, kr {seen['kr']}, us {seen['us']}")
    return lines, bad


def _load_valid(nation: str, name: str) -> tuple[bytes, dict]:
    base = os.path.join(VECTORS, nation, name)
    return parse_hex_file(_read(base + ".hex")), json.loads(_read(base + ".json"))


def self_test(verbose: bool) -> tuple[list[str], int]:
    """The comparison must catch small, realistic differences; a decoder must reject a bit flip."""
    lines: list[str] = []
    bad = 0

    def at(d: dict, path: str):
        *parents, leaf = path.split(".")
        for p in parents:
            d = d[p]
        return d, leaf

    def bump_float(path: str):
        def f(env: dict) -> None:
            d, leaf = at(env, path)
            d[leaf] = math.nextafter(float(d[leaf]), math.inf)
        return f

    def add(path: str, delta: float):
        def f(env: dict) -> None:
            d, leaf = at(env, path)
            d[leaf] = d[leaf] + delta
        return f

    def set_value(path: str, value):
        def f(env: dict) -> None:
            d, leaf = at(env, path)
            d[leaf] = value
        return f

    def delete(path: str):
        def f(env: dict) -> None:
            d, leaf = at(env, path)
            del d[leaf]
        return f

    cases = [
        ("jp", "launch_detection", "lat 1 ulp", bump_float("payload.launch_point.lat_deg")),
        ("jp", "launch_detection", "confidence 1 ulp", bump_float("payload.confidence")),
        ("jp", "track_update", "observed_at +1 µs", set_value("observed_at", "2026-11-21T01:02:33.000002Z")),
        ("jp", "track_update_jst_midnight", "observed_at one day later", set_value("observed_at", "2026-11-22T14:59:59.900Z")),
        ("jp", "track_update", "hop_limit", add("hop_limit", 1)),
        ("jp", "cancel", "reason text", set_value("payload.reason", "false alarm: sensor artefact 誤報")),
        ("jp", "status", "detail absent in the expectation", delete("payload.detail")),
        ("jp", "correction", "corrected class", set_value("payload.corrected_missile_class", "irbm")),
        ("jp", "event_end_no_point", "final point expected", set_value("payload.final_point", {"lat_deg": 0.0, "lon_deg": 0.0, "alt_m": 0.0})),
        ("jp", "event_end", "message id", set_value("message_id", "81ce6a4c-a8aa-5464-8a8b-b60c76b62aea")),
        ("kr", "lch_exercise", "lon 1 ulp", bump_float("payload.launch_point.lon_deg")),
        ("kr", "end_lost_no_point", "time 1 s off", set_value("payload.time", "2026-11-21T14:59:58Z")),
        ("kr", "sta_degraded", "uptime 1 ulp", bump_float("payload.uptime_s")),
        ("kr", "cor_exercise", "releasability", set_value("releasability", ["jp", "kr"])),
        ("kr", "trk_exercise", "quality", add("payload.quality", 1)),
        ("us", "track_update", "lat +1e-9 deg (0.1 mm)", add("payload.position.lat_deg", 1e-9)),
        ("us", "track_update", "alt +1e-5 m", add("payload.position.alt_m", 1e-5)),
        ("us", "track_update", "east velocity +2e-6 m/s", add("payload.velocity.east_mps", 2e-6)),
        ("us", "launch_detection", "confidence 1 ulp", bump_float("payload.confidence")),
        ("us", "status_leap_second", "leap second -> 23:59:59.5", set_value("observed_at", "2016-12-31T23:59:59.500Z")),
        ("us", "status_leap_second", "leap second -> 2017-01-01T00:00:00.5", set_value("observed_at", "2017-01-01T00:00:00.500Z")),
        ("us", "cancel_two_containers", "reference order", lambda e: e["references"].reverse()),
    ]
    for nation, name, what, mutate in cases:
        data, expected = _load_valid(nation, name)
        if nation == "us":
            got, extra = us.decode_with_raw(data, expected["ingested_at"])
        else:
            got, extra = DECODERS[nation].decode(data, expected["ingested_at"]), {}
        baseline: list[str] = []
        extra["expected_payload_position"] = expected["payload"].get("position")
        compare(expected, json.loads(json.dumps(got)), "$", nation, extra, baseline)
        mutated = json.loads(json.dumps(expected))
        mutate(mutated)
        extra["expected_payload_position"] = mutated["payload"].get("position")
        problems: list[str] = []
        compare(mutated, json.loads(json.dumps(got)), "$", nation, extra, problems)
        if baseline or not problems:
            bad += 1
            lines.append(f"FAIL self-test {nation}/{name}: {what} was not detected (baseline {baseline})")
        elif verbose:
            lines.append(f"ok   self-test {nation}/{name}: {what} -> {problems[0]}")
    # a flipped bit in a valid frame must be rejected by each decoder
    for nation, name in (("jp", "launch_detection"), ("kr", "lch_exercise"), ("us", "launch_detection")):
        data, expected = _load_valid(nation, name)
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x01
        try:
            DECODERS[nation].decode(bytes(flipped), expected["ingested_at"])
        except DecodeError:
            continue
        bad += 1
        lines.append(f"FAIL self-test {nation}/{name}: a flipped bit was accepted")
    lines.append(f"     self-test: {len(cases)} mutated expectations, 3 flipped frames")
    return lines, bad


def _fix_checksum(nation: str, frame: bytearray) -> None:
    if nation == "jp" and len(frame) >= 12:
        crc = jp.crc16_ibm_3740(bytes(frame[:-2]))
        frame[-2:] = crc.to_bytes(2, "big")
    elif nation == "us" and len(frame) >= 40:
        frame[-2:] = (sum(frame[:-2]) & 0xFFFF).to_bytes(2, "little")
    elif nation == "kr" and len(frame) >= 11 and frame[-11] == 0x2A:
        frame[-10:-2] = format(zlib.crc32(bytes(frame[1:-11])), "08X").encode()


def robustness(verbose: bool) -> tuple[list[str], int]:
    """No input may make a decoder raise anything but DecodeError (the Python 'panic')."""
    lines: list[str] = []
    bad = 0
    runs = 0
    for nation in ("jp", "kr", "us"):
        folder = os.path.join(VECTORS, nation)
        for fname in sorted(os.listdir(folder)):
            if not fname.endswith(".hex"):
                continue
            name = fname[:-4]
            data = parse_hex_file(_read(os.path.join(folder, fname)))
            inputs = [data[:k] for k in range(len(data))]
            for k in range(len(data)):
                for xor in (0xFF, 0x80, 0x01):
                    mutated = bytearray(data)
                    mutated[k] ^= xor
                    inputs.append(bytes(mutated))
                    _fix_checksum(nation, mutated)
                    inputs.append(bytes(mutated))
            for item in inputs:
                runs += 1
                try:
                    out = DECODERS[nation].decode(item, "2026-11-21T06:30:00Z")
                    json.dumps(out, allow_nan=False)
                except DecodeError:
                    pass
                except Exception as exc:  # noqa: BLE001 - this is what we look for
                    bad += 1
                    if bad <= 20:
                        lines.append(f"FAIL robustness {nation}/{name} input {item.hex()}: {exc!r}")
    lines.append(f"     robustness: {runs} mutated inputs decoded or rejected with a typed error")
    return lines, bad


def main() -> int:
    verbose = "-v" in sys.argv[1:]
    totals: dict[str, list[int]] = {}
    failures = 0
    for nation in ("jp", "kr", "us"):
        folder = os.path.join(VECTORS, nation)
        names = sorted({os.path.splitext(f)[0] for f in os.listdir(folder) if f.endswith((".hex", ".json", ".error"))})
        agree = total = 0
        for name in names:
            base = os.path.join(folder, name)
            has = {ext: os.path.exists(base + ext) for ext in (".hex", ".json", ".error", ".association")}
            try:
                if has[".association"]:
                    if has[".hex"] and has[".error"] and not has[".json"]:
                        what, problems = "association", check_association(
                            nation, base + ".hex", base + ".error", base + ".association"
                        )
                    else:
                        what, problems = "?", [f"unexpected file combination {sorted(k for k, v in has.items() if v)}"]
                elif has[".hex"] and has[".json"] and not has[".error"]:
                    what, problems = "valid", check_valid(nation, base + ".hex", base + ".json")
                elif has[".hex"] and has[".error"] and not has[".json"]:
                    what, problems = "invalid", check_invalid(nation, base + ".hex", base + ".error")
                elif has[".json"] and has[".error"] and not has[".hex"]:
                    what, problems = "unrepresentable", check_unrepresentable(nation, base + ".json", base + ".error")
                else:
                    what, problems = "?", [f"unexpected file combination {sorted(k for k, v in has.items() if v)}"]
            except Exception:  # a crash of the checker is a failure, never a pass
                what, problems = "crash", [traceback.format_exc()]
            total += 1
            if problems:
                failures += 1
                print(f"FAIL {nation}/{name} [{what}]")
                for p in problems:
                    print(f"     {p}")
            else:
                agree += 1
                print(f"ok   {nation}/{name} [{what}]")
        totals[nation] = [agree, total]
    print()
    extra_failures = 0
    for label, func in (
        ("spec worked examples == committed vectors", check_spec_examples),
        ("comparator self-test (mutated expectations must be caught)", self_test),
        ("robustness (truncations, byte flips, checksum-fixed byte flips)", robustness),
    ):
        try:
            lines, bad = func(verbose)
        except Exception:
            lines, bad = [traceback.format_exc()], 1
        for line in lines:
            print(line)
        print(f"{'ok  ' if bad == 0 else 'FAIL'} {label}")
        extra_failures += bad
    print()
    for nation, (agree, total) in totals.items():
        print(f"{nation}: {agree}/{total} vectors agree")
    all_total = sum(t for _, t in totals.values())
    if all_total == 0:
        print("no vectors found: failing")
        return 1
    print("RESULT:", "all vectors agree" if failures == 0 else f"{failures} vector(s) disagree")
    if extra_failures:
        print(f"RESULT: {extra_failures} failure(s) in the spec-example, self-test or robustness checks")
    return 0 if failures == 0 and extra_failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

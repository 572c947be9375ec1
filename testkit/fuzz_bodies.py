"""Seeded generator of hostile intake bodies (issue: hardening), shared by the in-suite
fuzz test (tests/integration/test_fuzz_intake.py) and bench/fuzz_intake.py for longer runs.

Each body is what a hostile or broken form provider could send with a valid signature:
a valid request with one to three fields replaced by hostile values (NUL, lone
surrogates, look-alike letters, other scripts' digits, huge, nested or wrongly typed
values, impossible dates and zones), fields dropped or added, or a body that is not a
request at all (truncated, not UTF-8, not an object, deeply nested, form-encoded junk).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

VALID: dict[str, Any] = {
    "submission_id": "fuzz-0",
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "phone": "+16025550143",
    "sms_opt_in": True,
    "company": "Northwind",
    "notes": "Intro call",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
    "duration_minutes": 30,
    "rep": "alice@ourco.example",
}
FIELDS = tuple(VALID)

HOSTILE_TEXT: tuple[Any, ...] = (
    "",
    " ",
    "\x00",
    "Dana\x00Reyes",
    "\ud800",
    "a\udfffb",
    "team of \u017fix",
    "group of f\u0131ve",
    "+1\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",
    "\u202eevil\u202c",
    "\U0001f600" * 50,
    "x" * 201,
    "x" * 5001,
    "é" * 3000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "\\u0000",
    "\r\n\t",
    "null",
    "NaN",
    "1e400",
    "../../etc/passwd",
    "Etc/GMT+99",
    "America/Phoenix\x00",
    "2026-02-30T10:00:00",
    "2026-12-01T24:00:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
    "2026-03-08T02:30:00",
    "2026-11-01T01:30:00",
    "+1 (602) 555-0143",
    "+10000000000",
    "+" + "9" * 40,
    "dana@",
    "@majorclient.com",
    "dana@majorclient.com.",
    "a@b",
    "\ufeffdana@northwind.example",
    "alice@OURCO.example",
)
HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    5,
    481,
    2**63,
    -(2**63),
    10**400,
    1.5,
    float("inf"),
    [],
    ["Dana"],
    {},
    {"$ne": None},
    [[[[["deep"]]]]],
)


@dataclass(frozen=True)
class FuzzBody:
    body: bytes
    content_type: str
    kind: str


def _json(value: Any) -> bytes:
    # allow_nan: json.dumps writes Infinity, which Python's parser reads back.
    return json.dumps(value, allow_nan=True).encode()


def _mutated(rng: random.Random, serial: int, submission_ids: list[str]) -> dict[str, Any]:
    payload = dict(VALID)
    payload["submission_id"] = f"fuzz-{serial}"
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(FIELDS)
        roll = rng.random()
        if roll < 0.55:
            payload[field] = rng.choice(HOSTILE_TEXT)
        elif roll < 0.8:
            payload[field] = rng.choice(HOSTILE_VALUES)
        elif roll < 0.9:
            payload.pop(field, None)
        else:
            payload[rng.choice(["extra", "__proto__", "name ", "NAME", "\x00"])] = rng.choice(
                HOSTILE_TEXT
            )
    if submission_ids and rng.random() < 0.1:  # a replay of an earlier submission
        payload["submission_id"] = rng.choice(submission_ids)
    return payload


def _broken(rng: random.Random) -> tuple[bytes, str]:
    valid = _json(VALID)
    choice = rng.randrange(9)
    if choice == 0:
        return valid[: rng.randrange(len(valid))], JSON
    if choice == 1:
        return b"\xff\xfe" + valid, JSON
    if choice == 2:
        return _json(rng.choice([[VALID], "Dana", 42, None, True])), JSON
    if choice == 3:
        depth = rng.choice([100, 1000, 5000])
        return b"[" * depth + b"]" * depth, JSON
    if choice == 4:
        return b'{"name": "a", "name": "\\ud800", "email": 1}', JSON
    if choice == 5:
        return b"", rng.choice([JSON, FORM])
    if choice == 6:
        fields = "&".join(
            f"{quote(key)}={rng.choice(['%00', '%ff', '%ED%A0%80', '', '%', '=&=', 'x' * 300])}"
            for key in rng.sample(FIELDS, rng.randint(1, len(FIELDS)))
        )
        return fields.encode(), FORM
    if choice == 7:
        return b"name=Dana&&&==&email", FORM
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))), JSON


def bodies(count: int, seed: int) -> Iterator[FuzzBody]:
    """`count` hostile bodies, the same ones for the same seed."""
    rng = random.Random(seed)
    submission_ids: list[str] = []
    for serial in range(count):
        if rng.random() < 0.15:
            body, content_type = _broken(rng)
            yield FuzzBody(body, content_type, "broken")
            continue
        payload = _mutated(rng, serial, submission_ids)
        if isinstance(payload.get("submission_id"), str):
            submission_ids.append(payload["submission_id"])
        if rng.random() < 0.2:
            form = "&".join(
                f"{quote(str(key), safe='')}={quote(str(value), safe='', errors='surrogatepass')}"
                for key, value in payload.items()
            )
            yield FuzzBody(form.encode(), FORM, "form")
        else:
            yield FuzzBody(_json(payload), JSON, "json")

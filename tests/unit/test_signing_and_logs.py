"""Webhook signatures (SPEC §3.1) and structured logs that never show an email or a secret."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.domain.privacy import mask_email
from bot.domain.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signed_headers,
    verify,
)
from bot.logs import JsonFormatter

SECRET = "s3cret"
BODY = b'{"email": "dana@majorclient.com", "name": "Dana"}'
NOW = 1_800_000_000


# Signing ----------------------------------------------------------------------------------


def test_sign_is_slack_style_hmac() -> None:
    expected = hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v0={expected}"
    assert sign(SECRET, str(NOW), BODY) == sign(SECRET, NOW, BODY)


def test_good_signature_verifies() -> None:
    headers = signed_headers(SECRET, BODY, now=NOW)
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    verify(SECRET, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY, now=NOW)
    # Within the tolerance either way.
    verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW + 300)
    verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW - 300)


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace(b"Dana", b"Dane"),
        BODY + b" ",
        b"",
    ],
)
def test_tampered_body_is_refused(body: bytes) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), body, now=NOW)


def test_wrong_secret_or_timestamp_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify("other", str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW)
    # A signature for one timestamp does not cover another.
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, str(NOW + 1), sign(SECRET, NOW, BODY), BODY, now=NOW)


def test_stale_timestamp_is_refused() -> None:
    with pytest.raises(SignatureError, match="stale or replayed"):
        verify(SECRET, str(NOW), sign(SECRET, NOW, BODY), BODY, now=NOW + 301)


def test_future_timestamp_is_refused() -> None:
    future = NOW + 301
    with pytest.raises(SignatureError, match="more than 300 seconds"):
        verify(SECRET, str(future), sign(SECRET, future, BODY), BODY, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [(None, "v0=abc"), ("", "v0=abc"), (str(NOW), None), (str(NOW), "")],
)
def test_missing_headers_are_refused(timestamp: str | None, signature: str | None) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, timestamp, signature, BODY, now=NOW)


def test_non_numeric_timestamp_is_refused() -> None:
    with pytest.raises(SignatureError, match="unix seconds"):
        verify(SECRET, "yesterday", sign(SECRET, "yesterday", BODY), BODY, now=NOW)


# Logs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("dana.reyes@majorclient.com", "d***@majorclient.com"),
        ("from Dana <dana@MajorClient.com>!", "from Dana <d***@MajorClient.com>!"),
        ("a@b.io and zed+tag@eu.ourco.example", "a***@b.io and z***@eu.ourco.example"),
        ("no address here", "no address here"),
    ],
)
def test_mask_email(text: str, masked: str) -> None:
    assert mask_email(text) == masked


@pytest.mark.parametrize(
    ("text", "leaked"),
    [("dana@bücher.de", "dana@"), ("jörg@example.com", "jör")],
)
def test_mask_email_internationalised_addresses(text: str, leaked: str) -> None:
    masked = mask_email(text)
    assert leaked not in masked
    assert "***@" in masked


@pytest.fixture
def log_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("frontdesk.test.logs")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.handlers[:] = []
        logger.propagate = True


def _entries(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_formatter_writes_one_json_object_per_line(
    log_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_lines
    logger.info("first")
    logger.warning("second %s", "line\nbreak")
    first, second = _entries(stream)
    assert first["msg"] == "first"
    assert first["level"] == "info"
    assert first["logger"] == "frontdesk.test.logs"
    assert first["ts"].endswith("+00:00")
    assert second["level"] == "warning"
    assert second["msg"] == "second line\nbreak"


def test_uvicorns_colour_copy_and_ansi_codes_stay_out_of_json(
    log_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_lines
    # What uvicorn logs on start-up: the message, and a copy with terminal colours.
    logger.info(
        "Uvicorn running on %s (Press CTRL+C to quit)",
        "http://127.0.0.1:3000",
        extra={"color_message": "Uvicorn running on \x1b[1m%s\x1b[0m (Press CTRL+C to quit)"},
    )
    logger.info("\x1b[32mINFO\x1b[0m: started")
    first, second = _entries(stream)
    assert "color_message" not in first
    assert first["msg"] == "Uvicorn running on http://127.0.0.1:3000 (Press CTRL+C to quit)"
    assert second["msg"] == "INFO: started"
    assert "\x1b" not in stream.getvalue() and "\\u001b" not in stream.getvalue()


def test_emails_masked_in_message_and_extra_fields(
    log_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_lines
    logger.info(
        "booked %s",
        "dana@majorclient.com",
        extra={
            "client": "dana@majorclient.com",
            "attendees": ["dana@majorclient.com", "alice@ourco.example"],
            "request": {"contact": {"email": "dana@majorclient.com"}, "count": 2},
        },
    )
    raw = stream.getvalue()
    assert "dana@majorclient.com" not in raw
    assert "alice@ourco.example" not in raw
    (entry,) = _entries(stream)
    assert entry["msg"] == "booked d***@majorclient.com"
    assert entry["client"] == "d***@majorclient.com"
    assert entry["attendees"] == ["d***@majorclient.com", "a***@ourco.example"]
    assert entry["request"] == {"contact": {"email": "d***@majorclient.com"}, "count": 2}


def test_secret_keys_are_redacted(log_lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log_lines
    logger.info(
        "calling slack",
        extra={
            "slack_token": "xoxb-123-456",
            "client_secret": "hunter2",
            "Authorization": "Bearer abc",
            "oauth": {"refresh_token": "1//refresh", "scope": "calendar.events"},
            "idempotency_key": "typeform-8d1f",
        },
    )
    raw = stream.getvalue()
    for secret in ("xoxb-123-456", "hunter2", "Bearer abc", "1//refresh"):
        assert secret not in raw
    (entry,) = _entries(stream)
    assert entry["slack_token"] == "[redacted]"
    assert entry["client_secret"] == "[redacted]"
    assert entry["Authorization"] == "[redacted]"
    assert entry["oauth"] == {"refresh_token": "[redacted]", "scope": "calendar.events"}
    assert entry["idempotency_key"] == "typeform-8d1f"


def test_exception_text_included_without_the_raw_email(
    log_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_lines
    try:
        raise RuntimeError("Postmark refused dana@majorclient.com: inactive recipient")
    except RuntimeError:
        logger.exception("confirmation failed")
    assert "dana@majorclient.com" not in stream.getvalue()
    (entry,) = _entries(stream)
    assert entry["level"] == "error"
    assert "Traceback" in entry["exc"]
    assert "RuntimeError: Postmark refused d***@majorclient.com: inactive recipient" in entry["exc"]


def test_debug_logging_never_turns_on_token_logging_libraries() -> None:
    import logging

    from bot.logs import TOKEN_LOGGING_LIBRARIES, configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("DEBUG")
        for name in TOKEN_LOGGING_LIBRARIES:
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in TOKEN_LOGGING_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_scheduler_runs_log_our_line_not_apschedulers_two() -> None:
    import logging

    from bot.logs import CHATTY_LIBRARIES, configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("INFO")
        assert not logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO)
        assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.WARNING)
        assert logging.getLogger("frontdesk.scheduler").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)


def test_a_timestamp_in_other_scripts_digits_is_refused() -> None:
    arabic_indic = "".join(chr(0x660 + digit) for digit in range(10))
    arabic = str(NOW).translate(str.maketrans("0123456789", arabic_indic))
    with pytest.raises(SignatureError, match="unix seconds"):
        verify(SECRET, arabic, sign(SECRET, arabic, BODY), BODY, now=NOW)


def test_client_data_is_replaced_in_messages_extras_and_tracebacks(log_lines) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from contextvars import copy_context

    from bot.domain.privacy import CLIENT_DATA, client_data

    logger, stream = log_lines
    notes = "line one\nthe pineapple plan"
    with client_data("Zebulon Quistgaard", "+16025550143", None, notes, "Al"):
        logger.info("booking for Zebulon Quistgaard", extra={"detail": "call +16025550143"})
        logger.info("Also fine")  # "Al" is too short to redact: it would blank ordinary words
        try:
            raise RuntimeError(f"refused {notes!r}")
        except RuntimeError:
            logger.exception("failed")
        # A worker thread started from this context (as run_in_threadpool does).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(copy_context().run, logger.warning, "thread: Zebulon Quistgaard").result()
    logger.info("after: Zebulon Quistgaard")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    inside, after = lines[:-1], lines[-1]
    text = json.dumps(inside)
    assert "Zebulon" not in text and "6025550143" not in text and "pineapple" not in text
    assert CLIENT_DATA in inside[0]["msg"] and CLIENT_DATA in inside[0]["detail"]
    assert "RuntimeError" in inside[2]["exc"]
    assert inside[1]["msg"] == "Also fine"
    assert after["msg"] == "after: Zebulon Quistgaard"  # only while the request is handled

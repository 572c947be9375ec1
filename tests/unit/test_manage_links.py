"""The manage link's tokens (SPEC §11): signed, naming a booking and its version, good
until the meeting ends; and the form tokens of its page, bound to one link, good 2 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.manage_links import FORM_LIFETIME, LinkError, ManageLinks

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
END = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
LINKS = ManageLinks("server-secret", "https://frontdesk.example/")


def reason(text: str, now: datetime = NOW) -> str:
    with pytest.raises(LinkError) as refused:
        LINKS.read(text, now)
    return refused.value.reason


def test_a_token_names_the_booking_and_version_until_the_meeting_ends() -> None:
    token = LINKS.issue(42, 3, END)

    read = LINKS.read(token, NOW)

    assert (read.booking_id, read.version, read.expires_at) == (42, 3, END)
    assert LINKS.url(42, 3, END) == f"https://frontdesk.example/manage/{token}"
    assert reason(token, END) == "expired"
    assert LINKS.read(token, END - timedelta(seconds=1)).booking_id == 42


def test_a_changed_or_foreign_token_is_forged() -> None:
    token = LINKS.issue(42, 3, END)
    body, signature = token.rsplit(".", 1)
    later = LINKS.issue(42, 3, END + timedelta(days=30)).rsplit(".", 1)[0]

    assert reason(f"{body}.{signature[:-1]}A") == "forged"
    assert reason(token.replace("2a.", "2b.", 1)) == "forged"  # another booking
    assert reason(f"{later}.{signature}") == "forged"  # a later expiry
    assert reason(ManageLinks("other-secret", "https://x").issue(42, 3, END)) == "forged"
    for junk in ("", "a.b.c", "a.b.c.d.e", "zz.1.1." + signature, "x" * 500):
        assert reason(junk) == "forged"


def test_a_form_token_is_bound_to_its_link_and_lasts_two_hours() -> None:
    link = LINKS.issue(42, 3, END)
    other = LINKS.issue(43, 1, END)
    form = LINKS.form_token(link, NOW)

    LINKS.check_form(form, link, NOW + FORM_LIFETIME - timedelta(seconds=1))
    for text, manage, at, why in (
        (form, other, NOW, "forged"),
        (None, link, NOW, "forged"),
        (form + "x", link, NOW, "forged"),
        (form, link, NOW + FORM_LIFETIME, "expired"),
    ):
        with pytest.raises(LinkError) as refused:
            LINKS.check_form(text, manage, at)
        assert refused.value.reason == why

"""Phone numbers through libphonenumber: written forms in, E.164 out, ASCII digits only."""

from __future__ import annotations

import pytest

from bot.domain.phone import (
    PHONE_CHARACTERS,
    PHONE_COUNTRY_CODE,
    PHONE_IMPOSSIBLE,
    PhoneError,
    to_e164,
)


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+1 (602) 555-0143", "+16025550143"),
        ("+16025550143", "+16025550143"),
        ("+1.602.555.0143", "+16025550143"),
        (" +44 20 7946 0958 ", "+442079460958"),
    ],
)
def test_written_forms_become_e164(written: str, e164: str) -> None:
    assert to_e164(written) == e164


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("+1\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660", PHONE_CHARACTERS),
        ("+1 602 555 0143 ext. 9", PHONE_CHARACTERS),
        ("602-555-0143", PHONE_COUNTRY_CODE),
        ("+10000000000", PHONE_IMPOSSIBLE),
        ("+999 1234567", PHONE_IMPOSSIBLE),
        ("+" + "1" * 60, PHONE_CHARACTERS),
    ],
)
def test_unreadable_numbers_say_why(written: str, message: str) -> None:
    with pytest.raises(PhoneError) as raised:
        to_e164(written)
    assert str(raised.value) == message

"""Clients' phone numbers: any common written form in, E.164 out (via libphonenumber).

Only ASCII digits are read: libphonenumber would quietly turn other scripts' digits
(Arabic-Indic, full-width) into a number, and a reminder would be texted to it.
"""

from __future__ import annotations

import re

import phonenumbers

# Digits, a leading plus, and the punctuation people write numbers with; nothing else.
_WRITTEN_FORM = re.compile(r"\+?[0-9()\-. /]+", re.ASCII)
MAX_PHONE_LENGTH = 40

PHONE_CHARACTERS = "must be written with ASCII digits, like +16025550143 (E.164)"
PHONE_COUNTRY_CODE = "must start with + and the country code, like +16025550143 (E.164)"
PHONE_IMPOSSIBLE = "is not a phone number that can exist; write it in E.164 form, like +16025550143"


class PhoneError(ValueError):
    """A phone number that cannot be read; the message is for the client."""


def to_e164(text: str) -> str:
    """'+1 (602) 555-0143' -> '+16025550143'; raise PhoneError with the reason otherwise."""
    written = text.strip()
    if len(written) > MAX_PHONE_LENGTH or not _WRITTEN_FORM.fullmatch(written):
        raise PhoneError(PHONE_CHARACTERS)
    if not written.startswith("+"):
        raise PhoneError(PHONE_COUNTRY_CODE)
    try:
        number = phonenumbers.parse(written, None)
    except phonenumbers.NumberParseException:
        raise PhoneError(PHONE_IMPOSSIBLE) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(PHONE_IMPOSSIBLE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

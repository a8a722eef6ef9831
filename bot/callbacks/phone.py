"""UK phone numbers: find one in free text, check it can be called back, normalise to E.164."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

# Ofcom's ranges reserved for drama (phonenumbers marks them invalid). Accepted so that tests and
# demonstrations never need a real person's number; nobody can be reached on them.
DRAMA_RANGES = re.compile(
    r"^(?:7700900\d{3}|1[1-9]1496\d{4}|1[1-9]\d4960\d{3}|2079460\d{3}|1914980\d{3}|2890180\d{3}"
    r"|2920180\d{3}|1632960\d{3})$"
)
CALLABLE_TYPES = {
    PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.UAN,  # 03 numbers
}


class PhoneError(ValueError):
    """Why the answer is not a number we can call. `kind` picks the re-ask wording."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Phone:
    e164: str
    mobile: bool

    @property
    def last3(self) -> str:
        return self.e164[-3:]


def parse_uk_phone(text: Optional[str]) -> Phone:
    """A callable UK mobile (07...) or landline (01, 02, 03) in any common format, as E.164.
    Raises PhoneError with kind: empty, no_digits, several, too_short, too_long, not_uk,
    not_callable (0800, 09, 070 personal numbers...), invalid."""
    if text is None or not text.strip():
        raise PhoneError("empty")
    text = text.strip()
    digit_count = sum(ch.isdigit() for ch in text)
    if digit_count == 0:
        raise PhoneError("no_digits")
    if len(text) > 200:
        raise PhoneError("too_long")
    found = {phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
             for m in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE)}
    if len(found) > 1:
        raise PhoneError("several")
    if digit_count > 15:
        raise PhoneError("too_long")
    raw = re.sub(r"[^\d+]", "", text)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if "+" in raw[1:]:
        raise PhoneError("invalid")
    if not found and raw.startswith("+") is False and len(raw) < 10:
        raise PhoneError("too_short")
    candidate = next(iter(found)) if found else raw
    try:
        number = phonenumbers.parse(candidate, "GB")
    except NumberParseException:
        raise PhoneError("invalid") from None
    if number.country_code != 44:
        raise PhoneError("not_uk")
    national = str(number.national_number)
    if len(national) < 10:
        raise PhoneError("too_short")
    if len(national) > 10:
        raise PhoneError("too_long")
    if DRAMA_RANGES.match(national):
        return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                     mobile=national.startswith("7"))
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("invalid")
    kind = phonenumbers.number_type(number)
    if kind not in CALLABLE_TYPES:
        raise PhoneError("not_callable")
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                 mobile=kind == PhoneNumberType.MOBILE)


def mask(e164: str) -> str:
    """Only the last three digits, e.g. 'ending 123'."""
    return f"ending {e164[-3:]}"

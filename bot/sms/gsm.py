"""GSM-7: the only alphabet every phone shows, and how many SMS segments a text costs.

One character outside GSM-7 (an emoji, a curly quote) turns the whole message into UCS-2, with
70-character segments instead of 160, so replies are cleaned to GSM-7 before they are sent, and the
domain's SMS responses are checked against the limits in the tests (tests/test_sms_segments.py).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import List

# GSM 03.38 basic character set (one septet each). \x1b is the escape to the extension table.
BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: two septets each (escape + character).
EXTENSION = set("^{}\\[~]|€\f")

SINGLE_SEGMENT = 160
MULTI_SEGMENT = 153  # each part of a concatenated SMS loses 7 septets to the header
MAX_SEGMENTS = 3
MAX_SEPTETS = MAX_SEGMENTS * MULTI_SEGMENT  # 459

# Common characters outside GSM-7 and their plain equivalents.
REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "´": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "«": '"', "»": '"',
    "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "-", "\u00b7": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    "\u200b": "", "\u200d": "", "\ufe0f": "", "\t": " ", "\u2192": "->", "\u00d7": "x",
}


def septets(char: str) -> int:
    """Septets one character costs in GSM-7, or 0 if it is not GSM-7 at all."""
    if char in BASIC:
        return 1
    if char in EXTENSION:
        return 2
    return 0


def is_gsm7(text: str) -> bool:
    return all(septets(c) for c in text)


def non_gsm7(text: str) -> List[str]:
    return sorted({c for c in text if not septets(c)})


def length(text: str) -> int:
    """Length in septets (extension characters count twice). Assumes GSM-7 text."""
    return sum(septets(c) or 1 for c in text)


def segments(text: str) -> int:
    """How many SMS segments the text takes (UCS-2 rules if it isn't all GSM-7)."""
    if not text:
        return 1
    if is_gsm7(text):
        n = length(text)
        return 1 if n <= SINGLE_SEGMENT else -(-n // MULTI_SEGMENT)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def to_gsm7(text: str) -> str:
    """Replace what can be replaced, transliterate accents, drop the rest (emoji and the like)."""
    out = []
    for char in text:
        if septets(char):
            out.append(char)
            continue
        if char in REPLACEMENTS:
            out.append(REPLACEMENTS[char])
            continue
        plain = "".join(c for c in unicodedata.normalize("NFKD", char) if septets(c))
        out.append(plain)
    return "".join(out)


@dataclass(frozen=True)
class Check:
    ok: bool
    septets: int
    segments: int
    bad_characters: List[str]

    def reason(self) -> str:
        if self.bad_characters:
            return f"not GSM-7: {self.bad_characters!r}"
        if not self.ok:
            return f"{self.septets} GSM-7 characters, {self.segments} segments (at most {MAX_SEPTETS}, {MAX_SEGMENTS})"
        return "ok"


def check(text: str) -> Check:
    bad = non_gsm7(text)
    n = length(text)
    seg = segments(text)
    return Check(ok=not bad and n <= MAX_SEPTETS, septets=n, segments=seg, bad_characters=bad)


def split(text: str, limit: int = MAX_SEPTETS) -> List[str]:
    """Split a long GSM-7 text into parts of at most `limit` septets, at sentence or word ends."""
    parts: List[str] = []
    rest = text.strip()
    while rest and length(rest) > limit:
        cut = _cut_point(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _cut_point(text: str, limit: int) -> int:
    # The longest prefix within the limit.
    total, end = 0, 0
    for i, char in enumerate(text):
        total += septets(char) or 1
        if total > limit:
            break
        end = i + 1
    window = text[:end]
    for marks in ("\n", ". ", "? ", "! ", "; ", ", ", " "):
        pos = window.rfind(marks)
        if pos > end // 2:
            return pos + len(marks.rstrip()) if marks.strip() else pos + 1
    return max(end, 1)

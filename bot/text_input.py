"""What a person typed, made safe to process before anything else reads it.

A lone UTF-16 surrogate ("\\ud83d", which JSON can carry) cannot be encoded as UTF-8: spaCy's
hash_string and our danger patterns would raise on it and the turn would be lost. Each one becomes
U+FFFD, as do NUL and the other C0/C1 control characters apart from tab and newline, so the turn is
answered normally. Used by the gateway (web chat and SMS) and again by our Rasa input channels.
"""
from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    return _UNSAFE.sub(REPLACEMENT, text)

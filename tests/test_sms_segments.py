"""Every reply that can go out by SMS fits the channel: GSM-7 characters only, at most 3 segments
(459 GSM-7 characters) including the numbered options made from its buttons, no markdown or HTML
links (a plain-text address is fine), and the emergency message first in a single segment.

"Could be sent by SMS": a response's `channel: sms` variations if it has any, otherwise every
variation without a channel (Rasa falls back to those on the sms channel).
"""
from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import yaml

from bot import domain_files

from bot.gateway.fallback import FALLBACK_TEXT
from bot.profile import load_profile
from bot.settings import ROOT
from bot.sms import gsm, texts
from bot.sms.render import block, render

DOMAIN = domain_files.merged()
PROFILE = load_profile(ROOT / "profiles" / "example.yml").slots()
HTML_LINK = re.compile(r"<a\s|</a>|href=", re.I)
MD_LINK = re.compile(r"\[[^\]]+\]\([^)]+\)")
# Values for slots filled during a conversation: long enough to be a fair test.
SLOT_STANDIN = "x" * 24


def sms_variations() -> Iterator[Tuple[str, int, dict]]:
    for name, variations in (DOMAIN.get("responses") or {}).items():
        sms = [v for v in variations if v.get("channel") == "sms"]
        for i, variation in enumerate(sms or [v for v in variations if not v.get("channel")]):
            yield name, i, variation


def fill(text: str) -> str:
    names = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    values: Dict[str, str] = {n: PROFILE.get(n, SLOT_STANDIN) for n in names}
    return text.format(**values)


CASES = list(sms_variations())


def test_there_are_sms_responses_to_check():
    assert any(v.get("channel") == "sms" for _, _, v in CASES)


@pytest.mark.parametrize("name,index,variation", CASES, ids=[f"{n}[{i}]" for n, i, _ in CASES])
def test_response_fits_an_sms(name, index, variation):
    raw = variation.get("text") or ""
    titles = " ".join(b.get("title", "") for b in variation.get("buttons") or [])
    bad = gsm.non_gsm7(raw + titles)
    assert not bad, f"{name}: characters outside GSM-7 {bad!r} (curly quotes, dashes, emoji...)"
    assert not HTML_LINK.search(raw) and not MD_LINK.search(raw), f"{name}: links must be plain text"
    filled = dict(variation, text=fill(raw))
    body = block(filled, [])
    checked = gsm.check(body)
    assert checked.ok, f"{name}: {checked.reason()} once filled from the profile, options included"


def test_the_emergency_message_is_one_segment():
    for name, _, variation in CASES:
        if (variation.get("custom") or {}).get("escalation") == "emergency":
            assert gsm.segments(fill(variation["text"])) == 1, name
    assert gsm.segments(texts.EMERGENCY) == 1


@pytest.mark.parametrize("name", sorted(texts.ALL))
def test_fixed_texts_fit(name):
    text = texts.ALL[name].format(org_name="The Royal Borough of Kensington and Chelsea Council")
    assert gsm.check(text).ok, f"{name}: {gsm.check(text).reason()}"


def test_the_gateway_fallback_fits():
    assert gsm.check(FALLBACK_TEXT).ok


def test_checker_counts_like_the_standard():
    assert gsm.segments("a" * 160) == 1 and gsm.segments("a" * 161) == 2
    assert gsm.segments("a" * 306) == 2 and gsm.segments("a" * 307) == 3
    assert gsm.check("a" * 459).ok and not gsm.check("a" * 460).ok
    assert gsm.length("€[]") == 6  # extension characters count twice
    assert gsm.segments("a" * 69 + "\u2019") == 1 and gsm.segments("a" * 70 + "\u2019") == 2  # UCS-2
    assert not gsm.check("Call 999 \U0001F6A8").ok
    assert gsm.to_gsm7("\u201cIt\u2019s ok\u201d \u2013 caf\u00e9 \U0001F600\u2026") == '"It\'s ok" - café ...'


def test_long_replies_are_split_and_packed_within_the_limits():
    replies = [{"text": ("A sentence of ordinary guidance. " * 30).strip()},
               {"text": "Short one.", "buttons": [{"title": "Menu", "payload": "/menu"}]}]
    out = render(replies)
    assert len(out.messages) >= 3
    assert all(gsm.check(m).ok for m in out.messages)
    assert out.messages[-1].endswith("Reply 1 for Menu") and out.choices == ["/menu"]


def test_markdown_links_become_plain_text():
    out = render([{"text": "See [our page](https://www.northbrook.example/da) for **more**."}])
    assert out.messages == ["See our page: https://www.northbrook.example/da for more."]


OPT_OUT_INSTRUCTION = re.compile(r"\b(?i:reply|text|send|say)\b[^.?!]{0,60}?\b(STOP|STOPALL|UNSUBSCRIBE|CANCEL|END|QUIT)\b")


@pytest.mark.parametrize("name,index,variation", CASES, ids=[f"{n}[{i}]" for n, i, _ in CASES])
def test_no_sms_response_asks_for_an_opt_out_word(name, index, variation):
    """On SMS a message that is just STOP, CANCEL, END, QUIT, STOPALL or UNSUBSCRIBE opts the number
    out of every text (no reply, nothing until START). Asking someone to reply with one of them to
    leave a form would silently cut them off; use words like FORGET IT instead."""
    assert not OPT_OUT_INSTRUCTION.search(variation.get("text") or ""), \
        f"{name}: asks for an SMS opt-out word; use for example FORGET IT"

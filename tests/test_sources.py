"""Every law and national phone number in the bot's answers traces to docs/sources.yml.

- A response that names a law (an Act, a section, Clare's Law) must name one listed in the sources file,
  and every section it cites must be listed for the Act it cites.
- Every phone number written into a response must be a number recorded in the sources file; numbers
  that come from {placeholders} are the organisation's own, so they are checked against the profile.
- No response tells anyone what they "should" do, s.79 is never stated as law, and numbers the
  reference marks as unconfirmed never appear.
- The guidance responses keep their shape: web text <= 320 characters with a next step, SMS text
  GSM-7 only and <= 459 characters, and every placeholder resolvable from the profile.
"""
from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest
import yaml

from bot import domain_files

from bot.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = domain_files.merged()
SOURCES = yaml.safe_load((ROOT / "docs" / "sources.yml").read_text(encoding="utf-8"))["sources"]
PROFILE = load_profile(ROOT / "profiles" / "example.yml")

ACTS = (
    "Domestic Abuse Act 2021", "Family Law Act 1996", "Housing Act 1996", "Serious Crime Act 2015",
    "Offences against the Person Act 1861",
)
LAW_WORDS = re.compile(r"\bAct\b|\bs\.\s?\d|Clare's Law|Disclosure Scheme|\bsection\b", re.I)
SECTION = re.compile(r"\b(?:s\.\s?\d+[A-Z]?|Part \d+)")
# UK numbers as people write them: 0808 2000 247, 0800 1111, 0808 80 10 800, 116 123, 999.
PHONE = re.compile(r"(?<![\d.])(?:0\d{2,4}(?: ?\d{2,4}){1,3}|116 ?\d{3}|999)(?![\d])")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def variations() -> Iterator[Tuple[str, dict]]:
    for name, variants in DOMAIN["responses"].items():
        for variant in variants:
            yield name, variant


def guidance_responses() -> List[str]:
    """Responses served by the guidance rules (plus greet/menu, whose buttons are the main menu)."""
    rules = yaml.safe_load((ROOT / "data" / "rules" / "guidance.yml").read_text(encoding="utf-8"))["rules"]
    names = {"utter_greet", "utter_menu"}
    for rule in rules:
        for step in rule["steps"]:
            if "action" in step and step["action"].startswith("utter_"):
                names.add(step["action"])
    out = []
    for name in DOMAIN["responses"]:
        base = name.split("/")[0]
        if name in names or base in names:
            out.append(name)
    return sorted(out)


def source_numbers() -> Set[str]:
    return {digits(str(s["phone"])) for s in SOURCES if s.get("phone")}


def source_laws() -> List[str]:
    laws = []
    for s in SOURCES:
        for law in str(s.get("law", "")).split(";"):
            if law.strip():
                laws.append(law.strip())
    return laws


def profile_numbers() -> Set[str]:
    found = set()
    for value in PROFILE.slots().values():
        for match in PHONE.findall(value):
            found.add(digits(match))
    return found


def placeholders(text: str) -> Set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_sources_file_is_well_formed():
    ids = [s["id"] for s in SOURCES]
    assert len(ids) == len(set(ids)), "duplicate source ids"
    for s in SOURCES:
        assert s.get("title"), s
        assert s.get("url") or s.get("law") or s.get("status") == "general_description" or s.get("phone"), s
        assert s.get("checked"), f"{s['id']}: say when or where it was checked"


@pytest.mark.parametrize("name,variant", list(variations()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_number_in_a_response_is_sourced(name, variant):
    text = variant.get("text") or ""
    static = re.sub(r"\{[a-z_]+\}", "", text)  # placeholders are checked against the profile below
    known = source_numbers()
    for number in PHONE.findall(static):
        if DRAMA.fullmatch(digits(number)):
            continue  # an Ofcom drama number used as an example belongs to no one
        assert digits(number) in known, f"{name}: {number!r} is not recorded in docs/sources.yml"
    rendered_extra = set(PHONE.findall(_render(text))) - set(PHONE.findall(static))
    for number in rendered_extra:
        assert digits(number) in profile_numbers() | known, f"{name}: {number!r} not from the profile"


@pytest.mark.parametrize("name,variant", list(variations()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_law_in_a_response_is_sourced(name, variant):
    text = variant.get("text") or ""
    if not LAW_WORDS.search(text):
        return
    laws = source_laws()
    acts = [act for act in ACTS if act in text]
    for act in acts:
        assert any(law.startswith(act) for law in laws), f"{name}: {act} not in docs/sources.yml"
    for section in SECTION.findall(text):
        section = section.replace("s. ", "s.")
        assert acts, f"{name}: cites {section} without naming the Act"
        assert any(f"{act} {section}" in laws for act in acts), (
            f"{name}: {section} of {acts} is not listed in docs/sources.yml"
        )
    if "Clare's Law" in text or "Disclosure Scheme" in text:
        assert any("Clare's Law" in law for law in laws)


def test_no_response_says_should():
    # Guidance never uses the word; elsewhere only questions about someone else ("what should the caller
    # say?") are allowed, never "you should".
    guidance = set(guidance_responses())
    offenders = []
    for name, v in variations():
        text = v.get("text") or ""
        if name in guidance and re.search(r"\bshould\b", text, re.I):
            offenders.append(name)
        elif re.search(r"\b(you|we|they|i) should\b|\bshould (you|i|we)\b", text, re.I):
            offenders.append(name)
    assert not offenders, f"responses telling people what they 'should' do: {offenders}"


def test_unconfirmed_law_and_numbers_are_never_used():
    for name, variant in variations():
        text = variant.get("text") or ""
        assert not re.search(r"\bs\.\s?79\b|section 79", text), f"{name} states s.79 as law"
        assert "Forced Marriage Unit" not in text and "Rape Crisis" not in text, name


def test_profile_local_numbers_are_drama_numbers():
    # The example profile is fictional: its local lines must be Ofcom drama numbers.
    for number in profile_numbers():
        assert DRAMA.fullmatch(number), number


class _Slots(dict):
    def __missing__(self, key):  # conversation slots (not the profile) stay as they are
        return "{" + key + "}"


def _render(text: str) -> str:
    return string.Formatter().vformat(text, (), _Slots(PROFILE.slots()))


DRAMA = re.compile(r"(0113|0117)4960\d{3}|077009\d{5}")


@pytest.mark.parametrize("name", guidance_responses())
def test_guidance_response_shape(name):
    variants = DOMAIN["responses"][name]
    web = [v for v in variants if not v.get("channel")]
    sms = [v for v in variants if v.get("channel") == "sms"]
    assert web and sms, f"{name} needs a web text and a `channel: sms` variation"
    for v in web:
        assert len(v["text"]) <= 320, f"{name}: {len(v['text'])} characters"
        assert len(_render(v["text"])) <= 340, f"{name}: too long once the profile is filled in"
        if name not in ("utter_helplines", "utter_goodbye"):  # helplines_local follows at once; goodbye ends
            assert v.get("buttons"), f"{name}: no next step"
            payloads = {b["payload"] for b in v["buttons"]}
            assert "/menu" in payloads or len(payloads) >= 5, f"{name}: no way back to the topics"
    for v in sms:
        assert "buttons" not in v, f"{name}: SMS cannot show buttons"
        rendered = _render(v["text"])
        assert len(rendered) <= 459, f"{name}: SMS is {len(rendered)} characters"
        bad = sorted(set(rendered) - GSM7)
        assert not bad, f"{name}: SMS text has non GSM-7 characters {bad}"
    for v in variants:
        assert placeholders(v["text"]) <= set(PROFILE.slots()), f"{name}: unknown placeholder"
        assert "{" not in _render(v["text"]), name


def test_button_payloads_name_known_intents():
    intents = {i if isinstance(i, str) else next(iter(i)) for i in DOMAIN["intents"]}
    for name in guidance_responses():
        for v in DOMAIN["responses"][name]:
            for b in v.get("buttons", []):
                assert b["payload"].startswith("/") and b["payload"][1:] in intents, (name, b)


def test_helplines_use_the_exact_reference_numbers():
    text = " ".join(v["text"] for n in ("utter_helplines", "utter_helplines_local")
                    for v in DOMAIN["responses"][n] if not v.get("channel"))
    for number in ("0808 2000 247", "0808 801 0327", "0800 999 5428", "0800 5999 247",
                   "0808 802 4040", "116 123", "0800 1111"):
        assert number in text, number

"""High-risk disclosures (issue 15): the risk patterns (bot/nlu/risk.py, bot/nlu/patterns/risk.yml),
how the danger layer uses them (bot/nlu/emergency_component.py) and the replies (bot/nlg.py).
Phrasings here are the developers' own, never a blind set in eval/."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.danger import PatternError, examples
from bot.nlu.emergency_component import EmergencyDetector
from bot.nlu.risk import RiskDetector, default_risk_detector

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def risk() -> RiskDetector:
    return default_risk_detector()


def test_every_pattern_example_is_found_with_its_category(risk):
    rows = examples(risk.detector)
    assert len(rows) >= 20
    for pattern_id, category, text in rows:
        signal = risk.detect(text)
        assert signal is not None, f"{pattern_id}: {text!r} not found"
        assert signal.category == category, f"{text!r}: {signal.category}, expected {category}"


def test_the_listed_ordinary_messages_are_not_disclosures(risk):
    for text in risk.detector.not_danger_examples:
        assert risk.detect(text) is None, text


@pytest.mark.parametrize("text, category", [
    ("my ex threatened to kill me a few months ago", "threat_to_kill"),
    ("she says if i ever go to the police she'll murder me", "threat_to_kill"),
    ("he keeps telling me nobody would find my body", "threat_to_kill"),
    ("two years ago he had his hands round my throat", "strangulation"),
    ("he squeezed my neck until everything went black", "strangulation"),
    ("my girlfriend smothered me with a cushion last weekend", "strangulation"),
    ("my husband says he will hang himself if i leave", "abuser_suicide_threat"),
    ("she threatened suicide when i said i wanted a divorce", "abuser_suicide_threat"),
    ("he shoved me into the door and now i think my finger is broken", "injury"),
    ("i'm 12 weeks pregnant and he kicked me yesterday", "injury"),
    ("he hit me with a bottle on friday and the cut keeps bleeding", "injury"),
])
def test_disclosures_in_the_past_or_conditional_are_found(risk, text, category):
    signal = risk.detect(text)
    assert signal is not None and signal.category == category, (text, signal)
    assert not signal.soon


@pytest.mark.parametrize("text", [
    "he said he'll kill me when he gets home",
    "she texted me that she's going to kill me later",
    "he told me he would finish me off when i get back tonight",
    "my husband says he'll murder me as soon as the kids are asleep",
])
def test_a_threat_tied_to_a_coming_moment_today_is_soon(risk, text):
    signal = risk.detect(text)
    assert signal is not None and signal.category == "threat_to_kill" and signal.soon, (text, signal)


@pytest.mark.parametrize("text", [
    "he threatened to kill me when he gets out of prison next year",
    "he said he'd kill me when he got home last week",
    "he always says he'll kill me when he gets back from the pub",
])
def test_a_threat_about_another_day_or_a_habit_is_not_soon(risk, text):
    signal = risk.detect(text)
    assert signal is not None and signal.category == "threat_to_kill" and not signal.soon, (text, signal)


@pytest.mark.parametrize("text", [
    "is strangulation a crime", "what is non fatal strangulation", "my mum will kill me when she sees my room",
    "i threatened to kill him and i'm ashamed", "he's never choked me", "i choked on a fish bone",
    "i broke my leg skiing", "i'm pregnant and scared to tell him", "I can't talk now, can someone call me later",
    "my ex still has a key to the flat", "he still has a key", "this job is killing me",
    "what should i do if he threatens me", "in that film he strangles her",
])
def test_ordinary_messages_are_not_disclosures(risk, text):
    assert risk.detect(text) is None, text


def test_requires_names_a_known_guard(tmp_path):
    patterns = ROOT / "bot" / "nlu" / "patterns"
    for name in ("danger.yml", "normalise.yml"):
        (tmp_path / name).write_text((patterns / name).read_text())
    config = yaml.safe_load((patterns / "risk.yml").read_text())
    config["requires"] = {"injury": "no_such_guard"}
    (tmp_path / "risk.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(PatternError, match="requires"):
        RiskDetector.load(patterns_dir=tmp_path)


# --------------------------------------------------------------------------- in the danger layer

class FixedModel:
    def __init__(self, p: float) -> None:
        self.p = p

    def probability(self, text, words) -> float:
        return self.p


def process(text: str, p: float = 0.01, intent: str = "describe_abuse") -> Message:
    component = EmergencyDetector(EmergencyDetector.get_default_config(), model=FixedModel(p))
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.9})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.9},
                                   {"name": "ask_police", "confidence": 0.05}])
    component.process([message])
    return message


def test_a_past_threat_becomes_its_own_intent_with_the_check_whatever_diet_said():
    message = process("he threatened to kill me last week if i ever leave", intent="describe_abuse")
    assert message.get("intent")["name"] == "risk_threat_to_kill"
    assert message.get("intent")["confidence"] == 1.0
    assert message.get("risk")["classifier_intent"] == "describe_abuse"
    assert message.get("danger_check")["source"] == "risk"
    assert not message.get("danger")
    assert all(e["confidence"] == 0.0 for e in message.get("intent_ranking")[1:])


def test_a_threat_when_he_gets_home_is_an_emergency():
    message = process("he said he'll kill me when he gets home")
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["source"] == "risk"


def test_danger_now_stays_an_emergency_and_skips_the_risk_patterns():
    message = process("he's strangling me right now", p=0.9)
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["source"] == "rules"
    assert not message.get("risk")


def test_an_ordinary_message_keeps_diets_intent():
    message = process("how do i apply for housing", intent="ask_housing")
    assert message.get("intent")["name"] == "ask_housing"
    assert not message.get("risk") and not message.get("danger_check")


# --------------------------------------------------------------------------- the replies

@pytest.fixture()
def nlg():
    from bot.nlg import ProfileNLG

    return ProfileNLG(domain=Domain.from_path(str(ROOT / "domain")))


def tracker(parse):
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker.from_events("t", [UserUttered("text", parse_data=parse)])


@pytest.mark.parametrize("response", ["utter_risk_threat_to_kill", "utter_risk_strangulation",
                                      "utter_risk_injury", "utter_risk_abuser_suicide_threat"])
async def test_every_risk_answer_opens_with_999_however_the_intent_was_found(nlg, response):
    # DIET alone (no danger_check mark): the answer still opens with the check.
    reply = await nlg.generate(response, tracker({"intent": {"name": "x", "confidence": 0.9}}), "rest")
    assert reply["text"].startswith("Are you in danger right now? If you are, call 999.")
    assert reply["buttons"][0] == {"title": "I'm in danger now", "payload": "/emergency"}
    assert "Thank you for telling me" in reply["text"] or "sorry you've been hurt" in reply["text"]


async def test_strangulation_says_it_is_a_crime_and_to_see_a_doctor(nlg):
    reply = await nlg.generate("utter_risk_strangulation", tracker({}), "rest")
    assert "crime in its own right" in reply["text"] and "NHS 111" in reply["text"] and "A&E" in reply["text"]
    assert "even if it left no marks" in reply["text"]


async def test_the_abuser_suicide_answer_names_control_and_gives_samaritans(nlg):
    reply = await nlg.generate("utter_risk_abuser_suicide_threat", tracker({}), "rest")
    assert "controlling you" in reply["text"] and "116 123" in reply["text"]


async def test_after_the_check_the_fallback_never_says_not_sure(nlg):
    parse = {"intent": {"name": "nlu_fallback", "confidence": 0.3},
             "danger_check": {"source": "rules", "category": "threat_to_kill"}}
    reply = await nlg.generate("utter_fallback", tracker(parse), "rest")
    assert reply["text"].startswith("Are you in danger right now?")
    assert "not sure" not in reply["text"]
    assert "0808 2000 247" in reply["text"]
    plain = await nlg.generate("utter_fallback", tracker({"intent": {"name": "nlu_fallback"}}), "rest")
    assert "not sure" in plain["text"], "without the check, the fallback is unchanged"

"""The danger model (bot/nlu/danger_model.py), how the danger layer combines it with the patterns
(bot/nlu/emergency_component.py), and the danger check in front of the answer (bot/nlg.py).
Phrasings here are the developers' own, never the blind set in eval/."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.danger_model import CorpusError, DangerModel, load_corpus
from bot.nlu.emergency_component import EmergencyDetector

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "danger": [{"text": t, "category": "attack_now"} for t in (
        "hes hitting me now", "she's punching me right now", "he is strangling me",
        "hes got a knife to my throat", "help hes kicking the door in", "hes choking me cant breathe",
        "my dad is beating my mum right now", "shes stabbing me", "hes punching me in the face now",
        "HES HITTING ME")],
    "ordinary": [{"text": t, "kind": "past_event"} for t in (
        "last year he hit me", "what is the law on strangulation", "he used to punch me years ago",
        "how do I apply for housing", "can you book me a call back", "hello",
        "my ex hit me in 2019", "what is clare's law", "is coercive control a crime",
        "thank you for your help")],
}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("danger")
    (folder / "small.yml").write_text(yaml.safe_dump(SMALL))
    return folder


@pytest.fixture(scope="module")
def trained(corpus_dir, tmp_path_factory):
    """Train the component through Rasa's own model storage, then load it back as Rasa does."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("danger_layer")
    config = {**EmergencyDetector.get_default_config(), "corpus": [str(corpus_dir)],
              "use_intent_examples": True}
    component = EmergencyDetector.create(config, storage, resource, None)
    nlu = TrainingData([Message(data={"text": "get here now hes got me", "intent": "emergency"}),
                        Message(data={"text": "what are my rights", "intent": "ask_rights"})])
    component.train(nlu)
    loaded = EmergencyDetector.load(config, storage, resource, None)
    return component, loaded


# --------------------------------------------------------------------------- corpus and model

def test_the_shipped_corpus_loads_with_both_labels():
    examples = load_corpus([ROOT / "data" / "danger"])
    danger = [e for e in examples if e.danger]
    assert len(danger) >= 800 and len(examples) - len(danger) >= 1200
    assert all(e.text.strip() and e.label for e in examples)


@pytest.mark.parametrize("content,error", [
    ("nlu: []\n", "expected 'danger', 'high_risk' and/or 'ordinary'"),
    ("danger:\n  - category: weapon\n", "danger[0] has no text"),
    ("ordinary:\n  - text: '   '\n", "ordinary[0] has no text"),
])
def test_a_bad_corpus_file_is_named_in_a_clear_error(tmp_path, content, error):
    bad = tmp_path / "bad.yml"
    bad.write_text(content)
    with pytest.raises(CorpusError, match=re.escape(error)) as raised:
        load_corpus([tmp_path])
    assert "bad.yml" in str(raised.value)


def test_the_model_needs_both_labels():
    with pytest.raises(CorpusError, match="both danger and ordinary"):
        DangerModel.fit([("hes hitting me", ["he", "'s", "hitting", "me"], True)] * 3)


def test_trained_model_survives_rasa_model_storage(trained):
    component, loaded = trained
    texts = ["hes punching me now", "last year he punched me", "get here now hes got me"]
    words = [component.words(t) for t in texts]
    before = component._model.probabilities(list(zip(texts, words)))
    after = loaded._model.probabilities(list(zip(texts, words)))
    assert before == pytest.approx(after)
    assert before[0] > 0.5 > before[1]


def test_intent_examples_are_part_of_the_training(corpus_dir):
    component = EmergencyDetector({"corpus": [str(corpus_dir)]})
    nlu = TrainingData([Message(data={"text": "come quick", "intent": "emergency"}),
                        Message(data={"text": "what are my rights", "intent": "ask_rights"})])
    examples = component.training_examples(nlu)
    labelled = {text: danger for text, _, danger in examples}
    assert labelled["come quick"] is True and labelled["what are my rights"] is False
    assert len(examples) == len(SMALL["danger"]) + len(SMALL["ordinary"]) + 2
    off = EmergencyDetector({"corpus": [str(corpus_dir)], "use_intent_examples": False})
    assert len(off.training_examples(nlu)) == len(examples) - 2


def test_corpus_changes_change_the_fingerprint(tmp_path):
    (tmp_path / "a.yml").write_text(yaml.safe_dump(SMALL))
    config = {"corpus": [str(tmp_path)]}
    first = EmergencyDetector.fingerprint_addon(config)
    assert first == EmergencyDetector.fingerprint_addon(config)
    (tmp_path / "a.yml").write_text(yaml.safe_dump({**SMALL, "ordinary": SMALL["ordinary"][:-1]}))
    assert EmergencyDetector.fingerprint_addon(config) != first


def test_the_shipped_model_separates_the_developers_own_examples():
    component = EmergencyDetector(EmergencyDetector.get_default_config())
    model = DangerModel.fit(component.training_examples(None))
    danger = ["hes battering me nw", "SHE'S GOT THE BREAD KNIFE", "my neighbour is screaming hes killing her",
              "hes squeezing my throat"]
    ordinary = ["what does the law say about coercive control", "can i get a call back on tuesday",
                "he battered me when we lived in leeds years ago", "the kids are at school, how do i apply for a flat"]
    probs = model.probabilities([(t, component.words(t)) for t in danger + ordinary])
    assert min(probs[: len(danger)]) > 0.5, probs
    assert max(probs[len(danger):]) < 0.5, probs


# --------------------------------------------------------------------------- combining

class FixedModel:
    """Stands in for the trained model with a chosen probability (the decision is under test)."""

    def __init__(self, p: float) -> None:
        self.p = p

    def probability(self, text, words) -> float:
        return self.p


class BrokenModel:
    def probability(self, text, words) -> float:
        raise RuntimeError("boom")


def decide(p, text: str, intent: str = "describe_abuse") -> Message:
    component = EmergencyDetector(EmergencyDetector.get_default_config(),
                                  model=FixedModel(p) if isinstance(p, float) else p)
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.8})
    ranking = [intent] + [n for n in ("ask_police", "describe_abuse") if n != intent]
    message.set("intent_ranking", [{"name": n, "confidence": c}
                                   for n, c in zip(ranking, (0.8, 0.1, 0.05))])
    component.process([message])
    return message


def test_a_pattern_match_the_model_does_not_contradict_escalates():
    message = decide(0.3, "hes got a knife")
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["source"] == "rules" and message.get("danger")["probability"] == 0.3
    assert message.get("danger_check") is None


def test_a_contradicted_pattern_keeps_the_answer_but_opens_with_the_danger_check():
    message = decide(0.01, "hes got a knife")
    assert message.get("intent")["name"] == "describe_abuse"
    assert message.get("danger") is None
    check = message.get("danger_check")
    assert check["source"] == "rules" and check["category"] == "weapon"
    assert "text" not in check


def test_a_medium_pattern_with_now_in_its_clause_needs_only_the_strong_hold():
    # "hit me" is a medium pattern: at p 0.08 (under confirm 0.2, over now_hold 0.05) the check
    # alone without "now", the emergency reply with it
    assert decide(0.08, "my brother hit me").get("danger_check")["strength"] == "medium"
    assert decide(0.08, "my brother hit me").get("intent")["name"] == "describe_abuse"
    message = decide(0.08, "my brother hit me just now")
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["now"] is True
    assert decide(0.03, "my brother hit me just now").get("intent")["name"] == "describe_abuse"


def test_a_pattern_the_model_contradicts_gets_the_check_even_when_diet_says_emergency():
    message = decide(0.01, "hes got a knife", intent="emergency")
    assert message.get("intent")["name"] == "ask_police"  # DIET's next intent
    assert message.get("danger") is None
    check = message.get("danger_check")
    assert check["source"] == "rules" and check["classifier_intent"] == "emergency"


def test_a_confident_model_escalates_without_a_pattern():
    message = decide(0.9, "the wee man's greetin an he's no lettin me oot")
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["source"] == "model" and message.get("danger")["pattern_id"] is None


def test_diet_alone_without_the_model_becomes_the_next_intent_with_the_check():
    message = decide(0.2, "it is all going wrong tonight", intent="emergency")
    assert message.get("intent")["name"] == "ask_police"
    assert [e["name"] for e in message.get("intent_ranking")] == ["ask_police", "describe_abuse"]
    assert message.get("danger_check")["source"] == "classifier"


def test_an_ordinary_message_is_left_alone():
    message = decide(0.02, "how do I apply for housing", intent="ask_housing")
    assert message.get("intent")["name"] == "ask_housing"
    assert message.get("danger") is None and message.get("danger_check") is None


@pytest.mark.parametrize("model", [None, BrokenModel()])
def test_without_a_working_model_every_pattern_match_escalates(model):
    message = decide(model, "hes got a knife")
    assert message.get("intent")["name"] == "emergency"
    assert message.get("danger")["probability"] is None


def test_a_missing_model_file_loads_as_patterns_alone(tmp_path):
    storage = LocalModelStorage(tmp_path)
    component = EmergencyDetector.load(EmergencyDetector.get_default_config(), storage,
                                       Resource("never_trained"), None)
    assert component._model is None
    message = decide(None, "hes got a knife")
    assert message.get("intent")["name"] == "emergency"


# --------------------------------------------------------------------------- the danger check reply

@pytest.fixture()
def nlg():
    from bot.nlg import ProfileNLG

    return ProfileNLG(domain=Domain.from_path(str(ROOT / "domain")))


def tracker_after(parse: Dict, bot_said: List[str] = ()) -> DialogueStateTracker:
    events = [UserUttered("text", parse_data=parse)] + [BotUttered(t) for t in bot_said]
    return DialogueStateTracker.from_events("t", events)


CHECKED = {"intent": {"name": "ask_police", "confidence": 0.8},
           "danger_check": {"source": "rules", "category": "weapon"}}


async def test_the_first_reply_opens_with_the_danger_check(nlg):
    reply = await nlg.generate("utter_police", tracker_after(CHECKED), "rest")
    plain = await nlg.generate("utter_police", tracker_after({"intent": CHECKED["intent"]}), "rest")
    assert reply["text"].startswith("Are you in danger right now? If you are, call 999.")
    assert "press 55" in reply["text"]
    assert reply["text"].endswith(plain["text"])
    assert reply["buttons"][0] == {"title": "I'm in danger now", "payload": "/emergency"}
    assert reply["buttons"][1:] == (plain.get("buttons") or [])
    assert "custom" not in reply or "escalation" not in (reply.get("custom") or {})


async def test_the_check_is_given_once_per_turn_and_never_inside_the_emergency_reply(nlg):
    second = await nlg.generate("utter_police_more", tracker_after(CHECKED, ["first"]), "rest")
    assert "Are you in danger right now" not in second["text"]
    emergency = await nlg.generate("utter_emergency", tracker_after(CHECKED), "rest")
    assert emergency["text"] == "If you are in danger now, call 999."


async def test_the_check_on_sms_is_short_and_has_no_buttons(nlg):
    reply = await nlg.generate("utter_police", tracker_after(CHECKED), "sms")
    assert reply["text"].startswith("In danger right now? Call 999. Can't speak? From a mobile call 999, then press 55.")

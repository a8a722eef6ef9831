"""Rasa 3.6 NLU component: the danger layer, deterministic patterns plus a danger model.

Runs after DIETClassifier and before FallbackClassifier (config.yml). Two detectors read every
message:
- the reviewed patterns (bot/nlu/danger.py, patterns in bot/nlu/patterns/danger.yml), which say
  which kind of danger was found and how strong the pattern is;
- the danger model (bot/nlu/danger_model.py), trained with the Rasa model on data/danger/*.yml and
  the intent examples, which gives a probability of danger now.

Decision (thresholds in the component config; how they were chosen: docs/emergency.md):
1. A pattern matched, and the model does not contradict it (probability at least `strong_hold`
   for a strong pattern or any pattern with a "now" marker in its clause, `confirm` for a medium
   or weak one) → `emergency`, confidence 1.0.
2. No pattern, but the model is confident (at least `escalate`) → `emergency`.
3. A pattern matched but the model contradicts it (whatever DIET says), or DIET alone said
   `emergency` without the model's support → DIET's intent stands (or its next one), and the
   message is marked `danger_check`. The reply then opens with the danger check (bot/nlg.py):
   "In danger right now? Call 999 …" with a button to the full emergency reply. So a pattern
   match always puts 999 in front of the person, whatever the model says.
If the danger model is missing or fails, every pattern match escalates (rule 1 without the model).

When the message is not escalated, the high-risk patterns (bot/nlu/risk.py, patterns in
bot/nlu/patterns/risk.yml) read it too: a threat to kill, strangulation, an abuser's threat to
kill themselves, an injury that may need a doctor. A threat to kill tied to a coming moment today
("when he gets home", "tonight") escalates. Any other such disclosure becomes the intent
`risk_<category>` whatever DIET said, so it is never answered as another topic; its answer opens
with the danger check (bot/nlg.py) and names it as serious.

The message carries `danger` = {"category", "pattern_id", "categories", "strength", "source",
"classifier_intent", "probability"} when escalated, `danger_check` = {...} when checked and
`risk` = {"category", "pattern_id", "soon", "classifier_intent"} for a high-risk disclosure (no
message text in any of them).
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.danger import DangerDetector, DangerSignal
from bot.nlu.danger_model import DangerModel, load_corpus, yaml_files
from bot.nlu.risk import RiskDetector, RiskSignal
from bot.nlu.spacy_pipeline import PATTERNS_DIR

logger = logging.getLogger(__name__)

DANGER_KEY = "danger"
CHECK_KEY = "danger_check"
RISK_KEY = "risk"
RISK_INTENT_PREFIX = "risk_"  # + category: risk_threat_to_kill, risk_strangulation, ...
ROOT = Path(__file__).resolve().parents[2]


ESCALATE, CHECK = "escalate", "check"


def decide(signal: Optional[DangerSignal], p: Optional[float], diet_says_emergency: bool,
           cfg: Dict[str, Any]) -> Optional[str]:
    """The decision in the module docstring: ESCALATE, CHECK or None (answer normally).

    `p` is the danger model's probability, None when there is no model. Shared with
    bot/evaluation.py, which cross-validates it."""
    if signal is not None:
        if signal.strength == "strong":
            hold = cfg["strong_hold"]
        else:
            hold = cfg["now_hold"] if signal.now else cfg["confirm"]
        # DIET agreeing does not overrule the model here: cross-validated over data/danger with
        # DIET's own votes, that added no recall and 0.5 points of false rate (docs/emergency.md).
        return ESCALATE if p is None or p >= hold else CHECK
    if p is not None and p >= cfg["escalate"]:
        return ESCALATE
    if diet_says_emergency and p is not None:
        # DIET alone, and the danger model disagrees: answer as DIET's next intent, with the check.
        return CHECK
    return None


def _set_intent(message: Message, name: str) -> Optional[str]:
    """Force `name` as the intent at 1.0 and return the intent it replaced. The other intents stay
    in the ranking for inspection but at 0.0, so FallbackClassifier's ambiguity check (top two
    within 0.05) can never turn a forced intent into nlu_fallback."""
    previous = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
    forced = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
    others = [{**entry, PREDICTED_CONFIDENCE_KEY: 0.0}
              for entry in message.get(INTENT_RANKING_KEY) or []
              if entry.get(INTENT_NAME_KEY) != name]
    message.set(INTENT, forced, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [dict(forced)] + others, add_to_output=True)
    return previous


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class EmergencyDetector(GraphComponent, IntentClassifier):
    """Deterministic danger patterns and a danger model, on top of the intent classifier."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # intent forced on escalation (must exist in the domain)
            "intent": "emergency",
            # folder with danger.yml and normalise.yml; None = bot/nlu/patterns
            "patterns_dir": None,
            # danger corpus files or folders, relative to the project root
            "corpus": ["data/danger"],
            # also train on the intent examples (the `intent` ones as danger, the rest ordinary)
            "use_intent_examples": True,
            # see the module docstring
            "escalate": 0.45,
            "confirm": 0.2,
            "strong_hold": 0.05,
            # a medium or weak pattern with "now", "tonight", "he's just" ... in its clause
            "now_hold": 0.05,
            # False: patterns alone decide (no model is trained or used)
            "use_model": True,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        # import names (Rasa maps sklearn to its distribution for fingerprints); PyYAML comes with Rasa
        return ["spacy", "sklearn"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # The corpus, the patterns (they normalise the model's words) and the model code are read
        # from disk, not passed through the graph: retrain when any of them changes.
        merged = {**cls.get_default_config(), **(config or {})}
        patterns = Path(merged["patterns_dir"]) if merged.get("patterns_dir") else PATTERNS_DIR
        here = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in [*cls._corpus_paths(config), patterns, here / "danger.py", here / "danger_model.py",
                     here / "risk.py"]:
            for file in yaml_files(path):
                if file.exists():
                    digest.update(file.name.encode() + b"\0" + file.read_bytes())
        return digest.hexdigest()

    @classmethod
    def _corpus_paths(cls, config: Dict[str, Any]) -> List[Path]:
        merged = {**cls.get_default_config(), **(config or {})}
        return [p if p.is_absolute() else ROOT / p for p in map(Path, merged.get("corpus") or [])]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: Optional[ModelStorage] = None,
        resource: Optional[Resource] = None,
        detector: Optional[DangerDetector] = None,
        model: Optional[DangerModel] = None,
        risk: Optional[RiskDetector] = None,
    ) -> None:
        self.component_config = {**self.get_default_config(), **(config or {})}
        configured = self.component_config.get("patterns_dir")
        patterns_dir = Path(configured) if configured else None
        self._detector = detector or DangerDetector.load(patterns_dir=patterns_dir)
        # A detector passed in (tests) may not carry a tokenizer; the risk layer then builds its own.
        self._risk = risk or RiskDetector.load(nlp=getattr(self._detector, "nlp", None),
                                               patterns_dir=patterns_dir)
        self._model = model
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmergencyDetector:
        return cls(config, model_storage, resource)

    # ---- training

    def words(self, text: str) -> List[str]:
        """The detector's normalised words of `text`: the danger model's word features."""
        return self._detector.explain(text)["words"]

    def training_examples(self, training_data: Optional[TrainingData]) -> List[tuple]:
        """(text, normalised words, is danger) for the corpus and, optionally, the intent examples."""
        items = [(e.text, e.danger) for e in load_corpus(self._corpus_paths(self.component_config))]
        if training_data is not None and self.component_config["use_intent_examples"]:
            name = self.component_config["intent"]
            for message in training_data.intent_examples:
                text = message.get(TEXT)
                if text:
                    items.append((text, message.get(INTENT) == name))
        return [(text, self.words(text), danger) for text, danger in items]

    def train(self, training_data: TrainingData) -> Resource:
        if not self.component_config["use_model"]:
            return self._resource
        self._model = DangerModel.fit(self.training_examples(training_data))
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(Path(directory))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EmergencyDetector:
        model = None
        if {**cls.get_default_config(), **(config or {})}["use_model"]:
            try:
                with model_storage.read_from(resource) as directory:
                    model = DangerModel.load(Path(directory))
            except Exception as exc:  # noqa: BLE001 - patterns alone still escalate every match
                logger.error("Danger model not loaded (%s); the patterns alone decide",
                             type(exc).__name__)
        return cls(config, model_storage, resource, model=model)

    # ---- prediction

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _probability(self, text: str, words: List[str]) -> Optional[float]:
        if self._model is None:
            return None
        try:
            return self._model.probability(text, words)
        except Exception as exc:  # noqa: BLE001 - fall back to the patterns alone
            logger.error("Danger model failed (%s); the patterns alone decide", type(exc).__name__)
            return None

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text:
            return
        try:
            # SpacyNLP already tokenized and normalised the text with our pipeline.
            result = self._detector.explain(text, doc=message.get(SPACY_DOCS[TEXT]))
            signal = result["signal"]
        except Exception as exc:  # noqa: BLE001 - a crash here must not stop the reply
            # Type only: an exception's message could quote words from the user's text.
            logger.error("Danger detector failed (%s); treating the message as an emergency",
                         type(exc).__name__)
            self._force(message, {"category": "unknown", "pattern_id": "detector_error",
                                  "categories": [], "strength": "strong", "source": "rules"})
            return
        p = self._probability(text, result["words"])
        cfg = self.component_config
        shown = None if p is None else round(p, 3)
        diet_says = (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == cfg["intent"]
        action = decide(signal, p, diet_says, cfg)
        risk = None if action == ESCALATE else self._risk_signal(text, message)
        if risk is not None and risk.soon:  # a threat to kill tied to a coming moment today
            self._force(message, {"category": "threat_to_kill", "pattern_id": risk.pattern_id,
                                  "categories": ["threat_to_kill"], "strength": "strong",
                                  "source": "risk", "probability": shown})
            return
        if risk is not None:
            self._mark_risk(message, risk)
            return
        if action is None:
            return
        if signal is not None:
            found = {**signal.as_dict(), "source": "rules", "probability": shown}
        else:
            found = {"category": "unknown", "pattern_id": None, "categories": [], "strength": None,
                     "source": "model" if action == ESCALATE else "classifier",
                     "probability": shown}
        if action == ESCALATE:
            self._force(message, found)
        else:
            self._check(message, found)

    def _risk_signal(self, text: str, message: Message) -> Optional[RiskSignal]:
        try:
            return self._risk.detect(text, doc=message.get(SPACY_DOCS[TEXT]))
        except Exception as exc:  # noqa: BLE001 - the danger layer has already decided
            logger.error("Risk patterns failed (%s); answered without them", type(exc).__name__)
            return None

    def _mark_risk(self, message: Message, risk: RiskSignal) -> None:
        """A high-risk disclosure is answered as such, whatever DIET said (its answer opens with
        the danger check, bot/nlg.py)."""
        previous = _set_intent(message, RISK_INTENT_PREFIX + risk.category)
        found = {**risk.as_dict(), "classifier_intent": previous}
        message.set(RISK_KEY, found, add_to_output=True)
        # 999 first, also when a form is open and the reply is the form's next question.
        message.set(CHECK_KEY, {"category": risk.category, "pattern_id": risk.pattern_id,
                                "categories": [risk.category], "strength": None, "source": "risk",
                                "probability": None, "classifier_intent": previous},
                    add_to_output=True)
        logger.debug("High-risk disclosure: category=%s pattern=%s", risk.category, risk.pattern_id)

    def _check(self, message: Message, check: Dict[str, Any]) -> None:
        name = self.component_config["intent"]
        current = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if current == name:  # DIET's emergency is not confirmed: answer with its next intent
            others = [dict(e) for e in message.get(INTENT_RANKING_KEY) or []
                      if e.get(INTENT_NAME_KEY) != name]
            if others:
                message.set(INTENT, dict(others[0]), add_to_output=True)
                message.set(INTENT_RANKING_KEY, others, add_to_output=True)
            else:  # nothing else to answer with: escalate rather than say nothing
                self._force(message, check)
                return
        check = {**check, "classifier_intent": current}
        message.set(CHECK_KEY, check, add_to_output=True)
        logger.debug("Danger check: source=%s pattern=%s", check["source"], check["pattern_id"])

    def _force(self, message: Message, danger: Dict[str, Any]) -> None:
        previous = _set_intent(message, self.component_config["intent"])
        danger = {**danger, "classifier_intent": previous}
        message.set(DANGER_KEY, danger, add_to_output=True)
        logger.debug("Emergency forced: source=%s category=%s pattern=%s",
                     danger.get("source"), danger.get("category"), danger.get("pattern_id"))

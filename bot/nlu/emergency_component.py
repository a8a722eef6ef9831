"""Rasa 3.6 NLU component: force the `emergency` intent when a reviewed danger pattern matches.

Runs after DIETClassifier and before FallbackClassifier (config.yml). DIET's guess stands unless
the deterministic detector (bot/nlu/danger.py, patterns in bot/nlu/patterns/danger.yml) finds danger
happening now; then the intent becomes `emergency` with confidence 1.0, at the top of the ranking,
and the message carries `danger` = {"category", "pattern_id", "categories", "strength", "source",
"classifier_intent"} (no message text) for the dialogue and the statistics.

Option `demote_guarded_emergency` (off by default): when DIET alone says `emergency` but the
detector saw danger words that a reviewed guard cancelled (past event, habit, what-if, question
about the law), use DIET's next intent instead and record `danger_guard` = {"cancelled_by": [...]}.
"""
from __future__ import annotations

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

from bot.nlu.danger import DangerDetector

logger = logging.getLogger(__name__)

DANGER_KEY = "danger"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class EmergencyDetector(GraphComponent, IntentClassifier):
    """Deterministic danger layer on top of the statistical intent classifier."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # intent forced on a match (must exist in the domain)
            "intent": "emergency",
            # folder with danger.yml and normalise.yml; None = bot/nlu/patterns
            "patterns_dir": None,
            # see the module docstring
            "demote_guarded_emergency": False,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "yaml"]

    def __init__(self, config: Dict[Text, Any], detector: Optional[DangerDetector] = None) -> None:
        self.component_config = {**self.get_default_config(), **(config or {})}
        patterns_dir = self.component_config.get("patterns_dir")
        self._detector = detector or DangerDetector.load(
            patterns_dir=Path(patterns_dir) if patterns_dir else None)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmergencyDetector:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process_one(message)
        return messages

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
                                  "categories": [], "strength": "strong"})
            return
        if signal is None:
            if self.component_config["demote_guarded_emergency"]:
                self._maybe_demote(message, result["matches"])
            return
        self._force(message, signal.as_dict())
        logger.debug("Emergency forced: category=%s pattern=%s", signal.category, signal.pattern_id)

    def _maybe_demote(self, message: Message, matches: List[Dict[str, Any]]) -> None:
        name = self.component_config["intent"]
        if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) != name:
            return
        guards = sorted({m["cancelled_by"] for m in matches
                         if m["cancelled_by"] in self._detector.guard_names})
        if not guards:
            return
        others = [dict(e) for e in message.get(INTENT_RANKING_KEY) or []
                  if e.get(INTENT_NAME_KEY) != name]
        if not others:
            return
        message.set(INTENT, dict(others[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, others, add_to_output=True)
        message.set("danger_guard", {"cancelled_by": guards}, add_to_output=True)

    def _force(self, message: Message, danger: Dict[str, Any]) -> None:
        name = self.component_config["intent"]
        previous = message.get(INTENT) or {}
        danger = {**danger, "source": "rules",
                  "classifier_intent": previous.get(INTENT_NAME_KEY)}
        forced = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
        # Keep the other intents for inspection but at 0.0, so FallbackClassifier's ambiguity
        # check (top two within 0.05) can never turn a forced emergency into nlu_fallback.
        others = [
            {**entry, PREDICTED_CONFIDENCE_KEY: 0.0}
            for entry in message.get(INTENT_RANKING_KEY) or []
            if entry.get(INTENT_NAME_KEY) != name
        ]
        message.set(INTENT, forced, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(forced)] + others, add_to_output=True)
        message.set(DANGER_KEY, danger, add_to_output=True)

"""High-risk disclosures (bot/nlu/patterns/risk.yml): a threat to kill, strangulation, a threat by
the abuser to kill themselves, an injury that may need a doctor. Not danger this minute, but the
signs that risk checklists (SafeLives Dash) treat as serious.

Pure and independent of Rasa, like bot/nlu/danger.py, whose pattern language and reading of
words it shares. The NLU component (emergency_component.py) consults it when the danger layer
does not escalate:

    risk = RiskDetector.load().detect("he strangled me last night")
    # RiskSignal(category="strangulation", pattern_id="strangulation.strangled", soon=False)

A threat to kill with a coming moment today in the same sentence ("when he gets home", "tonight")
is `soon`: the component escalates it to the emergency reply. Never logs message text.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from spacy.language import Language
from spacy.tokens import Doc

from bot.nlu.danger import STRENGTHS, DangerDetector

RISK_FILE = "risk.yml"
SOON, NOT_SOON = "guard:soon", "guard:not_soon"
TODAY = "guard:today"  # today for certain: wins over not_soon


@dataclass(frozen=True)
class RiskSignal:
    """What was disclosed. Holds no message text."""

    category: str
    pattern_id: str
    soon: bool = False

    def as_dict(self) -> Dict[str, Any]:
        return {"category": self.category, "pattern_id": self.pattern_id, "soon": self.soon}


class RiskDetector:
    def __init__(self, detector: DangerDetector) -> None:
        self._detector = detector

    @classmethod
    def load(cls, nlp: Optional[Language] = None,
             patterns_dir: Optional[Path] = None) -> "RiskDetector":
        return cls(DangerDetector.load(nlp=nlp, patterns_dir=patterns_dir, filename=RISK_FILE))

    @property
    def detector(self) -> DangerDetector:
        return self._detector

    def detect(self, text: Optional[str], doc: Optional[Doc] = None) -> Optional[RiskSignal]:
        result = self._detector.explain(text, doc)
        guards = result["guards"]
        requires = self._detector.requires
        priority = {c: i for i, c in enumerate(self._detector.categories)}
        found = [m for m in result["matches"] if m["cancelled_by"] is None
                 and (m["category"] not in requires
                      or f"guard:{requires[m['category']]}" in guards)]
        if not found:
            return None
        found.sort(key=lambda m: (priority[m["category"]], STRENGTHS.index(m["strength"]),
                                  m.get("start", 0)))
        best = found[0]
        soon_sentences = ((guards.get(SOON, set()) - guards.get(NOT_SOON, set()))
                          | guards.get(TODAY, set()))
        soon = any(m["category"] == "threat_to_kill" and m.get("sentence") in soon_sentences
                   for m in found)
        return RiskSignal(best["category"], best["pattern_id"], soon)


@functools.lru_cache(maxsize=1)
def default_risk_detector() -> RiskDetector:
    """One shared detector built from the repository's patterns."""
    return RiskDetector.load()

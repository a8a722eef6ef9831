"""The statistical half of the danger layer: a small text classifier for "in danger now".

The reviewed patterns (danger.py) are exact but brittle on wording they have never seen: on each
new blind set they missed about one danger message in nine and fired on about one ordinary message
in eleven. This model is trained on thousands of labelled messages (data/danger/*.yml plus the
intent examples in data/nlu) and generalises better. It never decides alone where the patterns
have spoken: emergency_component.py combines the two.

Features are TF-IDF character n-grams of the raw text (misspellings, text-speak) and word n-grams
of the detector's normalised words (spelling corrected, contractions split), into a class-balanced
logistic regression: small, fast, deterministic, and well understood (scikit-learn, already a
Rasa dependency).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import joblib
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

# Separates the raw text from the normalised words inside one training/prediction string, so one
# sklearn Pipeline can be saved and loaded as a whole. Not a character people type.
_SEP = "\x1f"
FILE_NAME = "danger_model.joblib"


class CorpusError(ValueError):
    """A danger corpus file is malformed."""


@dataclass(frozen=True)
class Example:
    text: str
    danger: bool
    label: str  # category (danger) or kind (ordinary), or the intent for NLU examples
    source: str
    # a high-risk disclosure (not danger this minute: the danger model learns it as ordinary)
    high_risk: bool = False


def yaml_files(path: Path) -> List[Path]:
    """The .yml files of a folder, in order, or the path itself if it is a file."""
    return sorted(path.glob("*.yml")) if path.is_dir() else [path]


def load_corpus(paths: Iterable[Path]) -> List[Example]:
    """Read danger corpus files (YAML: `danger: [{text, category}]`, `ordinary: [{text, kind}]`,
    and from set P on `high_risk: [{text, category}]`, which is not danger this minute)."""
    out: List[Example] = []
    for path in paths:
        for file in yaml_files(path):
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict) or not ({"danger", "ordinary", "high_risk"} & data.keys()):
                raise CorpusError(f"{file}: expected 'danger', 'high_risk' and/or 'ordinary' lists")
            for key, is_danger, label_key in (("danger", True, "category"), ("ordinary", False, "kind"),
                                              ("high_risk", False, "category")):
                for n, item in enumerate(data.get(key) or []):
                    text = item.get("text") if isinstance(item, dict) else None
                    if not isinstance(text, str) or not text.strip():
                        raise CorpusError(f"{file}: {key}[{n}] has no text")
                    out.append(Example(text, is_danger, str(item.get(label_key) or key), file.name,
                                       high_risk=key == "high_risk"))
    return out


def _raw(joined: str) -> str:
    return joined.split(_SEP, 1)[0]


def _words(joined: str) -> List[str]:
    return joined.split(_SEP, 1)[1].split()


def _join(text: str, words: Sequence[str]) -> str:
    return text.lower().replace(_SEP, " ") + _SEP + " ".join(words)


class DangerModel:
    """Probability that a message describes danger now."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    @classmethod
    def fit(cls, examples: Sequence[Tuple[str, Sequence[str], bool]], c: float = 16.0) -> DangerModel:
        """examples: (text, normalised words, is danger). `c`: inverse regularisation strength;
        16 gave fewer false alarms than 4 at the same recall in cross-validation (docs/emergency.md)."""
        labels = [bool(d) for _, _, d in examples]
        if len(set(labels)) < 2:
            raise CorpusError("the danger model needs both danger and ordinary examples")
        features = FeatureUnion([
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                      sublinear_tf=True, preprocessor=_raw)),
            ("words", TfidfVectorizer(analyzer=_words_ngrams, sublinear_tf=True)),
        ])
        pipeline = Pipeline([
            ("features", features),
            ("classifier", LogisticRegression(C=c, class_weight="balanced", max_iter=3000)),
        ])
        pipeline.fit([_join(t, w) for t, w, _ in examples], labels)
        return cls(pipeline)

    def probabilities(self, items: Sequence[Tuple[str, Sequence[str]]]) -> List[float]:
        if not items:
            return []
        joined = [_join(t, w) for t, w in items]
        return [float(p) for p in self._pipeline.predict_proba(joined)[:, 1]]

    def probability(self, text: str, words: Sequence[str]) -> float:
        return self.probabilities([(text, words)])[0]

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FILE_NAME
        joblib.dump(self._pipeline, path)
        return path

    @classmethod
    def load(cls, directory: Path) -> Optional[DangerModel]:
        path = directory / FILE_NAME
        if not path.exists():
            return None
        return cls(joblib.load(path))


def _words_ngrams(joined: str) -> List[str]:
    words = _words(joined)
    grams = list(words)
    grams += [" ".join(words[i:i + 2]) for i in range(len(words) - 1)]
    grams += [" ".join(words[i:i + 3]) for i in range(len(words) - 2)]
    return grams

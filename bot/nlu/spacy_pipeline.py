"""Build our rule-based spaCy pipeline (no pretrained model can be downloaded here).

spacy.blank("en") plus one built-in `attribute_ruler` that sets each token's NORM (and LEMMA) from the
reviewed table in bot/nlu/patterns/normalise.yml, so "hes gt a knif" reads as "he 's got a knife".
The tokenizer also splits words run together with punctuation ("outside!!!help").

Only built-in factories are used, so the saved folder loads with plain `spacy.load(path)`; Rasa's
SpacyNLP loads it from config.yml (`model: build/spacy/en_safety`).

    .venv/bin/python -m bot.nlu.spacy_pipeline build/spacy/en_safety
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import spacy
import yaml
from spacy.language import Language

PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"
NORMALISE_FILE = "normalise.yml"
DEFAULT_OUTPUT = Path("build/spacy/en_safety")
PIPELINE_NAME = "safety"
PIPELINE_VERSION = "1.0.0"

# Letters on both sides: "outside!!!help" -> outside !!! help. Full stops need two letters each
# side so "e.g." and "u.k" stay whole.
_EXTRA_INFIXES = [
    r"(?<=[^\W\d_])[!?;]+(?=[^\W\d_])",
    r"(?<=[^\W\d_]{2})\.+(?=[^\W\d_]{2})",
]


_URL_RE = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)


def load_normalise_table(patterns_dir: Optional[Path] = None) -> Dict[str, Any]:
    """Read normalise.yml: {"words": {typed: read_as}, "after_words": [...]}, validated."""
    path = Path(patterns_dir or PATTERNS_DIR) / NORMALISE_FILE
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    words: Dict[str, str] = {}
    for typed, read_as in (data.get("words") or {}).items():
        typed, read_as = str(typed).strip().lower(), str(read_as).strip().lower()
        if not typed or not read_as or " " in typed:
            raise ValueError(f"{path}: bad entry {typed!r}: {read_as!r}")
        words[typed] = read_as
    after_words: List[Dict[str, Any]] = []
    for rule in data.get("after_words") or []:
        after = [str(w).lower() for w in rule["after"]]
        after_words.append({"after": after, "word": str(rule["word"]).lower(),
                            "norm": str(rule["norm"]).lower()})
    return {"words": words, "after_words": after_words}


def _ruler_patterns(table: Dict[str, Any]) -> List[Dict[str, Any]]:
    patterns: List[Dict[str, Any]] = []
    for typed, read_as in sorted(table["words"].items()):
        attrs = {"NORM": read_as}
        if " " not in read_as:
            attrs["LEMMA"] = read_as
        patterns.append({"patterns": [[{"LOWER": typed}]], "attrs": attrs})
    for rule in table["after_words"]:
        patterns.append({
            "patterns": [[{"LOWER": {"IN": rule["after"]}}, {"LOWER": rule["word"]}]],
            "attrs": {"NORM": rule["norm"]},
            "index": 1,
        })
    return patterns


def build_nlp(patterns_dir: Optional[Path] = None) -> Language:
    """Return the in-memory pipeline (also what DangerDetector uses when given no nlp)."""
    nlp = spacy.blank("en")
    infixes = list(nlp.Defaults.infixes) + _EXTRA_INFIXES
    nlp.tokenizer.infix_finditer = spacy.util.compile_infix_regex(infixes).finditer
    # The default URL rule keeps "knife.help" or "here.now" whole (they look like domains); only
    # treat text with a scheme or "www." as a URL.
    nlp.tokenizer.url_match = _URL_RE.match
    ruler = nlp.add_pipe("attribute_ruler", name="normaliser")
    ruler.add_patterns(_ruler_patterns(load_normalise_table(patterns_dir)))
    nlp.meta.update({
        "name": PIPELINE_NAME,
        "version": PIPELINE_VERSION,
        "description": "Rule-based pipeline: tokenizer and spelling/text-speak NORM table "
                       "(bot/nlu/patterns/normalise.yml). No statistical models.",
        "license": "see repository",
    })
    return nlp


def save(output: Union[str, Path] = DEFAULT_OUTPUT, patterns_dir: Optional[Path] = None) -> Path:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    build_nlp(patterns_dir).to_disk(output)
    return output


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", default=str(DEFAULT_OUTPUT),
                        help=f"folder to write (default {DEFAULT_OUTPUT})")
    parser.add_argument("--patterns", default=None, help="patterns folder (default bot/nlu/patterns)")
    args = parser.parse_args(argv)
    out = save(args.output, Path(args.patterns) if args.patterns else None)
    print(f"spaCy pipeline written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

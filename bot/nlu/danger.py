"""Deterministic danger detection from reviewed patterns (bot/nlu/patterns/danger.yml).

Pure and independent of Rasa: used by the NLU component (emergency_component.py), the gateway's
safe fallback when Rasa is down, and the SMS channel.

    detector = DangerDetector.load()
    signal = detector.detect("hes got a knif")   # DangerSignal(category="weapon", ...)

How a message is read (details in the comments of danger.yml):
1. Tokens come from our spaCy pipeline (or the spaCy doc Rasa already made). Each token becomes its
   NORM from normalise.yml; unknown words get repeated letters squeezed ("helppp") and, if they are
   one slip away from a danger word, are corrected ("stranglng" -> "strangling").
2. Punctuation is dropped but marks sentence and clause boundaries.
3. Danger patterns, guards (past, habitual, hypothetical, law question, question, future), "now"
   markers and vetoes run as spaCy Matchers on the normalised words.
4. A match survives unless a guard allowed by its strength is in scope and no "now" marker is in
   its clause (a few guards, NOW_PROOF_GUARDS, count even then). The highest-priority surviving
   category is reported.

Never logs message text.
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import yaml
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from bot.nlu import spacy_pipeline

logger = logging.getLogger(__name__)

DANGER_FILE = "danger.yml"
# Bounds the work on pasted essays (matching costs ~0.2 ms a word); danger is stated early in
# real messages, and an SMS is at most ~1600 characters.
MAX_CHARS = 4000
MAX_WORDS = 600
GAP = 4  # "..." in a pattern = up to this many words
END = "$$"  # at the end of a line: only counts as the last words of a clause
STRENGTHS = ("strong", "medium", "weak")
SCOPES = ("clause", "sentence", "before", "message")
_SENTENCE_PUNCT = set(".!?;…")
_CLAUSE_WORDS = {"and", "but", "so", "because", "though", "although", "while", "whereas",
                 "then", "n", "&", "plus", "or"}
_WORD_RE = re.compile(r"[^\W_]", re.UNICODE)
# Guards that still cancel when a "now" marker is in the clause: "what do i do if he comes back
# now", "he was hitting me earlier but he's been arrested and i'm safe".
NOW_PROOF_GUARDS = ("if_question", "if_clause", "safe_now")
_PATTERN_KEYS = {"id", "category", "strength", "cancelled_by", "patterns", "unless", "examples"}


@dataclass(frozen=True)
class DangerSignal:
    """What was found. Holds no message text."""

    category: str
    pattern_id: str
    categories: Tuple[str, ...] = ()
    strength: str = "strong"
    # A "now" marker ("right now", "tonight", "he's just") is in the clause of a surviving match.
    now: bool = False

    def as_dict(self) -> Dict[str, Any]:
        return {"category": self.category, "pattern_id": self.pattern_id,
                "categories": list(self.categories), "strength": self.strength, "now": self.now}


@dataclass
class _Pattern:
    id: str
    category: str
    strength: str
    cancelled_by: Dict[str, str]
    sources: List[str]
    examples: List[str]


@dataclass
class _AloneRule:
    id: str
    category: str
    any_of: Set[str]
    with_only: Set[str]
    all_of: Set[str]
    examples: List[str]


@dataclass
class _Reading:
    """The normalised words of one message and where its clauses and sentences start."""

    words: List[str] = field(default_factory=list)
    clause: List[int] = field(default_factory=list)
    sentence: List[int] = field(default_factory=list)


class PatternError(ValueError):
    """danger.yml is malformed (raised at load, never while detecting)."""


INHERITABLE = ("lists", "spelling_targets", "never_correct")


def read_patterns(patterns_dir: Path, filename: str) -> Dict[str, Any]:
    """One pattern file, with what its `inherit` section takes from another merged in: word lists
    (its own win), spelling words, and the guards it names (its own guards of the same name win)."""
    with (patterns_dir / filename).open(encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    inherit = config.pop("inherit", None)
    if not inherit:
        return config
    unknown = set(inherit) - {"from", "guards"}
    if unknown or not inherit.get("from"):
        raise PatternError(f"{filename}: inherit takes `from` and `guards`, not {sorted(unknown)}")
    with (patterns_dir / inherit["from"]).open(encoding="utf-8") as fh:
        base = yaml.safe_load(fh) or {}
    config["lists"] = {**(base.get("lists") or {}), **(config.get("lists") or {})}
    for key in ("spelling_targets", "never_correct"):
        config[key] = list(base.get(key) or []) + list(config.get(key) or [])
    base_guards = base.get("guards") or {}
    missing = [g for g in inherit.get("guards") or [] if g not in base_guards]
    if missing:
        raise PatternError(f"{filename}: {inherit['from']} has no guards {missing}")
    config["guards"] = {**{g: base_guards[g] for g in inherit.get("guards") or []},
                        **(config.get("guards") or {})}
    return config


# --------------------------------------------------------------------------- pattern language

def compile_pattern(source: str, lists: Dict[str, List[str]]) -> List[Dict[str, Any]]:
    """Turn one pattern line of danger.yml into a spaCy Matcher pattern (over ORTH: the words it
    runs on are already normalised and lower case)."""
    tokens: List[Dict[str, Any]] = []
    for item in source.split():
        if item == "...":
            tokens.extend({"OP": "?"} for _ in range(GAP))
            continue
        op = None
        if len(item) > 1 and item[-1] in "?*+":
            item, op = item[:-1], item[-1]
        if item == "_":
            spec: Dict[str, Any] = {}
        elif len(item) > 2 and item.startswith("/") and item.endswith("/"):
            spec = {"ORTH": {"REGEX": item[1:-1]}}
        else:
            negate = len(item) > 1 and item.startswith("!")
            if negate:
                item = item[1:]
            words: List[str] = []
            for alt in item.split("|"):
                if alt.startswith("$"):
                    if alt[1:] not in lists:
                        raise PatternError(f"unknown list {alt} in pattern {source!r}")
                    words.extend(lists[alt[1:]])
                elif alt:
                    words.append(alt.lower())
                else:
                    raise PatternError(f"empty alternative in pattern {source!r}")
            words = sorted(set(words))
            if negate:
                spec = {"ORTH": {"NOT_IN": words}}
            else:
                spec = {"ORTH": words[0]} if len(words) == 1 else {"ORTH": {"IN": words}}
        if op:
            spec["OP"] = op
        tokens.append(spec)
    if not tokens or all(t.get("OP") in ("?", "*") for t in tokens):
        raise PatternError(f"pattern {source!r} can match nothing")
    return tokens


def _check_word(word: Any, where: str) -> None:
    # YAML 1.1 reads bare on/off/yes/no as booleans: "no" would silently become "false".
    if isinstance(word, bool):
        raise PatternError(f"{where}: a bare yes/no/on/off was read as {word}; put the word in quotes")


def _expand_lists(raw: Dict[str, Any]) -> Dict[str, List[str]]:
    lists: Dict[str, List[str]] = {}
    for name, words in (raw or {}).items():
        out: List[str] = []
        for w in words:
            _check_word(w, f"list {name}")
            w = str(w).strip().lower()
            if " " in w or not w:
                raise PatternError(f"list {name}: {w!r} must be one word")
            out.append(w)
        lists[name] = out
    return lists


# --------------------------------------------------------------------------- spelling helpers

def _squeeze(word: str, keep: int) -> str:
    """Collapse runs of 3+ identical characters to `keep` ("helppp" -> "help"/"helpp")."""
    return re.sub(r"(.)\1{2,}", lambda m: m.group(1) * keep, word)


def _close_enough(word: str, target: str) -> bool:
    """One slip (missing, extra, swapped or, for long words, wrong letter); two for 9+ letters.

    The first letter must agree: typos rarely change it, and it keeps ordinary words away from
    danger words ("wife" is never "knife")."""
    if word[0] != target[0] or word == target:
        return False
    lw, lt = len(word), len(target)
    if abs(lw - lt) > 2:
        return False
    limit = 2 if lt >= 9 else 1
    d = _osa_distance(word, target, limit)
    if d > limit:
        return False
    if d == 1 and lw == lt and lt < 8 and not _is_transposition(word, target):
        return False  # a single wrong letter in a short word is too often another real word
    return True


def _is_transposition(a: str, b: str) -> bool:
    diffs = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] \
        and a[diffs[1]] == b[diffs[0]]


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance, giving up early past `limit`."""
    prev2: List[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


# --------------------------------------------------------------------------- the detector

class DangerDetector:
    """Finds danger happening now in one message. Thread-safe for concurrent `detect` calls."""

    def __init__(self, nlp: Language, config: Dict[str, Any],
                 normalise: Dict[str, Any]) -> None:
        self.nlp = nlp
        self._table: Dict[str, str] = normalise["words"]
        self._after: List[Dict[str, Any]] = normalise["after_words"]
        self._load_config(config)

    # ---- loading

    @classmethod
    def load(cls, nlp: Optional[Language] = None,
             patterns_dir: Optional[Path] = None, filename: str = DANGER_FILE) -> "DangerDetector":
        """Read the YAML files and build the matchers. `nlp` defaults to our pipeline, built in
        memory from the same YAML, so the detector never depends on build/ being present.

        `filename` may name another pattern file in the same language (risk.yml). Its `inherit`
        section takes the word lists, the spelling words and the named guards of another file, so
        both read messages with the same vocabulary."""
        patterns_dir = Path(patterns_dir or spacy_pipeline.PATTERNS_DIR)
        if nlp is None:
            nlp = spacy_pipeline.build_nlp(patterns_dir)
        config = read_patterns(patterns_dir, filename)
        return cls(nlp, config, spacy_pipeline.load_normalise_table(patterns_dir))

    def _load_config(self, cfg: Dict[str, Any]) -> None:
        self.categories: List[str] = list(cfg.get("categories") or [])
        if not self.categories:
            raise PatternError("danger.yml: no categories")
        self._priority = {c: i for i, c in enumerate(self.categories)}
        lists = _expand_lists(cfg.get("lists") or {})
        self.lists = lists

        self._strengths: Dict[str, Dict[str, str]] = {}
        for name, guards in (cfg.get("strengths") or {}).items():
            self._strengths[name] = self._check_cancels(dict(guards or {}), f"strength {name}")
        for name in STRENGTHS:
            if name not in self._strengths:
                raise PatternError(f"danger.yml: strength {name!r} not defined")

        self._vocab = Vocab()
        self._danger = Matcher(self._vocab, validate=True)
        self._guards = Matcher(self._vocab, validate=True)
        self.guard_names = sorted((cfg.get("guards") or {}).keys())
        for guard, sources in (cfg.get("guards") or {}).items():
            anywhere = [s for s in sources if not s.rstrip().endswith(END)]
            at_end = [s.rstrip()[: -len(END)] for s in sources if s.rstrip().endswith(END)]
            if anywhere:
                self._guards.add(f"guard:{guard}", [compile_pattern(s, lists) for s in anywhere])
            if at_end:
                self._guards.add(f"guard:{guard}{END}", [compile_pattern(s, lists) for s in at_end])
        if cfg.get("now_markers"):
            self._guards.add("now", [compile_pattern(s, lists) for s in cfg["now_markers"]])
        if cfg.get("now_vetoes"):
            self._guards.add("now_veto", [compile_pattern(s, lists) for s in cfg["now_vetoes"]])
        if cfg.get("vetoes"):
            self._guards.add("veto", [compile_pattern(s, lists) for s in cfg["vetoes"]])

        self.patterns: Dict[str, _Pattern] = {}
        for entry in cfg.get("patterns") or []:
            pid, category = entry["id"], entry["category"]
            unknown = set(entry) - _PATTERN_KEYS
            if unknown:
                raise PatternError(f"{pid}: unknown keys {sorted(unknown)}")
            strength = entry.get("strength", "medium")
            if pid in self.patterns:
                raise PatternError(f"duplicate pattern id {pid}")
            if category not in self._priority:
                raise PatternError(f"{pid}: unknown category {category}")
            if strength not in self._strengths:
                raise PatternError(f"{pid}: unknown strength {strength}")
            cancels = (self._check_cancels(dict(entry["cancelled_by"]), pid)
                       if "cancelled_by" in entry else self._strengths[strength])
            sources = list(entry.get("patterns") or [])
            anywhere = [s for s in sources if not s.rstrip().endswith(END)]
            at_end = [s.rstrip()[: -len(END)] for s in sources if s.rstrip().endswith(END)]
            if anywhere:
                self._danger.add(pid, [compile_pattern(s, lists) for s in anywhere])
            if at_end:
                self._danger.add(pid + END, [compile_pattern(s, lists) for s in at_end])
            if entry.get("unless"):
                self._guards.add(f"unless:{pid}", [compile_pattern(s, lists) for s in entry["unless"]])
            self.patterns[pid] = _Pattern(pid, category, strength, cancels, sources,
                                          list(entry.get("examples") or []))

        self.alone_rules: List[_AloneRule] = []
        for entry in cfg.get("alone") or []:
            if entry["category"] not in self._priority:
                raise PatternError(f"{entry['id']}: unknown category")
            for key in ("any_of", "all_of", "with_only"):
                for w in entry.get(key) or []:
                    _check_word(w, f"{entry['id']} {key}")
            any_of = {str(w).lower() for w in entry["any_of"]}
            all_of = {str(w).lower() for w in entry.get("all_of") or []}
            with_only = any_of | all_of | {str(w).lower() for w in entry["with_only"]}
            self.alone_rules.append(_AloneRule(entry["id"], entry["category"], any_of, with_only,
                                               all_of, list(entry.get("examples") or [])))

        self.not_danger_examples: List[str] = list(cfg.get("not_danger_examples") or [])
        # category -> a guard that must be in the same message for its matches to count
        self.requires: Dict[str, str] = dict(cfg.get("requires") or {})
        for category, guard in self.requires.items():
            if category not in self._priority or guard not in (cfg.get("guards") or {}):
                raise PatternError(f"requires: {category} -> {guard} names an unknown category or guard")

        # Words we already know are never "corrected".
        known: Set[str] = set(STOP_WORDS) | set(self._table.values()) | set(self._table)
        for words in lists.values():
            known.update(words)
        for source in self._all_sources(cfg):
            words = (w.lstrip("!") for w in re.split(r"[\s|?*+]+", source))  # "!" = not these
            known.update(w for w in words if w and w[0] not in "$/")
        known.update(str(w).lower() for w in cfg.get("never_correct") or [])
        for rule in self.alone_rules:
            known.update(rule.with_only)
        self._known = {w for w in known if w}
        targets = sorted({str(w).lower() for w in cfg.get("spelling_targets") or []})
        self._targets_by_letter: Dict[str, List[str]] = {}
        for t in targets:
            self._targets_by_letter.setdefault(t[0], []).append(t)
        self._correct = functools.lru_cache(maxsize=4096)(self._correct_uncached)

    def _check_cancels(self, cancels: Dict[str, str], where: str) -> Dict[str, str]:
        for guard, scope in cancels.items():
            if scope not in SCOPES:
                raise PatternError(f"{where}: scope {scope!r} for {guard} is not one of {SCOPES}")
        return cancels

    @staticmethod
    def _all_sources(cfg: Dict[str, Any]) -> Iterable[str]:
        for entry in cfg.get("patterns") or []:
            yield from entry.get("patterns") or []
            yield from entry.get("unless") or []
        for sources in (cfg.get("guards") or {}).values():
            yield from sources
        yield from cfg.get("now_markers") or []
        yield from cfg.get("now_vetoes") or []
        yield from cfg.get("vetoes") or []

    # ---- reading a message

    def _correct_uncached(self, word: str) -> str:
        if word in self._known or not word.isalpha():
            return word
        for keep in (2, 1):
            squeezed = _squeeze(word, keep)
            if squeezed != word:
                squeezed = self._table.get(squeezed, squeezed)
                if squeezed in self._known:
                    return squeezed
        word = _squeeze(word, 2)
        if len(word) < 4:
            return word
        best: Optional[Tuple[int, int, str]] = None
        for target in self._targets_by_letter.get(word[0], ()):
            if _close_enough(word, target):
                rank = (_osa_distance(word, target, 2), abs(len(word) - len(target)), target)
                best = min(best, rank) if best else rank
        return best[2] if best else word

    def _read(self, doc: Doc) -> _Reading:
        reading = _Reading()
        clause = sentence = 0
        prev_lower = ""
        tokens = list(doc)
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            i += 1
            if len(reading.words) >= MAX_WORDS:
                break
            spelled, end = self._spelled_out(tokens, i - 1)
            if spelled:  # "h e l p", "s-o-s": one word
                tok = SimpleNamespace(text=spelled, lower_=spelled, norm_=spelled, is_space=False)
                i = end
            text = tok.text
            if tok.is_space or not text.strip():
                if "\n" in text:
                    clause, sentence = clause + 1, sentence + 1
                continue
            lower = tok.lower_.replace("’", "'").replace("‘", "'")
            if not _WORD_RE.search(lower) and lower not in ("'s", "'m", "'re", "&"):
                if any(c in _SENTENCE_PUNCT for c in lower):
                    clause, sentence = clause + 1, sentence + 1
                elif lower not in ("'", '"'):
                    clause += 1
                continue
            for word in self._normalise(tok, lower, prev_lower):
                if word in _CLAUSE_WORDS and reading.words:
                    clause += 1
                reading.words.append(word)
                reading.clause.append(clause)
                reading.sentence.append(sentence)
            prev_lower = lower
        return reading

    def _spelled_out(self, tokens: List[Any], start: int) -> Tuple[Optional[str], int]:
        """A word typed letter by letter ("h e l p", "s-o-s", "H.E.L.P") from tokens[start]:
        (the word, the index after it), or (None, start). Only words the detector knows, and not
        stop words, so "u r a" stays three words."""
        letters: List[str] = []
        k = start
        while k < len(tokens):
            t = tokens[k].text
            if len(t) == 1 and t.isalpha():
                letters.append(t.lower())
                k += 1
            elif t in ("-", ".") and letters and k + 1 < len(tokens) \
                    and len(tokens[k + 1].text) == 1 and tokens[k + 1].text.isalpha():
                k += 1
            else:
                break
        if len(letters) < 3 and "".join(letters) not in ("me", "us"):  # "H E L P  M E"
            dotted = tokens[start].text.lower()
            if re.fullmatch(r"(?:[a-z][.\-]){2,}[a-z][.\-]?", dotted):  # one token "h.e.l.p"
                letters, k = re.findall(r"[a-z]", dotted), start + 1
            else:
                return None, start
        word = "".join(letters)
        if word not in ("me", "us") and (word in STOP_WORDS
                                         or self._table.get(word, word) not in self._known):
            return None, start
        return word, k

    def _normalise(self, tok: Any, lower: str, prev_lower: str) -> List[str]:
        for rule in self._after:
            if lower == rule["word"] and prev_lower in rule["after"]:
                return [rule["norm"]]
        if lower in self._table:
            norm = self._table[lower]
        else:
            norm = (tok.norm_ or lower).replace("’", "'")
            if norm == lower:
                m = re.fullmatch(r"([a-z]+)'(s|m|re|ll|d|ve)", lower)
                if m:  # "he's" left whole by the tokenizer (e.g. next to a dash)
                    return [m.group(1), "'" + m.group(2)]
                norm = self._correct(lower)
        return [w for w in norm.split() if w]

    # ---- detecting

    def detect(self, text: Optional[str], doc: Optional[Doc] = None) -> Optional[DangerSignal]:
        """Return a DangerSignal if the message describes danger now, else None.

        `doc` may be a spaCy Doc of the same text already made by Rasa's SpacyNLP (lower-cased);
        otherwise our pipeline tokenizes `text`."""
        result = self.explain(text, doc)
        return result["signal"]

    def explain(self, text: Optional[str], doc: Optional[Doc] = None) -> Dict[str, Any]:
        """Like detect, but also says which patterns matched and what cancelled them (for tests
        and reviewers; holds the normalised words, so never log it)."""
        out: Dict[str, Any] = {"signal": None, "words": [], "matches": [], "guards": {}}
        if doc is None:
            if not text or not str(text).strip():
                return out
            doc = self.nlp(str(text)[:MAX_CHARS].lower())  # as Rasa's SpacyNLP does
        reading = self._read(doc)
        out["words"] = reading.words
        if not reading.words:
            return out
        mdoc = Doc(self._vocab, words=reading.words)
        strings = self._vocab.strings

        guard_spans: Dict[str, List[Tuple[int, int]]] = {}
        for match_id, start, end in self._guards(mdoc):
            key = strings[match_id]
            if key.endswith(END):
                if not self._ends_clause(reading, end):
                    continue
                key = key[: -len(END)]
            guard_spans.setdefault(key, []).append((start, end))
        # Which sentences each guard was seen in (for readers that combine guards themselves).
        out["guards"] = {key: {reading.sentence[s] for s, _ in spans}
                         for key, spans in guard_spans.items()}
        now_vetoes = guard_spans.get("now_veto", [])
        now_clauses = {reading.clause[i]
                       for s, e in guard_spans.get("now", [])
                       if not any(vs <= s < ve for vs, ve in now_vetoes)
                       for i in range(s, e)}
        vetoes = guard_spans.get("veto", [])

        found: List[Tuple[_Pattern, int, int]] = []
        found_now = False
        for match_id, start, end in self._danger(mdoc):
            key = strings[match_id]
            if key.endswith(END):
                if not self._ends_clause(reading, end):
                    continue
                key = key[: -len(END)]
            pattern = self.patterns[key]
            record = {"pattern_id": pattern.id, "category": pattern.category,
                      "strength": pattern.strength, "start": start, "end": end,
                      "sentence": reading.sentence[start], "cancelled_by": None}
            out["matches"].append(record)
            if any(vs < end and start < ve for vs, ve in vetoes):
                record["cancelled_by"] = "veto"
                continue
            if any(us < end and start < ue for us, ue in guard_spans.get(f"unless:{pattern.id}", ())):
                record["cancelled_by"] = "unless"
                continue
            now = any(reading.clause[i] in now_clauses for i in range(start, end))
            cancel = self._cancelled(pattern, start, end, reading, guard_spans,
                                     only=NOW_PROOF_GUARDS if now else None)
            if cancel:
                record["cancelled_by"] = cancel
                continue
            found.append((pattern, start, end))
            found_now = found_now or now

        for rule, sentence_no in self._alone_matches(reading):
            out["matches"].append({"pattern_id": rule.id, "category": rule.category,
                                   "strength": "strong", "sentence": sentence_no,
                                   "cancelled_by": None})
            found.append((_Pattern(rule.id, rule.category, "strong", {}, [], []), 0, 0))

        if found:
            found.sort(key=lambda f: (self._priority[f[0].category],
                                      STRENGTHS.index(f[0].strength), f[1]))
            best = found[0][0]
            categories = tuple(sorted({f[0].category for f in found}, key=self._priority.get))
            out["signal"] = DangerSignal(best.category, best.id, categories, best.strength,
                                         found_now)
        return out

    @staticmethod
    def _ends_clause(reading: _Reading, end: int) -> bool:
        return end >= len(reading.words) or reading.clause[end] != reading.clause[end - 1]

    def _cancelled(self, pattern: _Pattern, start: int, end: int, reading: _Reading,
                   guard_spans: Dict[str, List[Tuple[int, int]]],
                   only: Optional[Iterable[str]] = None) -> Optional[str]:
        clauses = set(reading.clause[start:end])
        sentences = set(reading.sentence[start:end])
        first_sentence = reading.sentence[start]
        for guard, scope in pattern.cancelled_by.items():
            if only is not None and guard not in only:
                continue
            for gs, ge in guard_spans.get(f"guard:{guard}", ()):
                if scope == "message":
                    return guard
                if scope == "clause" and clauses.intersection(reading.clause[gs:ge]):
                    return guard
                if scope == "sentence" and sentences.intersection(reading.sentence[gs:ge]):
                    return guard
                if scope == "before" and ge <= start and reading.sentence[gs] == first_sentence:
                    return guard
        return None

    def _alone_matches(self, reading: _Reading) -> List[Tuple[_AloneRule, int]]:
        if not self.alone_rules:
            return []
        by_sentence: Dict[int, List[str]] = {}
        for word, sentence in zip(reading.words, reading.sentence):
            by_sentence.setdefault(sentence, []).append(word)
        hits = []
        for sentence_no, words in by_sentence.items():
            present = set(words)
            for rule in self.alone_rules:
                if present & rule.any_of and rule.all_of <= present <= rule.with_only:
                    hits.append((rule, sentence_no))
        return hits


@functools.lru_cache(maxsize=1)
def default_detector() -> DangerDetector:
    """One shared detector built from the repository's patterns."""
    return DangerDetector.load()


def detect(text: Optional[str]) -> Optional[DangerSignal]:
    """Convenience for callers outside Rasa (gateway fallback, SMS)."""
    return default_detector().detect(text)


def examples(detector: DangerDetector) -> Sequence[Tuple[str, str, str]]:
    """(pattern id, category, example) for every example in danger.yml."""
    rows = [(p.id, p.category, ex) for p in detector.patterns.values() for ex in p.examples]
    rows += [(r.id, r.category, ex) for r in detector.alone_rules for ex in r.examples]
    return rows

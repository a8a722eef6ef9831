"""The Rasa domain is a folder, `domain/`, one file per topic (Rasa 3.6 merges a directory).

`merged()` gives the same merged view as plain YAML, for tests and tools that read responses
without loading Rasa. Rasa itself loads the folder with `--domain domain`.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, List

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_DIR = ROOT / "domain"
_LIST_KEYS = ("intents", "actions", "entities")
_MAP_KEYS = ("responses", "slots", "forms")


def files() -> List[Path]:
    return sorted(DOMAIN_DIR.glob("*.yml"))


@functools.lru_cache(maxsize=1)
def merged() -> Dict[str, Any]:
    """Every domain file merged: lists joined, mappings joined (a name defined twice is an error,
    as it would be a warning in Rasa)."""
    out: Dict[str, Any] = {key: [] for key in _LIST_KEYS}
    out.update({key: {} for key in _MAP_KEYS})
    for path in files():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in _LIST_KEYS:
            out[key].extend(data.get(key) or [])
        for key in _MAP_KEYS:
            for name, value in (data.get(key) or {}).items():
                if name in out[key]:
                    raise ValueError(f"{path.name}: {key} {name} is defined in two domain files")
                out[key][name] = value
        if "session_config" in data:
            out["session_config"] = data["session_config"]
    return out

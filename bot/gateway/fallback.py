"""The gateway's own safe reply, used whenever Rasa cannot answer (down, slow, error or empty).

Fixed text, national numbers only (sources: docs/sources.yml: silent-solution, ndah), so it cannot
be broken by a bad profile, the database or the model.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

logger = logging.getLogger(__name__)

FALLBACK_TEXT = (
    "Sorry, I can't answer properly right now, but help is there. "
    "If you are in danger now, call 999. If you can't speak, on a mobile call 999, listen, "
    "then press 55 when asked. "
    "The National Domestic Abuse Helpline is free and open 24 hours: 0808 2000 247."
)

EMERGENCY_MARKER = {"escalation": "emergency"}


def message(recipient_id: str, text: Optional[str] = None, buttons: Optional[list] = None,
            custom: Optional[dict] = None) -> Dict[str, Any]:
    """One reply in the REST channel contract shape."""
    return {"recipient_id": recipient_id, "text": text, "buttons": buttons or [], "custom": custom}


def safe_fallback(recipient_id: str, danger: bool) -> List[Dict[str, Any]]:
    replies = []
    if danger:
        replies.append(message(recipient_id, custom=dict(EMERGENCY_MARKER)))
    replies.append(message(recipient_id, FALLBACK_TEXT, custom={"fallback": True}))
    return replies


def looks_like_danger(detector: Any, text: str) -> bool:
    """Use the same reviewed danger patterns as the NLU layer. If they can't run, assume danger:
    the only cost of a false marker is a banner that shows 999."""
    if detector is None:
        return True
    try:
        return detector.detect(text) is not None
    except Exception:  # never let the safety net itself fail
        logger.exception("Danger detector failed in the gateway fallback")
        return True

"""Turn one turn's Rasa replies into SMS bodies.

- Text is cleaned to GSM-7; markdown links become plain text ("title: url").
- Buttons become numbered options ("Reply 1 for ..."); the payloads are returned so the gateway can
  map a reply "1" back to the button (kept server-side, see store.save_choices).
- An emergency turn sends its emergency message first, on its own, in one segment if possible.
- Everything else is packed into as few messages as possible, each at most 3 segments (459 GSM-7
  characters), so the parts arrive in order and cost little.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from bot.sms import gsm, texts

MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((\S{1,500}?)\)")
MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
SPACES = re.compile(r"[ \t]+")
# Control characters other than the newline: not useful in an SMS, and not allowed in XML (TwiML).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
MAX_MESSAGES = 6  # a hard cap on what one turn may send


@dataclass
class Rendered:
    messages: List[str] = field(default_factory=list)
    choices: List[str] = field(default_factory=list)  # payload of option 1, 2, ...
    emergency: bool = False


def is_emergency_reply(reply: Mapping[str, Any]) -> bool:
    custom = reply.get("custom")
    return isinstance(custom, dict) and custom.get("escalation") == "emergency"


def plain(text: str) -> str:
    """Markdown-free GSM-7 text."""
    text = MD_LINK.sub(lambda m: f"{m.group(1)}: {m.group(2)}", text)
    text = MD_EMPHASIS.sub(r"\2", text)
    text = CONTROL.sub(" ", gsm.to_gsm7(text))
    lines = [SPACES.sub(" ", line).strip() for line in text.replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line).strip()


def option_lines(titles: List[str], first: int) -> str:
    return "\n".join(f"Reply {first + i} for {plain(t)}" for i, t in enumerate(titles))


def block(reply: Mapping[str, Any], choices: List[str]) -> str:
    """One reply as SMS text; its buttons are numbered after the choices collected so far."""
    text = plain(reply.get("text") or "") if isinstance(reply.get("text"), str) else ""
    buttons = [b for b in (reply.get("buttons") or []) if isinstance(b, dict)
               and isinstance(b.get("title"), str) and isinstance(b.get("payload"), str)]
    if buttons:
        options = option_lines([b["title"] for b in buttons], len(choices) + 1)
        choices.extend(b["payload"] for b in buttons)
        text = f"{text}\n{options}" if text else options
    return text


def pack(blocks: List[str], limit: int = gsm.MAX_SEPTETS) -> List[str]:
    messages: List[str] = []
    for part in (p for b in blocks for p in gsm.split(b, limit)):
        if messages and gsm.length(messages[-1]) + 1 + gsm.length(part) <= limit:
            messages[-1] = messages[-1] + "\n" + part
        else:
            messages.append(part)
    return messages


def render(replies: List[Dict[str, Any]], extra: Optional[List[str]] = None) -> Rendered:
    """`extra`: fixed texts to add after the bot's replies (for example the privacy notice)."""
    out = Rendered(emergency=any(is_emergency_reply(r) for r in replies))
    first: List[str] = []
    blocks: List[str] = []
    for reply in replies:
        text = block(reply, out.choices)
        if out.emergency and not first and is_emergency_reply(reply):
            # The emergency message goes first and alone; a marker without text gets ours.
            first = [text or texts.EMERGENCY]
            continue
        if text:
            blocks.append(text)
    if out.emergency and not first:
        first = [texts.EMERGENCY]
    blocks.extend(plain(e) for e in (extra or []))
    out.messages = (gsm.split(first[0]) if first else []) + pack(blocks)
    out.messages = out.messages[:MAX_MESSAGES]
    return out

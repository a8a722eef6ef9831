"""The callback booking form's logic: which slots to ask, how to read each answer, and the summary.

Pure functions (no Rasa imports), so they are easy to test with bad input. Each validator returns
`(slot updates, messages)`, where messages are `(response name, template values)` pairs that the
action dispatches (responses live in domain/callback.yml with `channel: sms` variations). Never log values.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from bot.callbacks import phone as phones
from bot.callbacks import times

Messages = List[Tuple[str, Dict[str, Any]]]
Result = Tuple[Dict[str, Any], Messages]

NAME_MAX, WORDING_MAX, LANGUAGE_MAX, NOTE_MAX = 50, 200, 40, 500
SKIPPED = "skipped"

CONSENT = "callback_consent"
NAME = "callback_name"
PHONE = "callback_phone"
TIMES = "callback_times"
DEFAULTS = "callback_contact_defaults"
VOICEMAIL = "callback_voicemail"
WORDING = "callback_voicemail_wording"
TEXT_FIRST = "callback_text_first"
OTHER = "callback_other_answers"
COVER = "callback_cover_story"
GENDER = "callback_gender"
LANGUAGE = "callback_language"
INTERPRETER = "callback_interpreter"
NOTE = "callback_note"
CHILDREN = "callback_children"
AFRAID = "callback_afraid"
CONFIRM = "callback_confirm"
CANCELLED = "callback_cancelled"

FORM_SLOTS = (CONSENT, NAME, PHONE, TIMES, DEFAULTS, VOICEMAIL, WORDING, TEXT_FIRST, OTHER, COVER,
              GENDER, LANGUAGE, INTERPRETER, NOTE, CHILDREN, AFRAID, CONFIRM)
ALL_SLOTS = FORM_SLOTS + (CANCELLED,)

# The safest contact settings, used when the person accepts them in one step.
SAFE_DEFAULTS = {VOICEMAIL: False, TEXT_FIRST: False, OTHER: "hang_up", GENDER: "no_preference",
                 LANGUAGE: "English", INTERPRETER: "none"}

STOP_RE = re.compile(
    r"^\s*(stop|cancel|forget it|forget about it|quit|exit|abort|never ?mind|nevermind|stop it|"
    r"stop this|cancel (it|that|this|the booking|booking)|i want to stop|i don'?t want (it|this) any ?more)"
    r"[\s.!]*$", re.I)
YES_RE = re.compile(
    r"^\s*(y|yes|yeah|yea|yep|yup|ya|aye|ok|okay|k|sure|fine|please|yes please|go ahead|that'?s fine|"
    r"i agree|agreed|agree|correct|right|that'?s right|absolutely|of course|definitely|alright|"
    r"sounds good|ok then|yes it is|it is|it'?s (ok|okay|fine|safe)|safe)\b", re.I)
NO_RE = re.compile(
    r"^\s*(n|no|nope|nah|not really|no thanks|no thank you|don'?t|do not|never|rather not|"
    r"i'?d rather not|i don'?t|not safe|it'?s not|it isn'?t|isn'?t|please don'?t|none)\b", re.I)
SKIP_RE = re.compile(r"^\s*(skip|skip it|skip this|pass|rather not say|prefer not to say|"
                     r"don'?t want to say|no comment|next)\b", re.I)


@dataclass
class Context:
    intent: Optional[str] = None  # the latest message's intent (NLU or a /payload)
    intent_confidence: float = 1.0
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    profile: Any = None  # bot.profile.Profile
    tz: str = "Europe/London"


def clean_text(value: Any, limit: Optional[int] = None) -> str:
    """Text without control characters or surrounding space (newlines kept as spaces)."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(" " if ch in "\r\n\t" else ch for ch in text
                   if unicodedata.category(ch)[0] != "C" or ch in "\r\n\t")
    text = re.sub(r"\s+", " ", text).strip()
    return text


def payload_intent(value: Any) -> Optional[str]:
    m = re.match(r"^/(\w+)", value) if isinstance(value, str) else None
    return m.group(1) if m else None


STOP_WORDS = re.compile(r"\b(stop|cancel|forget|never ?mind|quit|exit|abort|changed my mind|leave it|scrap|"
                        r"don'?t (want|book|need)|end (this|it))\b", re.I)


def is_stop(value: Any, ctx: Optional["Context"] = None) -> bool:
    """Deterministic: "stop", "cancel", "forget it" and the like, or the /stop button. The NLU's
    `stop` intent counts only when confident and the words say so, so that a name or a note is
    never mistaken for cancelling."""
    if not isinstance(value, str):
        return False
    if STOP_RE.match(value) or payload_intent(value) == "stop":
        return True
    return bool(ctx and ctx.intent == "stop" and ctx.intent_confidence >= 0.8 and STOP_WORDS.search(value)
                and len(value) <= 80)


def yes_no(value: Any, ctx: Context, numbers: Sequence[Optional[bool]] = (True, False)) -> Optional[bool]:
    """True, False or None (unclear). `numbers`: what "1", "2"... mean on SMS."""
    if isinstance(value, bool):
        return value
    text = clean_text(value)
    intent = payload_intent(text) or ctx.intent
    m = re.fullmatch(r"\s*(\d)\s*[.)]?\s*", text)
    if m and 1 <= int(m.group(1)) <= len(numbers):
        return numbers[int(m.group(1)) - 1]
    if payload_intent(text) == "affirm":
        return True
    if payload_intent(text) == "deny":
        return False
    if NO_RE.match(text):
        return False
    if YES_RE.match(text):
        return True
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    return None


def choose(value: Any, options: Sequence[Tuple[str, str]]) -> Optional[str]:
    """Pick an option: by its number ("1"), or by a pattern. options: (canonical, regex)."""
    text = clean_text(value).lower()
    m = re.fullmatch(r"\s*(\d)\s*[.)]?\s*", text)
    if m and 1 <= int(m.group(1)) <= len(options):
        return options[int(m.group(1)) - 1][0]
    for canonical, pattern in options:
        if re.search(pattern, text):
            return canonical
    return None


def _reask(slot: str, response: str, **values: Any) -> Result:
    return {slot: None}, [(response, values)]


def _cancel(slot: str) -> Result:
    return {slot: None, CANCELLED: True}, []


# --- which slots, in which order ----------------------------------------------------------------

def required_slots(slots: Dict[str, Any]) -> List[str]:
    if slots.get(CANCELLED) or slots.get(CONSENT) is False:
        return []
    needed = [CONSENT, NAME, PHONE, TIMES, DEFAULTS]
    if slots.get(DEFAULTS) is False:
        needed.append(VOICEMAIL)
        if slots.get(VOICEMAIL) is True:
            needed.append(WORDING)
        needed += [TEXT_FIRST, OTHER]
        if slots.get(OTHER) == "cover":
            needed.append(COVER)
        needed += [GENDER, LANGUAGE, INTERPRETER]
    needed += [NOTE, CHILDREN, AFRAID, CONFIRM]
    return needed


# --- validators ---------------------------------------------------------------------------------

def validate_consent(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    answer = yes_no(value, ctx)
    if answer is None:
        return _reask(CONSENT, "utter_callback_consent_unclear")
    return {CONSENT: answer}, []


NAME_PREFIX = re.compile(r"^(my name is|my name'?s|name'?s|i'?m called|i am called|i'?m|i am|it'?s|its|"
                         r"call me|you can call me|ask for|just)\s+", re.I)


def validate_name(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    text = clean_text(value)
    if payload_intent(text):
        return _reask(NAME, "utter_callback_name_unclear")
    text = NAME_PREFIX.sub("", text).strip(" .,!")
    if not text or not re.search(r"\w", text):
        return _reask(NAME, "utter_callback_name_unclear")
    if sum(ch.isdigit() for ch in text) >= 6:
        return _reask(NAME, "utter_callback_name_is_number")
    if len(text) > NAME_MAX:
        return _reask(NAME, "utter_callback_name_too_long", limit=NAME_MAX)
    return {NAME: text}, []


PHONE_REASKS = {
    "empty": "utter_callback_phone_empty",
    "no_digits": "utter_callback_phone_empty",
    "several": "utter_callback_phone_several",
    "too_short": "utter_callback_phone_too_short",
    "too_long": "utter_callback_phone_too_long",
    "not_uk": "utter_callback_phone_not_uk",
    "not_callable": "utter_callback_phone_not_callable",
    "invalid": "utter_callback_phone_invalid",
}


def validate_phone(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    canonical = isinstance(value, str) and re.fullmatch(r"\+44\d{10}", value) is not None
    try:
        number = phones.parse_uk_phone(clean_text(value))
    except phones.PhoneError as err:
        return _reask(PHONE, PHONE_REASKS[err.kind])
    messages: Messages = []
    if not canonical and not number.mobile:
        messages.append(("utter_callback_phone_landline", {}))
    return {PHONE: number.e164}, messages


TIME_CHOICES = {"1": "as soon as possible", "2": "weekday mornings", "3": "weekday afternoons"}
TIME_REASKS = {
    "empty": "utter_callback_times_unclear",
    "unclear": "utter_callback_times_unclear",
    "impossible": "utter_callback_times_impossible",
    "end_before_start": "utter_callback_times_end_before_start",
    "past": "utter_callback_times_past",
    "too_far": "utter_callback_times_too_far",
}


def validate_times(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    hours = ctx.profile.team.hours
    if isinstance(value, list):  # already validated (the form resumed)
        try:
            windows = [times.Window.from_slot(v) for v in value]
        except (KeyError, TypeError, ValueError):
            return {TIMES: None}, []
        return ({TIMES: value}, []) if windows else ({TIMES: None}, [])
    text = clean_text(value)
    text = TIME_CHOICES.get(re.sub(r"[.)\s]", "", text), text)  # numbered options on SMS
    try:
        windows = times.parse_windows(text, ctx.now, ctx.tz, times.open_weekdays(hours))
    except times.TimeError as err:
        return _reask(TIMES, TIME_REASKS[err.kind])
    clipped, cut = times.clip_to_hours(windows, hours, ctx.tz)
    if not clipped:
        return _reask(TIMES, "utter_callback_times_outside_hours")
    described = times.describe(clipped, ctx.tz)
    message = "utter_callback_times_clipped" if cut else "utter_callback_times_noted"
    return {TIMES: [w.as_slot(ctx.tz) for w in clipped]}, [(message, {"callback_times_text": described})]


def validate_defaults(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    if isinstance(value, bool):
        answer: Optional[bool] = value
    else:
        answer = choose(value, [("safe", r"safe|default|those|these|use them|fine|keep"),
                                ("choose", r"choose|myself|change|pick|let me|different|own")])
        answer = {"safe": True, "choose": False}.get(answer) if answer else yes_no(value, ctx)
    if answer is None:
        return _reask(DEFAULTS, "utter_callback_defaults_unclear")
    if answer:
        updates = {DEFAULTS: True, WORDING: None, COVER: None}
        updates.update(SAFE_DEFAULTS)
        return updates, []
    # Choosing: clear anything set by an earlier "safest settings" so each is asked.
    return {DEFAULTS: False, **{k: None for k in SAFE_DEFAULTS}}, []


def validate_voicemail(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    answer = yes_no(value, ctx)
    if answer is None:
        return _reask(VOICEMAIL, "utter_callback_yes_no_unclear")
    return {VOICEMAIL: answer, **({} if answer else {WORDING: None})}, []


def _short_text(slot: str, value: Any, limit: int, too_long: str, unclear: str) -> Result:
    text = clean_text(value)
    if payload_intent(text) or not re.search(r"\w", text):
        return _reask(slot, unclear)
    if len(text) > limit:
        return _reask(slot, too_long, limit=limit, length=len(text))
    return {slot: text}, []


def validate_wording(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    picked = choose(value, [("Sorry I missed you. I will try again later.", r"^sorry i missed you"),
                            ("Hello, this is a message about your appointment. I will call again.",
                             r"^hello, this is a message about your appointment")])
    if picked:
        return {WORDING: picked}, []
    return _short_text(WORDING, value, WORDING_MAX, "utter_callback_text_too_long", "utter_callback_wording_unclear")


def validate_text_first(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    answer = yes_no(value, ctx)
    if answer is None:
        return _reask(TEXT_FIRST, "utter_callback_yes_no_unclear")
    return {TEXT_FIRST: answer}, []


def validate_other(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    if value in ("hang_up", "cover"):
        return {OTHER: value}, []
    text = clean_text(value)
    picked = choose(text, [("hang_up", r"hang|put the phone down|end the call|just go|ring off|no reason"),
                           ("cover", r"^(give|use|say) a reason$|^a reason$|^reason$|^i'?ll (type|give|write)")])
    if picked:
        return {OTHER: picked, **({COVER: None} if picked == "hang_up" else {})}, []
    if payload_intent(text) == "deny" or NO_RE.match(text):
        return {OTHER: "hang_up", COVER: None}, []
    # Anything else is the reason itself ("say you're from the dentist").
    updates, messages = _short_text(COVER, text, WORDING_MAX, "utter_callback_text_too_long",
                                    "utter_callback_other_unclear")
    if updates.get(COVER) is None:
        return {OTHER: None}, messages
    return {OTHER: "cover", COVER: updates[COVER]}, []


def validate_cover(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    return _short_text(COVER, value, WORDING_MAX, "utter_callback_text_too_long", "utter_callback_cover_unclear")


def validate_gender(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    picked = choose(value, [("woman", r"\b(woman|female|women|lady|she|her|girl)\b"),
                            ("man", r"\b(man|male|men|gentleman|he|him|guy)\b"),
                            ("no_preference", r"no pref|don'?t mind|either|any|doesn'?t matter|whoever|"
                                              r"not bothered|no$|none|^n$|nope|/deny")])
    if picked is None:
        return _reask(GENDER, "utter_callback_gender_unclear")
    return {GENDER: picked}, []


def validate_language(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    text = clean_text(value)
    if choose(text, [("English", r"^(english|eng|en|1|/affirm|yes|y|/deny|no|none|fine|english is fine)\b")]):
        return {LANGUAGE: "English"}, []
    text = re.sub(r"^(in |i speak |my language is |i'?d like |i would like )", "", text, flags=re.I).strip(" .")
    if not re.search(r"[^\W\d_]", text) or payload_intent(text):
        return _reask(LANGUAGE, "utter_callback_language_unclear")
    if len(text) > LANGUAGE_MAX:
        return _reask(LANGUAGE, "utter_callback_language_unclear")
    return {LANGUAGE: text[:1].upper() + text[1:]}, []


def validate_interpreter(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    picked = choose(value, [("none", r"^(no|none|nope|n|not needed|no thanks|/deny)\b|no interpreter"),
                            ("interpreter", r"interpret|translat|yes|/affirm"),
                            ("bsl", r"\bbsl\b|sign|deaf")])
    if picked is None:
        return _reask(INTERPRETER, "utter_callback_interpreter_unclear")
    return {INTERPRETER: picked}, []


def validate_note(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    text = clean_text(value)
    if text == SKIPPED or payload_intent(text) == "deny" or SKIP_RE.match(text) or re.fullmatch(
            r"(no|nope|nothing|no thanks|no thank you|none|n/a|na|not now)[.!]?", text, re.I):
        return {NOTE: SKIPPED}, []
    if payload_intent(text) or not text:
        return _reask(NOTE, "utter_callback_note_unclear")
    if len(text) > NOTE_MAX:
        return _reask(NOTE, "utter_callback_note_too_long", limit=NOTE_MAX, length=len(text))
    return {NOTE: text}, []


def _safety(slot: str, value: Any, ctx: Context) -> Result:
    if value in ("yes", "no", SKIPPED):
        return {slot: value}, []
    text = clean_text(value)
    if SKIP_RE.match(text) or re.fullmatch(r"3[.)]?", text) or payload_intent(text) == "skip":
        return {slot: SKIPPED}, []
    answer = yes_no(text, ctx)
    if answer is None:
        return _reask(slot, "utter_callback_safety_unclear")
    return {slot: "yes" if answer else "no"}, []


def validate_children(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    return _safety(CHILDREN, value, ctx)


def validate_afraid(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    updates, messages = _safety(AFRAID, value, ctx)
    if updates.get(AFRAID) == "yes":
        messages.append(("utter_callback_afraid_yes", {}))
    return updates, messages


CHANGE_TARGETS = [
    (r"\b(number|phone|mobile|landline)\b", [PHONE]),
    (r"\b(time|times|day|days|when|hours?)\b", [TIMES]),
    (r"\bname\b", [NAME]),
    (r"\b(voicemail|message|text|someone else|answers|settings|worker|gender|language|interpreter|bsl)\b",
     [DEFAULTS] + list(SAFE_DEFAULTS) + [WORDING, COVER]),
    (r"\bnote\b", [NOTE]),
    (r"\b(children|child|kids|afraid|safety|questions?)\b", [CHILDREN, AFRAID]),
]


def validate_confirm(value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    if value is True:
        return {CONFIRM: True}, []
    text = clean_text(value)
    if re.search(r"\b(change|wrong|edit|fix|update|different)\b", text, re.I) or re.fullmatch(r"2[.)]?", text):
        for pattern, targets in CHANGE_TARGETS:
            if re.search(pattern, text, re.I):
                updates = {slot: None for slot in targets}
                updates[CONFIRM] = None
                return updates, [("utter_callback_change_ok", {})]
        return {CONFIRM: None}, [("utter_callback_change_which", {})]
    if re.fullmatch(r"3[.)]?", text):
        return _cancel(CONFIRM)
    answer = yes_no(text, ctx, numbers=(True,))
    if answer is True:
        return {CONFIRM: True}, []
    return {CONFIRM: None}, [("utter_callback_change_which", {})]


VALIDATORS: Dict[str, Callable[[Any, Dict[str, Any], Context], Result]] = {
    CONSENT: validate_consent, NAME: validate_name, PHONE: validate_phone, TIMES: validate_times,
    DEFAULTS: validate_defaults, VOICEMAIL: validate_voicemail, WORDING: validate_wording,
    TEXT_FIRST: validate_text_first, OTHER: validate_other, COVER: validate_cover,
    GENDER: validate_gender, LANGUAGE: validate_language, INTERPRETER: validate_interpreter,
    NOTE: validate_note, CHILDREN: validate_children, AFRAID: validate_afraid, CONFIRM: validate_confirm,
}


def validate(slot: str, value: Any, slots: Dict[str, Any], ctx: Context) -> Result:
    """Validate one answer. "stop", "cancel" or "forget it" at any step cancels the booking."""
    if is_stop(value, ctx):
        return _cancel(slot)
    return VALIDATORS[slot](value, slots, ctx)


# --- summary and saving --------------------------------------------------------------------------

GENDER_WORDS = {"woman": "a woman", "man": "a man", "no_preference": "no preference"}
INTERPRETER_WORDS = {"none": "no interpreter", "interpreter": "an interpreter", "bsl": "a BSL interpreter"}


def summary(slots: Dict[str, Any], tz: str = "Europe/London") -> str:
    """What the person confirms. The number is masked; the note and safety answers are not echoed."""
    windows = [times.Window.from_slot(v) for v in slots.get(TIMES) or []]
    lines = [
        f"Name to ask for: {slots.get(NAME)}",
        f"Number: {phones.mask(slots.get(PHONE) or '')}",
        f"Times: {times.describe(windows, tz)}",
        "Voicemail: " + (f"yes, saying \"{slots.get(WORDING)}\"" if slots.get(VOICEMAIL) else "no"),
        "Text before calling: " + ("yes" if slots.get(TEXT_FIRST) else "no"),
        "If someone else answers: " + (f"say \"{slots.get(COVER)}\"" if slots.get(OTHER) == "cover"
                                       else "hang up"),
        f"Worker: {GENDER_WORDS.get(slots.get(GENDER), 'no preference')}",
        f"Language: {slots.get(LANGUAGE) or 'English'}, "
        f"{INTERPRETER_WORDS.get(slots.get(INTERPRETER), 'no interpreter')}",
        "Note: " + ("added (not shown here)" if slots.get(NOTE) not in (None, SKIPPED) else "none"),
    ]
    return "\n".join(lines)


def priority(slots: Dict[str, Any]) -> int:
    """0 normal; each yes to a safety question raises it by one."""
    return sum(1 for slot in (CHILDREN, AFRAID) if slots.get(slot) == "yes")


def booking_details(slots: Dict[str, Any]) -> Dict[str, Any]:
    """Preferences and safety answers for the encrypted `details` column."""
    return {
        "voicemail": bool(slots.get(VOICEMAIL)),
        "text_first": bool(slots.get(TEXT_FIRST)),
        "if_someone_else_answers": slots.get(OTHER) or "hang_up",
        "worker_gender": slots.get(GENDER) or "no_preference",
        "language": slots.get(LANGUAGE) or "English",
        "interpreter": slots.get(INTERPRETER) or "none",
        "children_in_home": slots.get(CHILDREN) or SKIPPED,
        "afraid_of_serious_harm": slots.get(AFRAID) or SKIPPED,
        "accepted_safe_defaults": bool(slots.get(DEFAULTS)),
    }


# --- the check at saving -----------------------------------------------------------------------------

MAX_WINDOWS = 60  # far more than any answer the form turns into windows
SAFETY_ANSWERS = ("yes", "no", SKIPPED)


def _accepted_text(slot: str, value: Any, limit: int, ctx: Context) -> bool:
    """Text the form's own validator for `slot` accepts, already cleaned, within its limit."""
    return (isinstance(value, str) and len(value) <= limit and clean_text(value) == value
            and VALIDATORS[slot](value, {}, ctx)[0].get(slot) is not None)


def _one_of(value: Any, allowed: Sequence[Any]) -> bool:
    """`value` is one of `allowed`, of the same type (1 is not True, "True" is not True)."""
    return any(value is option if isinstance(option, bool) else (isinstance(value, str) and value == option)
               for option in allowed)


def _phone_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return phones.parse_uk_phone(value).e164 == value
    except phones.PhoneError:
        return False


def _windows_for_saving(value: Any, ctx: Context) -> Tuple[List[str], List[dict]]:
    """(problems, the windows still to come). Each window must be one the form could have made: a
    known timezone, within the team's hours on one day, no further ahead than the form allows. Those
    that ended while the person was still answering are dropped, not refused."""
    if not isinstance(value, list) or not value or len(value) > MAX_WINDOWS:
        return ["times"], []
    hours = ctx.profile.team.hours
    last_day = ctx.now.astimezone(ZoneInfo(ctx.tz)).date() + dt.timedelta(days=times.HORIZON_DAYS + 1)
    ahead: List[dict] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("start"), str) \
                or not isinstance(item.get("end"), str):
            return ["times"], []
        if not times.known_timezone(item.get("tz")):
            return ["timezone"], []
        try:
            window = times.Window.from_slot(item)
        except (TypeError, ValueError):  # TimeError is a ValueError
            return ["times"], []
        if window.start.astimezone(ZoneInfo(ctx.tz)).date() > last_day:
            return ["times"], []
        if times.clip_to_hours([window], hours, ctx.tz) != ([window], False):
            return ["times_outside_hours"], []
        if window.end > ctx.now:
            ahead.append(item)
    return ([] if ahead else ["times_passed"]), ahead


def check_for_saving(slots: Dict[str, Any], ctx: Context) -> Tuple[List[str], Dict[str, Any]]:
    """Check a booking again as it is saved, whoever sent it: consent and confirmation given, and
    every answer one that this form's validators accept (lengths, a UK number in E.164, windows
    still to come within the team's hours, a known timezone, one of the offered choices).

    Returns (problems, slots to store). Problems are names, never values, so they can be logged.
    `ctx.profile` gives the hours and `ctx.now` the time."""
    problems: List[str] = []
    if slots.get(CANCELLED):
        problems.append("cancelled")
    if slots.get(CONSENT) is not True:
        problems.append("consent")
    if slots.get(CONFIRM) is not True:
        problems.append("confirmation")
    if not _accepted_text(NAME, slots.get(NAME), NAME_MAX, ctx):
        problems.append("name")
    if not _phone_ok(slots.get(PHONE)):
        problems.append("phone")
    time_problems, ahead = _windows_for_saving(slots.get(TIMES), ctx)
    problems += time_problems
    if slots.get(VOICEMAIL) is True and not _accepted_text(WORDING, slots.get(WORDING), WORDING_MAX, ctx):
        problems.append("voicemail_wording")
    if slots.get(OTHER) == "cover" and not _accepted_text(COVER, slots.get(COVER), WORDING_MAX, ctx):
        problems.append("cover_story")
    if slots.get(NOTE) not in (None, SKIPPED) and not _accepted_text(NOTE, slots.get(NOTE), NOTE_MAX, ctx):
        problems.append("note")
    if slots.get(LANGUAGE) is not None and not _accepted_text(LANGUAGE, slots.get(LANGUAGE), LANGUAGE_MAX, ctx):
        problems.append("language")
    choices = [
        (DEFAULTS, (True, False)), (VOICEMAIL, (True, False)), (TEXT_FIRST, (True, False)),
        (OTHER, ("hang_up", "cover")), (GENDER, tuple(GENDER_WORDS)), (INTERPRETER, tuple(INTERPRETER_WORDS)),
        (CHILDREN, SAFETY_ANSWERS), (AFRAID, SAFETY_ANSWERS),
    ]
    for slot, allowed in choices:
        if slots.get(slot) is not None and not _one_of(slots.get(slot), allowed):
            problems.append(slot.replace("callback_", ""))
    return problems, {**slots, TIMES: ahead}

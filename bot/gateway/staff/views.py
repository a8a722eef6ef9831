"""Queue, record, workflow, reports, users and audit pages. Roles are marked on each handler."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from bot.gateway import keys
from bot.gateway.staff import common
from bot.gateway.staff.common import CASEWORKER, LEAD, requires
from bot.staff import queue, reports, store

logger = logging.getLogger(__name__)
AUDIT_MAX_PAGE = 10 ** 6  # 200 entries a page: far more than any audit log holds

# The `details` the forms store (bot/callbacks/form.py booking_details, bot/concern.py new_report), with
# the words staff see. The callback form stores booleans and short codes; the free text a person typed
# for voicemail and for whoever else answers is in the encrypted voicemail_wording / cover_story columns.
DETAIL_LABELS = {
    # safe-call instructions (callback bookings)
    "voicemail": "Voicemail",
    "text_first": "Text before calling",
    "if_someone_else_answers": "If someone else answers",
    "worker_gender": "Preferred worker",
    "language": "Language",
    "interpreter": "Interpreter or BSL",
    # safety answers
    "children_in_home": "Children in the home",
    "afraid_of_serious_harm": "Afraid of being seriously hurt",
    # how the answers were given
    "accepted_safe_defaults": "Contact settings",
    # third-party reports
    "third_party": "Third-party report",
    "relationship": "Reporter's relationship to the person",
    "location": "Area",
    "reporter_wants_callback": "Reporter wants a call back",
}
SAFE_CALL_KEYS = ("voicemail", "text_first", "if_someone_else_answers", "worker_gender", "language", "interpreter")
SAFETY_KEYS = ("children_in_home", "afraid_of_serious_harm")
HIDDEN_KEYS = ("third_party",)  # already said by the record's heading

WORKER = {"woman": "A woman", "man": "A man", "no_preference": "No preference"}
INTERPRETER = {"none": "Not needed", "interpreter": "An interpreter is needed",
               "bsl": "A British Sign Language (BSL) interpreter is needed"}
SAFETY = {"yes": "Yes", "no": "No", "skipped": "Not answered"}
RELATIONSHIP = {"friend": "Friend", "family": "Family member", "neighbour": "Neighbour", "colleague": "Colleague",
                "other": "Other or not said"}


@dataclass(frozen=True)
class Instruction:
    label: str
    text: str  # what to do, in plain words
    verbatim: Optional[str] = None  # the person's own words, to be used exactly (shown quoted)
    warn: bool = False  # a restriction or a risk: shown in bold red


def _yes(value: Any) -> Optional[bool]:
    """True/False for the booleans and yes/no strings the forms store; None when not given."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("no", "false", "0"):
        return False
    return None


def safe_call_instructions(details: Dict[str, Any], voicemail_wording: Optional[str],
                           cover_story: Optional[str]) -> List[Instruction]:
    """The "Before you call" list. Where an answer is missing the safest reading is shown (no
    voicemail, no text, hang up), matching the form's safest settings."""
    out: List[Instruction] = []
    voicemail = _yes(details.get("voicemail"))
    if voicemail is None:
        voicemail = bool(voicemail_wording)
    if voicemail and voicemail_wording:
        out.append(Instruction("Voicemail", "A voicemail is OK. Leave only this message, exactly:",
                               verbatim=voicemail_wording))
    elif voicemail:
        out.append(Instruction("Voicemail", "A voicemail is OK, but no wording was given: keep it neutral, "
                               "with no mention of this service."))
    else:
        out.append(Instruction("Voicemail", "Do not leave a voicemail.", warn=True))

    text_first = _yes(details.get("text_first"))
    if text_first:
        out.append(Instruction("Text before calling", "Yes: send a short text first to check it is a good time."))
    else:
        out.append(Instruction("Text before calling", "Do not text before calling.", warn=True))

    other = details.get("if_someone_else_answers")
    if (other == "cover" or other is None) and cover_story:
        out.append(Instruction("If someone else answers", "Say only this, exactly:", verbatim=cover_story))
    elif other in (None, "hang_up", "cover"):
        out.append(Instruction("If someone else answers", "Hang up without saying who you are.", warn=True))
    else:
        out.append(Instruction("If someone else answers", _text(other)))

    gender = details.get("worker_gender")
    if gender is not None:
        out.append(Instruction("Preferred worker", WORKER.get(str(gender), _text(gender))))
    language = details.get("language")
    if language is not None:
        out.append(Instruction("Language", _text(language), warn=_text(language).strip().lower() != "english"))
    interpreter = details.get("interpreter")
    if interpreter is not None:
        out.append(Instruction("Interpreter or BSL", INTERPRETER.get(str(interpreter), _text(interpreter)),
                               warn=interpreter not in ("none", None)))
    return out


def safety_answers(details: Dict[str, Any]) -> List[Instruction]:
    out = []
    for key in SAFETY_KEYS:
        if key in details:
            value = details[key]
            out.append(Instruction(DETAIL_LABELS[key], SAFETY.get(str(value), _text(value)),
                                   warn=_yes(value) is True))
    return out


def other_details(details: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Everything else, labelled where known; unknown keys (older or newer forms) shown generically."""
    out = []
    for key, value in details.items():
        if key in SAFE_CALL_KEYS or key in SAFETY_KEYS or key in HIDDEN_KEYS:
            continue
        if key == "accepted_safe_defaults":
            text = ("The safest settings, accepted in one step" if _yes(value)
                    else "Chosen one by one") if _yes(value) is not None else _text(value)
        elif key == "relationship":
            text = RELATIONSHIP.get(str(value), _text(value))
        elif key == "location":
            text = _text(value) or "Not given"
        else:
            text = _text(value)
        out.append((DETAIL_LABELS.get(key, str(key).replace("_", " ").capitalize()), text))
    return out


def _booking_id(request: web.Request) -> int:
    return common.path_id(request)


def _age(created: dt.datetime, now: dt.datetime) -> str:
    minutes = int((now - created).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


def _local(when: dt.datetime) -> str:
    return f"{when.astimezone(queue.LONDON):%a %d %b %Y %H:%M}" if when else ""


def _ctx(request: web.Request, **extra) -> dict:
    extra.setdefault("age", lambda created: _age(created, common.now(request)))
    extra.setdefault("local", _local)
    return extra


@requires(CASEWORKER)
async def queue_page(request: web.Request) -> web.Response:
    engine = common.engine(request)
    now = common.now(request)
    done = request.query.get("view") == "done"
    await queue.release_stale_claims(engine, now)
    rows = await queue.list_rows(engine, now, done=done)
    return common.render(request, "queue.html", _ctx(request, rows=rows, done=done,
                                                     changed=request.query.get("changed") == "1"))


@requires(CASEWORKER)
async def record_page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    booking_id = _booking_id(request)
    info = common.session(request)
    now = common.now(request)
    record = await queue.open_record(common.engine(request), booking_id, info.user.id, now)
    if record is None:
        raise web.HTTPNotFound()
    details = record.details if isinstance(record.details, dict) else {}
    safe_call = safe_call_instructions(details, record.voicemail_wording, record.cover_story)
    safety = safety_answers(details)
    other = other_details(details)
    mine = record.claimed_by_id == info.user.id
    return common.render(request, "record.html", _ctx(
        request, r=record, safe_call=safe_call, safety=safety, other_details=other, mine=mine, message=message,
        can_act=queue.may_act(record.claimed_by_id, info.user.id, info.user.is_lead),
        attempt_outcomes=queue.ATTEMPT_OUTCOMES, outcomes=queue.OUTCOME_LABELS,
        tel=record.phone if record.phone and record.phone.startswith("+") and record.phone[1:].isdigit() else None,
    ), status=status)


def _text(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


async def _act(request: web.Request, action) -> web.StreamResponse:
    booking_id = _booking_id(request)
    try:
        await action(booking_id)
    except queue.WorkflowError as exc:
        return await record_page(request, str(exc), status=409)
    raise web.HTTPSeeOther(f"{common.PREFIX}/records/{booking_id}")


@requires(CASEWORKER)
async def claim(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    return await _act(request, lambda bid: queue.claim(engine, bid, info.user.id, info.user.is_lead, now))


@requires(CASEWORKER)
async def release(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    return await _act(request, lambda bid: queue.release(engine, bid, info.user.id, info.user.is_lead, now))


@requires(CASEWORKER)
async def attempt(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    form = await common.read_form(request)
    return await _act(request, lambda bid: queue.record_attempt(
        engine, bid, info.user.id, info.user.is_lead, str(form.get("outcome", "")), str(form.get("note", "")), now))


@requires(CASEWORKER)
async def complete(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    form = await common.read_form(request)
    return await _act(request, lambda bid: queue.complete(
        engine, bid, info.user.id, info.user.is_lead, str(form.get("outcome", "")), now))


@requires(CASEWORKER)
async def close(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    return await _act(request, lambda bid: queue.close(engine, bid, info.user.id, info.user.is_lead, now))


@requires(CASEWORKER)
async def reopen(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    return await _act(request, lambda bid: queue.reopen(engine, bid, info.user.id, info.user.is_lead, now))


@requires(CASEWORKER)
async def add_note(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    form = await common.read_form(request)
    return await _act(request, lambda bid: queue.add_note(engine, bid, info.user.id, str(form.get("text", "")), now))


# ---------------------------------------------------------------- reports (page: everyone; CSV: leads)

@requires(CASEWORKER)
async def reports_page(request: web.Request) -> web.Response:
    rep = await reports.report(common.engine(request))
    return common.render(request, "reports.html", _ctx(request, rep=rep, outcomes=queue.OUTCOME_LABELS))


@requires(LEAD)
async def reports_csv(request: web.Request) -> web.Response:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    body = reports.to_csv(await reports.report(engine))
    await store.audit(engine, now, info.user.id, "report_exported")
    return web.Response(
        text=body, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="callback-report-{now:%Y-%m-%d}.csv"'},
    )


# ---------------------------------------------------------------- leads: users and audit

def _account_key(request: web.Request, username: str) -> str:
    return store.account_key(request.config_dict[keys.SETTINGS].session_secret.encode(), username)


@requires(LEAD)
async def users_page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    engine, now = common.engine(request), common.now(request)
    users = await store.list_users(engine)
    states = await store.account_states(engine, {u["id"]: _account_key(request, u["username"]) for u in users}, now)
    return common.render(request, "users.html", _ctx(request, users=users, states=states, message=message,
                                                     roles=store.ROLES), status=status)


@requires(LEAD)
async def user_action(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    target = await store.get_user(engine, common.path_id(request))
    if target is None:
        raise web.HTTPNotFound()
    form = await common.read_form(request)
    action = form.get("action")
    if target.id == info.user.id and action in ("deactivate", "role"):
        return await users_page(request, "You cannot change your own account here.", status=409)
    if action == "deactivate":
        await store.set_active(engine, target.id, False, info.user.id, now)
    elif action == "activate":
        await store.set_active(engine, target.id, True, info.user.id, now)
    elif action == "revoke":
        await store.revoke_user_sessions(engine, target.id, info.user.id, now)
    elif action == "unlock":
        await store.unlock_account(engine, target.id, _account_key(request, target.username), info.user.id, now)
    elif action == "role" and form.get("role") in store.ROLES:
        await store.set_role(engine, target.id, str(form.get("role")), info.user.id, now)
    else:
        return await users_page(request, "Unknown action.", status=400)
    if target.id == info.user.id and action == "revoke":
        raise web.HTTPSeeOther(f"{common.PREFIX}/login")
    raise web.HTTPSeeOther(f"{common.PREFIX}/users")


@requires(LEAD)
async def audit_page(request: web.Request) -> web.Response:
    page = common.query_int(request, "page", 0, high=AUDIT_MAX_PAGE)
    booking_id = common.query_int(request, "record", None, low=1)
    entries = await store.audit_entries(common.engine(request), limit=200, offset=page * 200, booking_id=booking_id)
    return common.render(request, "audit.html", _ctx(request, entries=entries, page=page, record=booking_id))


def setup(router) -> None:
    r = router
    r.add_get("/", queue_page, name="queue")
    r.add_get("/records/{id:\\d+}", record_page, name="record")
    for name, handler in (("claim", claim), ("release", release), ("attempt", attempt), ("complete", complete),
                          ("close", close), ("reopen", reopen), ("notes", add_note)):
        r.add_post(f"/records/{{id:\\d+}}/{name}", handler)
    r.add_get("/reports", reports_page, name="reports")
    r.add_get("/reports.csv", reports_csv, name="reports_csv")
    r.add_get("/users", users_page, name="users")
    r.add_post("/users/{id:\\d+}", user_action)
    r.add_get("/audit", audit_page, name="audit")

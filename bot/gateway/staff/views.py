"""Queue, record, workflow, reports, users and audit pages. Roles are marked on each handler."""
from __future__ import annotations

import datetime as dt
import logging

from aiohttp import web

from bot.gateway.staff import common
from bot.gateway.staff.common import CASEWORKER, LEAD, requires
from bot.staff import queue, reports, store

logger = logging.getLogger(__name__)

# Labels for the safe-call details the booking form stores (unknown keys are shown generically).
DETAIL_LABELS = {
    "voicemail": "Voicemail",
    "voicemail_ok": "Voicemail",
    "text_first": "Text before calling",
    "someone_else": "If someone else answers",
    "if_someone_else": "If someone else answers",
    "gender": "Preferred worker",
    "worker_gender": "Preferred worker",
    "language": "Language",
    "interpreter": "Interpreter",
    "bsl": "British Sign Language",
    "children": "Children in the home",
    "afraid": "Afraid of being seriously hurt",
    "serious_harm": "Afraid of being seriously hurt",
}
SAFE_CALL_KEYS = ("voicemail", "voicemail_ok", "text_first", "someone_else", "if_someone_else", "gender",
                  "worker_gender", "language", "interpreter", "bsl")


def _booking_id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except (KeyError, ValueError):
        raise web.HTTPNotFound()
    if not 0 < value < 2 ** 31:
        raise web.HTTPNotFound()
    return value


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
    safe_call = [(DETAIL_LABELS[k], _text(details[k])) for k in SAFE_CALL_KEYS if k in details]
    other = [(DETAIL_LABELS.get(k, str(k).replace("_", " ").capitalize()), _text(v))
             for k, v in details.items() if k not in SAFE_CALL_KEYS]
    mine = record.claimed_by_id == info.user.id
    return common.render(request, "record.html", _ctx(
        request, r=record, safe_call=safe_call, other_details=other, mine=mine, message=message,
        can_act=mine or record.claimed_by_id is None or info.user.is_lead,
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
    form = await request.post()
    return await _act(request, lambda bid: queue.record_attempt(
        engine, bid, info.user.id, info.user.is_lead, str(form.get("outcome", "")), str(form.get("note", "")), now))


@requires(CASEWORKER)
async def complete(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    form = await request.post()
    return await _act(request, lambda bid: queue.complete(
        engine, bid, info.user.id, info.user.is_lead, str(form.get("outcome", "")), now))


@requires(CASEWORKER)
async def close(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    return await _act(request, lambda bid: queue.close(engine, bid, info.user.id, info.user.is_lead, now))


@requires(CASEWORKER)
async def reopen(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    return await _act(request, lambda bid: queue.reopen(engine, bid, info.user.id, now))


@requires(CASEWORKER)
async def add_note(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    form = await request.post()
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

@requires(LEAD)
async def users_page(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    users = await store.list_users(common.engine(request))
    return common.render(request, "users.html", _ctx(request, users=users, message=message, roles=store.ROLES),
                         status=status)


@requires(LEAD)
async def user_action(request: web.Request) -> web.StreamResponse:
    info, engine, now = common.session(request), common.engine(request), common.now(request)
    try:
        user_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound()
    target = await store.get_user(engine, user_id)
    if target is None:
        raise web.HTTPNotFound()
    form = await request.post()
    action = form.get("action")
    if target.id == info.user.id and action in ("deactivate", "role"):
        return await users_page(request, "You cannot change your own account here.", status=409)
    if action == "deactivate":
        await store.set_active(engine, target.id, False, info.user.id, now)
    elif action == "activate":
        await store.set_active(engine, target.id, True, info.user.id, now)
    elif action == "revoke":
        await store.revoke_user_sessions(engine, target.id, info.user.id, now)
    elif action == "role" and form.get("role") in store.ROLES:
        await store.set_role(engine, target.id, str(form.get("role")), info.user.id, now)
    else:
        return await users_page(request, "Unknown action.", status=400)
    if target.id == info.user.id and action == "revoke":
        raise web.HTTPSeeOther(f"{common.PREFIX}/login")
    raise web.HTTPSeeOther(f"{common.PREFIX}/users")


@requires(LEAD)
async def audit_page(request: web.Request) -> web.Response:
    try:
        page = max(0, int(request.query.get("page", "0")))
        booking_id = int(request.query["record"]) if request.query.get("record") else None
    except ValueError:
        raise web.HTTPBadRequest()
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

"""Shared pieces of the staff dashboard: keys, the clock, role markers, rendering."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Dict, Optional

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.gateway import keys
from bot.staff.store import SessionInfo, utcnow

PREFIX = "/staff"
JINJA = web.AppKey("staff_jinja", object)
# A callable returning the current aware UTC datetime; tests replace it to move time.
CLOCK = web.AppKey("staff_clock", object)
SESSION = "staff_session"  # request key holding the SessionInfo

SESSION_COOKIE = "__Host-staff"
PRELOGIN_COOKIE = "__Host-staff-login"

# Stricter than the site default: no script at all, nothing framed, forms post only here.
STAFF_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

PUBLIC, CASEWORKER, LEAD = "public", "caseworker", "lead"
_RANK = {CASEWORKER: 1, LEAD: 2}


def requires(role: str) -> Callable:
    """Mark a handler with the least role that may use it. Unmarked handlers are refused (default deny)."""
    def mark(handler: Callable) -> Callable:
        handler.staff_role = role
        return handler
    return mark


def role_allows(user_role: str, needed: str) -> bool:
    return _RANK.get(user_role, 0) >= _RANK.get(needed, 99)


def now(request: web.Request) -> dt.datetime:
    clock = request.config_dict.get(CLOCK) or utcnow
    return clock()


def engine(request: web.Request) -> AsyncEngine:
    return request.config_dict[keys.ENGINE]


def session(request: web.Request) -> SessionInfo:
    return request[SESSION]


def render(request: web.Request, template: str, context: Optional[Dict[str, Any]] = None,
           status: int = 200) -> web.Response:
    ctx = dict(context or {})
    info = request.get(SESSION)
    ctx.setdefault("me", info.user if info else None)
    ctx.setdefault("csrf", info.csrf_token if info else "")
    ctx.setdefault("prefix", PREFIX)
    response = aiohttp_jinja2.render_template(template, request, ctx, app_key=JINJA, status=status)
    response.headers["Content-Security-Policy"] = STAFF_CSP
    return response


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)

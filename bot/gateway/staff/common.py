"""Shared pieces of the staff dashboard: keys, the clock, role markers, rendering."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Dict, Optional

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy
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

logger = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- input no handler can use

MAX_ID = 2 ** 31 - 1  # ids are 32-bit INTEGER columns on SQLite and PostgreSQL alike
_MAX_DIGITS = 10


class BadInput(Exception):
    """A form or number no handler can use: the guard answers with the dashboard's 400 page."""


async def read_form(request: web.Request) -> MultiDictProxy:
    """request.post(), with a body aiohttp cannot parse (a missing or wrong multipart boundary, an
    unknown charset or Content-Transfer-Encoding, a part without a name, bad base64) as BadInput. Only the
    error's type is logged, never the body."""
    try:
        return await request.post()
    except web.HTTPException:  # 413 and the like: already a proper answer
        raise
    except Exception as exc:  # noqa: BLE001 - anything from parsing the client's own body
        logger.info("Staff form could not be read (%s)", type(exc).__name__)
        raise BadInput() from None


def bounded_int(value: Any, low: int = 0, high: int = MAX_ID) -> Optional[int]:
    """The number in `value` if it is 1 to 10 ASCII digits (no sign, space, underscore or other
    script's digits) between low and high; otherwise None."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_DIGITS or not value.isascii() \
            or not value.isdigit():
        return None
    number = int(value)
    return number if low <= number <= high else None


def query_int(request: web.Request, name: str, default: Optional[int], low: int = 0,
              high: int = MAX_ID) -> Optional[int]:
    """A number from the query string: `default` when absent or empty, BadInput when unusable."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    number = bounded_int(raw, low, high)
    if number is None:
        raise BadInput()
    return number


def path_id(request: web.Request, name: str = "id") -> int:
    """An id from the URL; one that cannot name a row is a 404, like one that names none."""
    number = bounded_int(request.match_info.get(name), 1, MAX_ID)
    if number is None:
        raise web.HTTPNotFound()
    return number


def bad_request(request: web.Request) -> web.Response:
    return render(request, "error.html", {"title": "Bad request",
                                          "message": "That request could not be read. Go back and try again."},
                  status=400)

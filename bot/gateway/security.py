"""Security headers on every response, errors included. Handlers may set stricter or
route-specific values first.

Anything a handler did not expect becomes a plain 500 page that still carries every header; the
log gets the exception's type and place only (bot/logs.py), never the request or its content.
Input that cannot be read at all (a body, form or number no parser can take) is a 400.
"""
from __future__ import annotations

import ipaddress
import json
import logging
from typing import Awaitable, Callable, Sequence

from aiohttp import web

logger = logging.getLogger(__name__)

STAFF_PREFIX = "/staff"

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

HEADERS = {
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def framable(response: web.StreamResponse) -> bool:
    """True when a handler set its own CSP whose frame-ancestors is not 'none'. X-Frame-Options has
    no value for "these origins", so it is left out there and frame-ancestors alone decides."""
    csp = response.headers.get("Content-Security-Policy")
    if not csp:
        return False
    for directive in csp.split(";"):
        parts = directive.split()
        if parts and parts[0].lower() == "frame-ancestors":
            return parts[1:] != ["'none'"]
    return False


def apply_headers(response: web.StreamResponse, hsts: bool) -> None:
    for name, value in HEADERS.items():
        if name == "X-Frame-Options" and framable(response):
            continue  # the handler's CSP frame-ancestors allows named origins (the web chat embed)
        response.headers.setdefault(name, value)
    if hsts:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


# Errors a handler can raise only from input it could not parse: a malformed multipart body or
# charset (aiohttp's request.post()), nesting too deep, a number too long or too large.
BAD_INPUT_ERRORS = (UnicodeDecodeError, LookupError, RecursionError, OverflowError, ValueError)


def _route(request: web.Request) -> str:
    """The route's pattern ("/staff/records/{id}"), never the path a person sent."""
    resource = request.match_info.route.resource
    return resource.canonical if resource else "?"


def _plain_error(status: int, text: str, request: web.Request) -> web.Response:
    if request.path.startswith("/webhooks/") or request.path.startswith("/api/"):
        return web.Response(status=status, text=json.dumps({"error": text}),
                            content_type="application/json")
    return web.Response(status=status, text=text + "\n", content_type="text/plain")


def security_headers_middleware(hsts: bool) -> Callable:
    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            apply_headers(exc, hsts)
            raise
        except BAD_INPUT_ERRORS as exc:
            logger.warning("Bad input refused on %s %s (%s)", request.method, _route(request),
                           type(exc).__name__)
            response = _plain_error(400, "Bad request", request)
        except Exception:  # noqa: BLE001 - the last line: a plain page, every header, no content
            logger.exception("Unexpected error on %s %s", request.method, _route(request))
            response = _plain_error(500, "Something went wrong. If you are in danger, call 999.",
                                    request)
        apply_headers(response, hsts)
        # Discretion: only the staff dashboard may ever set a cookie.
        if not request.path.startswith(STAFF_PREFIX):
            response.cookies.clear()
            response.headers.popall("Set-Cookie", None)
        return response

    return middleware


async def drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: aiohttp adds `Server: Python/3.x aiohttp/3.x` to every response, errors
    and static files included; its headers are ready by the time this signal runs."""
    response.headers.popall("Server", None)


def client_address(request: web.Request, trusted_proxies: Sequence[str] = ()) -> str:
    """The client's address, for rate limits only (never logged). Behind a trusted reverse proxy,
    the right-most address in X-Forwarded-For that is not itself a trusted proxy."""
    remote = request.remote or "unknown"
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.strip())
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not networks or not trusted(remote):
        return remote
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop
    return remote

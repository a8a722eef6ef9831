"""Sign-in, sign-out, password change, and the middleware that guards every /staff route.

Order of checks for every request under /staff (the middleware):
1. the route must declare a role (default deny);
2. unless public, a live server-side session from the `__Host-staff` cookie (idle 15 min, absolute 8 h),
   else a redirect to the sign-in page (GET) or 403 (anything else);
3. the user's role must reach the route's role, else 403;
4. every state-changing request needs the session's CSRF token and a same-origin Origin (or, when the
   browser sends `Origin: null` because of `Referrer-Policy: no-referrer`, `Sec-Fetch-Site: same-origin`).
Failures say nothing about which check failed. A form or number no handler can use (common.BadInput)
is the dashboard's 400 page.

Sign-in limits (bot/staff/store.py): an attempt is refused unchecked while its client address has too
many failed attempts, or the account or this (account, address) pair is waiting out its back-off;
only an attempt whose password was checked counts against the account. The change-password page
counts a wrong current password the same way, and a session that gives
store.PASSWORD_CHECKS_PER_SESSION of them is ended.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Optional
from urllib.parse import urlsplit

from aiohttp import web

from bot.gateway import keys
from bot.gateway.staff import common
from bot.gateway.staff.common import CASEWORKER, PUBLIC, PRELOGIN_COOKIE, SESSION, SESSION_COOKIE, requires
from bot.staff import passwords, store, totp

logger = logging.getLogger(__name__)

SIGN_IN_FAILED = "Sign-in failed. Check your user name, password and code, or wait a while and try again."
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


# ---------------------------------------------------------------- cookies

def set_cookie(response: web.StreamResponse, name: str, value: str, max_age: Optional[int] = None) -> None:
    response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="Strict", max_age=max_age)


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.set_cookie(name, "", path="/", secure=True, httponly=True, samesite="Strict", max_age=0,
                        expires="Thu, 01 Jan 1970 00:00:00 GMT")


# ---------------------------------------------------------------- origin and CSRF

def expected_origin(request: web.Request) -> str:
    base = request.config_dict[keys.SETTINGS].public_base_url
    if base:
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}"
    return f"{request.scheme}://{request.host}"


def same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return hmac.compare_digest(origin.rstrip("/"), expected_origin(request))
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    # No Origin and no Fetch Metadata: not a modern browser's cross-site request; the CSRF token and
    # the SameSite=Strict cookie still apply. An opaque "null" origin without metadata is refused.
    return origin is None


def tokens_match(expected: str, given: Optional[str]) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def forbidden(request: web.Request) -> web.Response:
    return common.render(request, "error.html", {"message": "You cannot do that here."}, status=403)


# ---------------------------------------------------------------- middleware

def is_staff_path(path: str) -> bool:
    return path == common.PREFIX or path.startswith(common.PREFIX + "/")


@web.middleware
async def guard(request: web.Request, handler):
    if not is_staff_path(request.path):
        return await handler(request)
    try:
        return await _guarded(request, handler)
    except common.BadInput:
        return common.bad_request(request)


async def _guarded(request: web.Request, handler):
    route_handler = getattr(request.match_info, "handler", None)
    needed = getattr(route_handler, "staff_role", None)
    if needed is None:  # unknown routes (404/405) and anything unmarked
        if isinstance(request.match_info.http_exception, web.HTTPException):
            raise request.match_info.http_exception
        return forbidden(request)

    if needed != PUBLIC:
        info = await store.load_session(common.engine(request), request.cookies.get(SESSION_COOKIE, ""),
                                        common.now(request))
        if info is None:
            if request.method in SAFE_METHODS:
                response = web.HTTPSeeOther(f"{common.PREFIX}/login")
                if SESSION_COOKIE in request.cookies:
                    clear_cookie(response, SESSION_COOKIE)
                raise response
            return forbidden(request)
        request[SESSION] = info
        if not common.role_allows(info.user.role, needed):
            return forbidden(request)

    if request.method not in SAFE_METHODS:
        if not same_origin(request):
            return forbidden(request)
        if needed != PUBLIC:
            form = await common.read_form(request)
            if not tokens_match(request[SESSION].csrf_token, form.get("csrf")):
                return forbidden(request)
    return await handler(request)


# ---------------------------------------------------------------- sign-in

def _client_address(request: web.Request) -> str:
    from bot.gateway import keys
    from bot.gateway.security import client_address

    return client_address(request, request.app[keys.SETTINGS].trusted_proxies)


@requires(PUBLIC)
async def login_form(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(32)
    response = common.render(request, "login.html", {"login_token": token, "message": message}, status=status)
    set_cookie(response, PRELOGIN_COOKIE, token, max_age=3600)
    return response


def _throttle_keys(request: web.Request, username: str) -> tuple:
    secret = request.config_dict[keys.SETTINGS].session_secret.encode()
    return store.account_key(secret, username), store.address_key(secret, _client_address(request))


@requires(PUBLIC)
async def login(request: web.Request) -> web.StreamResponse:
    form = await common.read_form(request)
    if not tokens_match(request.cookies.get(PRELOGIN_COOKIE, ""), form.get("login_token")):
        return await login_form(request, "Your sign-in page expired. Please try again.", status=403)
    username = str(form.get("username", ""))[: store.USERNAME_MAX * 2]
    password = str(form.get("password", ""))
    code = str(form.get("code", ""))[:16]

    engine = common.engine(request)
    now = common.now(request)
    account_key, address_key = _throttle_keys(request, username)

    refusal = await store.sign_in_refusal(engine, account_key, address_key, now)
    if refusal is not None:  # not checked, so not counted against the account
        await store.record_refused(engine, address_key, now)
        logger.info("Staff sign-in refused unchecked (%s limit)", refusal)
        return await login_form(request, SIGN_IN_FAILED, status=401)

    user, password_hash, totp_secret = await store.credentials(engine, username)
    password_ok = await passwords.verify_password(password_hash, password)
    ok = bool(user and user.active and password_ok)
    if ok:
        step = totp.matching_step(totp_secret, code, now.timestamp())
        ok = step is not None and await store.use_totp_step(engine, user.id, step, now)
    if not ok:
        await store.record_failure(engine, account_key, address_key, now, user_id=user.id if user else None)
        logger.info("Staff sign-in refused")
        return await login_form(request, SIGN_IN_FAILED, status=401)

    await store.clear_account_failures(engine, account_key)
    if passwords.needs_rehash(password_hash):
        await store.set_password(engine, user.id, await passwords.hash_password(password), user.id, now)
    # A brand-new session id at every sign-in; any session cookie the browser sent is dropped.
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        info = await store.load_session(engine, old, now, touch=False)
        if info:
            await store.revoke_session(engine, info.token_hash, info.user.id, now)
    token, _csrf = await store.create_session(engine, user, now)
    logger.info("Staff sign-in (user id %s)", user.id)
    response = web.HTTPSeeOther(f"{common.PREFIX}/")
    set_cookie(response, SESSION_COOKIE, token)  # a session cookie: gone when the browser closes
    clear_cookie(response, PRELOGIN_COOKIE)
    raise response


@requires(CASEWORKER)
async def logout(request: web.Request) -> web.StreamResponse:
    info = common.session(request)
    await store.revoke_session(common.engine(request), info.token_hash, info.user.id, common.now(request))
    response = web.HTTPSeeOther(f"{common.PREFIX}/login")
    clear_cookie(response, SESSION_COOKIE)
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    raise response


@requires(CASEWORKER)
async def password_form(request: web.Request, message: str = "", status: int = 200) -> web.Response:
    return common.render(request, "password.html", {"message": message, "min": passwords.MIN_LENGTH,
                                                    "max": passwords.MAX_LENGTH}, status=status)


@requires(CASEWORKER)
async def change_password(request: web.Request) -> web.StreamResponse:
    form = await common.read_form(request)
    info = common.session(request)
    engine = common.engine(request)
    now = common.now(request)
    current, new, repeat = (str(form.get(k, "")) for k in ("current", "new", "repeat"))
    account_key, address_key = _throttle_keys(request, info.user.username)
    if await store.sign_in_refusal(engine, account_key, address_key, now) in ("account", "pair"):
        return await password_form(request, "Too many wrong passwords have been tried for this account. "
                                   "Wait a few minutes and try again.", status=429)
    _user, password_hash, _secret = await store.credentials(engine, info.user.username)
    if not await passwords.verify_password(password_hash, current):
        ended = await store.record_password_check_failure(engine, info, account_key, address_key, now)
        logger.info("Staff password change refused (user id %s)", info.user.id)
        if ended:
            response = web.HTTPSeeOther(f"{common.PREFIX}/login")
            clear_cookie(response, SESSION_COOKIE)
            raise response
        return await password_form(request, "The current password is not right.", status=400)
    if new != repeat:
        return await password_form(request, "The two new passwords are not the same.", status=400)
    try:
        passwords.check_policy(new, info.user.username)
    except passwords.PasswordRejected as exc:
        return await password_form(request, str(exc), status=400)
    # Revokes every session of this user, this one included; then a fresh session for this browser.
    await store.set_password(engine, info.user.id, await passwords.hash_password(new), info.user.id, now)
    token, _csrf = await store.create_session(engine, info.user, now)
    response = web.HTTPSeeOther(f"{common.PREFIX}/?changed=1")
    set_cookie(response, SESSION_COOKIE, token)
    raise response


def setup(router) -> None:
    router.add_get("/login", login_form, name="login")
    router.add_post("/login", login)
    router.add_post("/logout", logout, name="logout")
    router.add_get("/password", password_form, name="password")
    router.add_post("/password", change_password)

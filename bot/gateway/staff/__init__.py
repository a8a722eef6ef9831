"""The staff dashboard at /staff/: a sub-application with its own guard middleware and templates.

See auth.py for the sign-in, session, role and CSRF rules; views.py for the pages; bot/staff for the
repositories. `setup(app)` mounts it and starts the housekeeping task (stale claims, expired sessions,
report statistics).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.gateway import keys
from bot.gateway.staff import auth, common, views
from bot.gateway.staff.common import PUBLIC, requires
from bot.staff import queue, reports, store

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
HOUSEKEEPING_SECONDS = 300


@requires(PUBLIC)
async def stylesheet(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(HERE / "static" / "staff.css")
    response.headers["Cache-Control"] = "no-cache"
    return response


@requires(PUBLIC)
async def redirect_root(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(f"{common.PREFIX}/")


async def housekeeping(app: web.Application) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            try:
                engine = app[keys.ENGINE]
                now = (app.get(common.CLOCK) or store.utcnow)()
                await queue.release_stale_claims(engine, now)
                await store.purge_sessions(engine, now)
                await reports.sync_stats(engine)
            except Exception as exc:  # never personal data: only the error type
                logger.warning("Staff housekeeping failed (%s)", type(exc).__name__)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class _Prefixed:
    """Adds routes under /staff on the main router. (Not a sub-application: with this aiohttp and
    yarl, resolving a sub-application builds request.url, which fails when Host carries a port.)"""

    def __init__(self, router: web.UrlDispatcher):
        self._router = router

    def add_get(self, path: str, handler, **kwargs):
        kwargs.pop("name", None)
        return self._router.add_get(common.PREFIX + path, handler, allow_head=False, **kwargs)

    def add_post(self, path: str, handler, **kwargs):
        kwargs.pop("name", None)
        return self._router.add_post(common.PREFIX + path, handler, **kwargs)


def setup(app: web.Application) -> None:
    from bot.storage import crypto

    try:
        crypto.current()
    except crypto.EncryptionNotConfigured:
        crypto.configure_from_settings(app[keys.SETTINGS])
    app.setdefault(common.CLOCK, store.utcnow)
    env = aiohttp_jinja2.setup(
        app, app_key=common.JINJA, autoescape=True, undefined=jinja2.StrictUndefined,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
    )
    env.globals["outcome_label"] = lambda code: queue.OUTCOME_LABELS.get(code, code or "")
    app.middlewares.append(auth.guard)  # inside the site-wide security headers middleware
    app.router.add_get(common.PREFIX, redirect_root)
    router = _Prefixed(app.router)
    auth.setup(router)
    views.setup(router)
    router.add_get("/static/staff.css", stylesheet)
    app.cleanup_ctx.append(housekeeping)

"""GET /healthz: 200 with JSON once the gateway is serving; each dependency reported separately."""
from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web

from bot.gateway import keys
from bot.storage.db import ping


async def _timed(coro) -> dict:
    start = time.perf_counter()
    try:
        ok = await asyncio.wait_for(coro, timeout=3)
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": bool(ok) if ok is not None else True, "ms": round((time.perf_counter() - start) * 1000, 1)}


async def _action_server(app: web.Application) -> bool:
    url = app[keys.SETTINGS].action_server_url + "/health"
    async with app[keys.HTTP].get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
        return resp.status == 200


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    rasa = app[keys.RASA]
    names = [f"rasa_{i}" if len(rasa.urls) > 1 else "rasa" for i in range(len(rasa.urls))]
    checks = await asyncio.gather(
        *[_timed(rasa.status(url)) for url in rasa.urls],
        _timed(_action_server(app)),
        _timed(ping(app[keys.ENGINE])),
    )
    report = dict(zip(names + ["action_server", "database"], checks))
    ok = all(c["ok"] for c in checks)
    return web.json_response({"status": "ok" if ok else "degraded", "checks": report})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)

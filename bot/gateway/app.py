"""The gateway's app factory: `create_app(settings)`.

Cleanup contexts own the long-lived resources (HTTP client for Rasa, database engine, the danger
detector); each feature module adds its routes with `setup(app)`.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import AsyncIterator, Optional

import aiohttp
from aiohttp import web

from bot.gateway import chat, health, keys, pages, staff
from bot.gateway.rasa_client import RasaClient
from bot.gateway.retention import purge_schedule
from bot.gateway.security import drop_server_header, security_headers_middleware
from bot.profile import ProfileCache
from bot.sms import webhook as sms_webhook
from bot.settings import Settings, check_production
from bot.storage.db import create_engine

logger = logging.getLogger(__name__)


async def http_client(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        app[keys.HTTP] = session
        rasa = RasaClient(session, settings.rasa_urls, settings.rasa_timeout, token=settings.gateway_token)
        app[keys.RASA] = rasa
        refresher = None
        if settings.rasa_dns_discovery:
            await rasa.discover()

            async def refresh() -> None:
                while True:
                    await asyncio.sleep(10)
                    await rasa.discover()

            refresher = asyncio.get_running_loop().create_task(refresh())
        yield
        if refresher:
            refresher.cancel()


async def database(app: web.Application) -> AsyncIterator[None]:
    engine = create_engine(app[keys.SETTINGS].database_url)
    app[keys.ENGINE] = engine
    yield
    await engine.dispose()


async def danger_detector(app: web.Application) -> AsyncIterator[None]:
    """Load the reviewed danger patterns for the safe fallback. If they cannot load, the fallback
    treats every message as possible danger (see fallback.looks_like_danger)."""
    try:
        from bot.nlu.danger import default_detector  # loaded once per process

        app[keys.DANGER] = await asyncio.get_running_loop().run_in_executor(None, default_detector)
    except Exception as exc:
        logger.error("Danger patterns unavailable (%s); the fallback will assume danger", exc)
        app[keys.DANGER] = None
    yield


async def background_tasks(app: web.Application) -> AsyncIterator[None]:
    yield
    pending = list(app.get("_background", ()))
    if pending:
        await asyncio.wait(pending, timeout=5)


def create_app(settings: Settings, profile: Optional[ProfileCache] = None) -> web.Application:
    check_production(settings)
    app = web.Application(
        middlewares=[security_headers_middleware(hsts=settings.public_base_url.startswith("https://"))],
        client_max_size=64 * 1024,
    )
    app.on_response_prepare.append(drop_server_header)
    app[keys.SETTINGS] = settings
    app[keys.PROFILE] = profile or ProfileCache(settings.profile_path)
    app.cleanup_ctx.extend([http_client, database, danger_detector, background_tasks])
    app.cleanup_ctx.append(purge_schedule)  # retention purge every PURGE_INTERVAL_SECONDS
    health.setup(app)
    chat.setup(app)
    pages.setup(app)
    staff.setup(app)  # /staff/: the staff dashboard (its own guard middleware)
    sms_webhook.setup(app)
    return app

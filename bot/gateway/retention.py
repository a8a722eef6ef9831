"""The retention purge as a scheduled task in the gateway (every PURGE_INTERVAL_SECONDS).

Installed by create_app as a cleanup context after the database one, so it uses app[keys.ENGINE].
Logs counts only.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from aiohttp import web

from bot.gateway import keys

logger = logging.getLogger(__name__)


async def purge_once(app: web.Application) -> dict:
    from bot.storage.bookings import purge_with_profile

    counts = await purge_with_profile(app[keys.ENGINE], app[keys.PROFILE].get())
    if any(counts.values()):
        logger.info("Retention purge removed %d closed and %d untouched bookings",
                    counts.get("closed", 0), counts.get("untouched", 0))
    return counts


async def _loop(app: web.Application) -> None:
    interval = app[keys.SETTINGS].purge_interval_seconds
    await asyncio.sleep(min(interval, 60))  # let start-up and health checks finish first
    while True:
        try:
            await purge_once(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. database down: try again next time, never crash the gateway
            logger.warning("Retention purge failed (%s); will retry", type(exc).__name__)
        await asyncio.sleep(interval)


async def purge_schedule(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(_loop(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""Typed application keys shared by the gateway's modules."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.profile import ProfileCache
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.gateway.rasa_client import RasaClient
    from bot.nlu.danger import DangerDetector

SETTINGS = web.AppKey("settings", Settings)
PROFILE = web.AppKey("profile", ProfileCache)
HTTP = web.AppKey("http", ClientSession)
ENGINE = web.AppKey("engine", AsyncEngine)
RASA = web.AppKey("rasa", object)  # RasaClient
DANGER = web.AppKey("danger", object)  # Optional[DangerDetector]

"""The web chat pages (placeholder until the web chat lands)."""
from __future__ import annotations

import html

from aiohttp import web

from bot.gateway import keys


async def index(request: web.Request) -> web.Response:
    profile = request.app[keys.PROFILE].get()
    title = html.escape(profile.web_chat.title)
    body = f"<!doctype html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{title}</title></head>" \
           f"<body><main><h1>{title}</h1><p>The chat is served at this address.</p></main></body></html>"
    return web.Response(text=body, content_type="text/html")


def setup(app: web.Application) -> None:
    app.router.add_get("/", index)

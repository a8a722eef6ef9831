"""The gateway's access log: method, path, status, size and time. No client address, user agent,
query string or referrer (any of them can identify a person or carry what they typed)."""
from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.logs import redact


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        # The path is masked like any log text; the status and timings are our own numbers and
        # stay readable (bot.logs leaves this logger's records alone).
        self.logger.info('"%s %s" %s %s %.4fs', request.method, redact(request.path)[:200],
                         response.status, response.body_length, time)

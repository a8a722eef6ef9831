"""The action server's Sanic app: rasa_sdk's app behind the shared secret.

Anyone who can reach the action server could otherwise run any action with a made-up tracker (and
so store a booking that never went through the form). Every request must carry
`Authorization: Bearer <ACTION_SERVER_TOKEN>`, which Rasa sends from `action_endpoint.headers` in
endpoints.yml; only `GET /health` is open (health checks). The token is compared in constant time
and never logged. CORS is off: no browser has any business calling the action server.
"""
from __future__ import annotations

import hmac
import logging
from typing import Optional

from sanic import Sanic, response
from sanic.exceptions import MethodNotSupported, NotFound
from sanic.request import Request

logger = logging.getLogger(__name__)

OPEN = frozenset({("GET", "/health")})


def authorised(header: Optional[str], token: str) -> bool:
    """Whether an Authorization header carries the token (Bearer scheme, constant-time compare)."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8", "replace"), token.encode("utf-8"))


def create_app(token: str, package: str = "actions") -> Sanic:
    from rasa_sdk.endpoint import create_app as create_sdk_app

    if not token:
        raise ValueError("the action server needs a token")
    app = create_sdk_app(package, cors_origins=[])

    async def require_token(request: Request):
        if (request.method, request.path) in OPEN:
            return None
        if not authorised(request.headers.get("authorization"), token):
            logger.warning("Action server refused a request without the shared secret (%s %s)",
                           request.method, request.path if request.path in ("/webhook", "/actions") else "other")
            return response.json({"error": "unauthorised"}, status=401,
                                 headers={"WWW-Authenticate": "Bearer"})
        return None

    # First in the chain, ahead of the CORS middleware (which answers OPTIONS itself and puts itself
    # first when the server starts): this listener runs after that one.
    @app.listener("before_server_start")
    async def check_first(app_: Sanic, _loop) -> None:
        if require_token in app_.request_middleware:
            app_.request_middleware.remove(require_token)
        app_.request_middleware.appendleft(require_token)

    # rasa_sdk's catch-all handler answers unknown routes with a 500 echoing the request body.
    @app.exception(NotFound)
    async def not_found(request: Request, exception: Exception):
        return response.json({"error": "not found"}, status=404)

    @app.exception(MethodNotSupported)
    async def not_allowed(request: Request, exception: Exception):
        return response.json({"error": "method not allowed"}, status=405)

    # rasa_sdk's catch-all answers a failing action with a 500 echoing the request body (the
    # tracker: what the person typed) and str(exception). Answer with neither; the log gets the
    # exception's type and place only (bot/logs.py).
    @app.exception(Exception)
    async def failed(request: Request, exception: Exception):
        logger.error("An action failed (%s)", type(exception).__name__, exc_info=exception)
        return response.json({"error": "the action failed"}, status=500)

    return app

"""Run the action server on loopback: `python -m actions` (ACTION_HOST, ACTION_PORT).

rasa_sdk's own CLI has no host option and binds every interface; this binds where we say. Every
request but `GET /health` must carry ACTION_SERVER_TOKEN (actions/server.py); without a usable token
the server does not start, in development and production alike.
"""
from __future__ import annotations

import os
import sys


def main() -> int:
    from bot import logs
    from bot.settings import SettingsError, load_settings, require_action_server_token

    try:
        settings = load_settings()
        logs.configure(settings.log_level)
        token = require_action_server_token(settings)
    except SettingsError as exc:
        print(f"Action server not started: {exc}", file=sys.stderr, flush=True)
        return 2
    from actions.server import create_app

    app = create_app(token)
    host = os.environ.get("ACTION_HOST", "127.0.0.1")
    port = int(os.environ.get("ACTION_PORT", "5055"))
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

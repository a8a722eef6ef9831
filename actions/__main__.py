"""Run the action server on loopback: `python -m actions` (ACTION_HOST, ACTION_PORT).

rasa_sdk's own CLI has no host option and binds every interface; this binds where we say.
"""
from __future__ import annotations

import os
import sys


def main() -> int:
    from rasa_sdk.endpoint import create_app

    from bot import logs
    from bot.settings import load_settings

    settings = load_settings()
    logs.configure(settings.log_level)
    app = create_app("actions")
    host = os.environ.get("ACTION_HOST", "127.0.0.1")
    port = int(os.environ.get("ACTION_PORT", "5055"))
    app.run(host=host, port=port, workers=1, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

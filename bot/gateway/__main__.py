"""Run the gateway: `python -m bot.gateway` (HOST and PORT from settings)."""
from __future__ import annotations

import sys

from aiohttp import web

from bot import logs
from bot.gateway.app import ACCESS_LOG_FORMAT, create_app
from bot.profile import ProfileError
from bot.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        logs.configure(settings.log_level)
        app = create_app(settings)
    except (SettingsError, ProfileError) as exc:
        print(f"Cannot start the gateway: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=settings.host, port=settings.port, access_log_format=ACCESS_LOG_FORMAT,
                print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

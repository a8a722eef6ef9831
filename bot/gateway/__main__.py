"""Run the gateway: `python -m bot.gateway` (HOST and PORT from settings)."""
from __future__ import annotations

import sys

# The gateway never needs TensorFlow, but spaCy's thinc imports it when installed (Rasa needs it),
# which costs ~400 MB per gateway process. Mark it unavailable before anything imports spaCy.
sys.modules.setdefault("tensorflow", None)  # type: ignore[arg-type]

from aiohttp import web  # noqa: E402

from bot import logs  # noqa: E402
from bot.gateway.access_log import AccessLogger  # noqa: E402
from bot.gateway.app import create_app  # noqa: E402
from bot.profile import ProfileError  # noqa: E402
from bot.settings import SettingsError, load_settings  # noqa: E402


def main() -> int:
    try:
        settings = load_settings()
        logs.configure(settings.log_level)
        app = create_app(settings)
    except (SettingsError, ProfileError) as exc:
        print(f"Cannot start the gateway: {exc}", file=sys.stderr)
        return 2
    web.run_app(app, host=settings.host, port=settings.port, access_log_class=AccessLogger,
                print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

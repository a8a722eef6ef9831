"""Operator commands: `python -m bot.cli <command>`.

- `generate-key`   print a new Fernet key (put it FIRST in ENCRYPTION_KEYS, keep the old ones after it)
- `rotate-keys`    re-encrypt every stored personal field under the first key in ENCRYPTION_KEYS
- `purge`          delete bookings past the profile's retention periods now (also runs in the gateway)
- `create-user`, `reset-password`, `reset-totp`, `deactivate-user`, `unlock-user`   staff accounts
  (bot/staff/admin.py)

Outputs are counts only, never personal data. Other issues add their subcommands to `build_parser`.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Callable, Dict, List, Optional


def _settings():
    from bot.settings import load_settings

    return load_settings()


def cmd_generate_key(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


async def _rotate(settings) -> int:
    from bot.storage.bookings import rotate_keys
    from bot.storage.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        return await rotate_keys(engine, settings.fernet_keys)
    finally:
        await engine.dispose()


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    settings = _settings()
    count = asyncio.run(_rotate(settings))
    print(f"Re-encrypted {count} stored values under the newest key. "
          "Once this has run everywhere, the older keys can be removed from ENCRYPTION_KEYS.")
    return 0


async def _purge(settings) -> Dict[str, int]:
    from bot.profile import load_profile
    from bot.storage.bookings import purge_with_profile
    from bot.storage.db import create_engine

    profile = load_profile(settings.profile_path)
    engine = create_engine(settings.database_url)
    try:
        return await purge_with_profile(engine, profile)
    finally:
        await engine.dispose()


def cmd_purge(args: argparse.Namespace) -> int:
    counts = asyncio.run(_purge(_settings()))
    print(f"Purged {counts.get('closed', 0)} completed or closed and "
          f"{counts.get('untouched', 0)} untouched bookings.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.cli", description="Operator commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: List[tuple] = [
        ("generate-key", "print a new Fernet key for ENCRYPTION_KEYS", cmd_generate_key),
        ("rotate-keys", "re-encrypt every stored personal field under the newest key", cmd_rotate_keys),
        ("purge", "delete bookings past the retention periods in the profile", cmd_purge),
    ]
    for name, help_text, func in commands:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
    from bot.staff.admin import add_commands as add_staff_commands

    add_staff_commands(sub)  # create-user, reset-password, reset-totp, deactivate-user, unlock-user
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from bot import logs

    logs.configure("WARNING")
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())

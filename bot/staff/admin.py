"""Admin commands for staff accounts (registered in bot/cli.py):

    python -m bot.cli create-user [--role caseworker|lead] NAME
    python -m bot.cli reset-password NAME
    python -m bot.cli reset-totp NAME
    python -m bot.cli deactivate-user NAME
    python -m bot.cli unlock-user NAME

Passwords are read without echo (or one line from standard input when it is not a terminal). New
authenticator secrets are shown once, as a provisioning URI and a QR code in the terminal; they are
stored encrypted. Every change signs the account out everywhere and writes an audit row; unlock-user
(which forgets the account's failed sign-ins, from every address) only writes the audit row.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Optional

from bot.staff import passwords, store, totp


def _read_password(username: str, prompt_twice: bool = True) -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"New password for {username}: ")
        if prompt_twice and getpass.getpass("Again: ") != password:
            raise SystemExit("The two passwords differ; nothing changed.")
    try:
        passwords.check_policy(password, username)
    except passwords.PasswordRejected as exc:
        raise SystemExit(f"Password refused: {exc}")
    return password


def _show_totp(username: str, secret: str) -> None:
    uri = totp.provisioning_uri(secret, username)
    print("\nScan this QR code with the authenticator app on the staff member's work phone")
    print("(or type the secret in by hand). It is shown once only:\n")
    print(totp.terminal_qr(uri))
    print(f"Provisioning URI: {uri}")
    print(f"Secret:           {secret}\n")


async def _with_engine(fn, with_settings: bool = False):
    from bot.settings import load_settings
    from bot.storage import crypto
    from bot.storage.db import create_engine

    settings = load_settings()
    crypto.configure_from_settings(settings)
    engine = create_engine(settings.database_url)
    try:
        return await (fn(engine, settings) if with_settings else fn(engine))
    finally:
        await engine.dispose()


async def _require(engine, username: str) -> store.User:
    user = await store.find_user(engine, username)
    if user is None:
        raise SystemExit(f"No staff account called {store.normalise_username(username)!r}.")
    return user


def cmd_create_user(args: argparse.Namespace) -> int:
    username = store.normalise_username(args.username)
    password = _read_password(username)
    secret = totp.new_secret()

    async def run(engine):
        password_hash = await passwords.hash_password(password)
        try:
            return await store.create_user(engine, username, args.role, password_hash, secret)
        except store.UserError as exc:
            raise SystemExit(str(exc))

    user = asyncio.run(_with_engine(run))
    print(f"Created {user.role} account {user.username!r}.")
    _show_totp(user.username, secret)
    print("They sign in at /staff/ with the password and the 6-digit code from the app.")
    return 0


def cmd_reset_password(args: argparse.Namespace) -> int:
    username = store.normalise_username(args.username)

    async def run(engine):
        user = await _require(engine, username)
        password = _read_password(username)
        await store.set_password(engine, user.id, await passwords.hash_password(password), None)
        return user

    user = asyncio.run(_with_engine(run))
    print(f"Password changed for {user.username!r}; their sessions were signed out.")
    return 0


def cmd_reset_totp(args: argparse.Namespace) -> int:
    username = store.normalise_username(args.username)
    secret = totp.new_secret()

    async def run(engine):
        user = await _require(engine, username)
        await store.set_totp_secret(engine, user.id, secret, None)
        return user

    user = asyncio.run(_with_engine(run))
    print(f"New authenticator secret for {user.username!r}; their sessions were signed out.")
    _show_totp(user.username, secret)
    return 0


def cmd_deactivate_user(args: argparse.Namespace) -> int:
    username = store.normalise_username(args.username)

    async def run(engine):
        user = await _require(engine, username)
        await store.set_active(engine, user.id, False, None)
        return user

    user = asyncio.run(_with_engine(run))
    print(f"Deactivated {user.username!r} and signed them out everywhere.")
    return 0


def cmd_unlock_user(args: argparse.Namespace) -> int:
    username = store.normalise_username(args.username)

    async def run(engine, settings):
        user = await _require(engine, username)
        key = store.account_key(settings.session_secret.encode(), user.username)
        return user, await store.unlock_account(engine, user.id, key, None, store.utcnow())

    user, forgotten = asyncio.run(_with_engine(run, with_settings=True))
    print(f"Unlocked {user.username!r}: {forgotten} failed sign-ins forgotten, no back-off left.")
    return 0


def add_commands(sub) -> None:
    """Register the staff subcommands on bot.cli's subparsers."""
    p = sub.add_parser("create-user", help="create a staff account (prints the authenticator QR code)")
    p.add_argument("username")
    p.add_argument("--role", choices=store.ROLES, default="caseworker")
    p.set_defaults(func=cmd_create_user)
    for name, help_text, func in (
        ("reset-password", "set a new password for a staff account", cmd_reset_password),
        ("reset-totp", "issue a new authenticator secret for a staff account", cmd_reset_totp),
        ("deactivate-user", "deactivate a staff account and sign it out", cmd_deactivate_user),
        ("unlock-user", "forget a staff account's failed sign-ins (ends its back-off)", cmd_unlock_user),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("username")
        p.set_defaults(func=func)

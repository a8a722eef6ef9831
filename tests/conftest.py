"""Shared fixtures.

- `make_settings`: settings for an isolated var/ folder and SQLite file.
- `pg_url`: a fresh database on the machine's real PostgreSQL (127.0.0.1:5432), dropped afterwards.
- `stack`: the real Rasa server, action server and gateway, started once per test run from the model
  that `make test` trained once.
- `serve_in_background`: aiohttp apps on loopback ports, in an event loop of their own (fuzz suites).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Dict, Iterator, Sequence, Tuple

import pytest

from bot.settings import ROOT, load_settings
from bot.stack import Stack, free_port, write_endpoints
from bot.storage.migrate import upgrade

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
MODEL = Path(os.environ.get("TEST_MODEL") or ROOT / "models" / "current.tar.gz")
if not MODEL.is_absolute():
    MODEL = ROOT / MODEL


def base_env(tmp: Path) -> Dict[str, str]:
    profile = tmp / "profile.yml"
    if not profile.exists():
        shutil.copy(ROOT / "profiles" / "example.yml", profile)
    return {
        "SERVICE_MODE": "development",
        "VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'var' / 'app.db'}",
        "PROFILE_PATH": str(profile),
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
def make_settings(tmp_path):
    def make(**overrides):
        env = base_env(tmp_path)
        env.update({k: str(v) for k, v in overrides.items()})
        return load_settings(env, dotenv=False)

    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


def _psql(sql: str) -> None:
    import asyncpg

    async def run():
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_url():
    name = "dasupport_test_" + secrets.token_hex(4)
    try:
        _psql(f'CREATE DATABASE "{name}"')
    except OSError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); .ci/run starts it")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack(stack_dir):
    if not MODEL.exists():
        pytest.fail("No trained model at models/current.tar.gz: run `make test` (it trains once)")
    env = base_env(stack_dir)
    load_settings(env, dotenv=False)  # create the development keys once, before the processes start
    upgrade(env["DATABASE_URL"])
    action_port = free_port()
    s = Stack(
        port=free_port(), rasa_ports=[free_port()], action_port=action_port, model=str(MODEL),
        endpoints=str(write_endpoints(stack_dir / "endpoints.yml", action_port)),
        env=env, log_dir=stack_dir / "logs",
    )
    s.start()
    if s.wait_ready(timeout=300) is None:
        logs = "\n".join(
            f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in (stack_dir / "logs").glob("*.log")
        )
        s.stop()
        pytest.fail(f"The stack did not become ready. Logs:\n{logs}")
    yield s
    s.stop()


@contextlib.contextmanager
def serve_in_background(apps: Sequence[Tuple[object, int]]) -> Iterator[asyncio.AbstractEventLoop]:
    """Serve each (aiohttp app, port) on 127.0.0.1 from an event loop in a thread of its own, for
    tests that send real HTTP from synchronous code (Hypothesis). Yields the loop; everything is
    cleaned up on exit."""
    from aiohttp import web

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners = []

    async def start():
        for app, port in apps:
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)

    async def stop():
        for runner in reversed(runners):
            await runner.cleanup()

    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(300)
        yield loop
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

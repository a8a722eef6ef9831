"""The schema is created by Alembic on both SQLite and the real PostgreSQL, and matches the models."""
import asyncio

import pytest
from sqlalchemy import inspect

from bot.storage.db import create_engine, ping
from bot.storage.escalations import escalation_totals, record_escalation
from bot.storage.migrate import downgrade, upgrade
from bot.storage.models import metadata


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_url")


async def tables(url):
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


async def test_upgrade_creates_every_table_and_downgrade_removes_them(db_url):
    await asyncio.to_thread(upgrade, db_url)
    names = await tables(db_url)
    assert set(metadata.tables) <= names
    assert "alembic_version" in names
    await asyncio.to_thread(downgrade, db_url, "base")
    assert not (set(metadata.tables) & await tables(db_url))
    await asyncio.to_thread(upgrade, db_url)


async def test_escalations_are_counted_concurrently(db_url):
    await asyncio.to_thread(upgrade, db_url)
    engine = create_engine(db_url)
    await ping(engine)
    await asyncio.gather(*[record_escalation(engine, "web") for _ in range(10)],
                         *[record_escalation(engine, "sms") for _ in range(3)])
    totals = await escalation_totals(engine)
    await engine.dispose()
    assert sorted(totals.values()) == [3, 10]


async def test_sqlite_secure_delete_is_on(tmp_path):
    from sqlalchemy import text

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1
    await engine.dispose()

"""Async engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Deleted personal data is overwritten on disk, not just unlinked from the b-tree.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def private_sqlite_file(database: str) -> None:
    """The SQLite file readable by its owner only (0600), in a folder we create 0700. SQLite gives
    its journal and WAL files the database file's permissions."""
    path = Path(database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    # hide_parameters: error messages never carry bound values (personal data) into logs.
    options: Dict[str, Any] = {"future": True, "pool_pre_ping": True, "hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            private_sqlite_file(url.database)
    else:
        options.update(pool_size=5, max_overflow=5, pool_timeout=5)
    options.update(kwargs)
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> "sessionmaker[AsyncSession]":
    return sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, future=True)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def sync_url(database_url: str) -> str:
    """The synchronous driver URL for the same database (used by Alembic's offline tooling)."""
    url = make_url(database_url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg2"}.get(url.get_backend_name())
    return str(url.set(drivername=driver)) if driver else database_url

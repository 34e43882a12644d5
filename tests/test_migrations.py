"""Migrations and models agree, on SQLite and on the real PostgreSQL; every revision goes up and down."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import Database
from storage.models import Base

ROOT = Path(__file__).resolve().parent.parent
REVISIONS = [
    script.revision for script in reversed(list(ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()))
]


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(_differences)
        assert differences == []
        assert await migrate.current_revision(db) == migrate.head_revision()
    finally:
        await db.dispose()


def test_the_start_ups_schema_head_is_alembics_head() -> None:
    """A start skips Alembic for a database at SCHEMA_HEAD: a new revision must move it, or starts would not
    upgrade."""
    assert migrate.head_revision() == migrate.SCHEMA_HEAD


async def test_a_start_upgrades_a_database_behind_and_leaves_one_at_head_to_itself(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db, REVISIONS[-2])
        await migrate.upgrade_to_head(db)
        assert await migrate.current_revision(db) == migrate.SCHEMA_HEAD
        await migrate.upgrade_to_head(db)
        assert await migrate.current_revision(db) == migrate.SCHEMA_HEAD
    finally:
        await db.dispose()


def test_a_start_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/head.db"
    asyncio.run(_upgrade_and_dispose(url))
    probe = (
        "import asyncio, sys\n"
        "from storage import migrate\n"
        "from storage.db import Database\n"
        "async def start():\n"
        f"    db = Database({url!r})\n"
        "    await migrate.upgrade_to_head(db)\n"
        "    await db.dispose()\n"
        "asyncio.run(start())\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('alembic', 'mako')))\n"
    )
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert printed.stdout.strip() == "[]"


async def _upgrade_and_dispose(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


@pytest.mark.parametrize("revision", REVISIONS)
async def test_each_revision_upgrades_and_downgrades(database_url: str, revision: str) -> None:
    db = Database(database_url)
    try:
        script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision)
        previous = script.down_revision or "base"
        if previous != "base":
            await migrate.upgrade(db, str(previous))
        await migrate.upgrade(db, revision)
        assert await migrate.current_revision(db) == revision
        await migrate.downgrade(db, str(previous))
        assert await migrate.current_revision(db) == (None if previous == "base" else previous)
        await migrate.upgrade(db, revision)  # and up again: downgrade left nothing behind
    finally:
        await db.dispose()


async def test_sqlite_pragmas_are_on(tmp_path: object) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/p.db")
    try:
        async with db.engine.connect() as connection:
            values = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "secure_delete", "busy_timeout")
            }
        # SQLite's own busy handler is off: the driver waits for a lock without holding the event loop
        # (tests/test_sqlite_driver.py shows it waiting, and giving up after the same ten seconds).
        assert values == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "secure_delete": 1,
            "busy_timeout": 0,
        }

        def tables(connection: Connection) -> list[str]:
            return inspect(connection).get_table_names()

        await migrate.upgrade(db)
        async with db.engine.connect() as connection:
            assert "requests" in await connection.run_sync(tables)
    finally:
        await db.dispose()

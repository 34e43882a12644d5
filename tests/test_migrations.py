"""Migrations and models agree, on SQLite and on the real PostgreSQL; every revision goes up and down."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import Database
from storage.models import Base

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

"""Run Alembic from inside the application (``tropa migrate``, start-up, tests).

Alembic is imported only when it has work to do: its import and its reading of every revision file cost a
tenth of a second, at every start, for a database that is nearly always at the newest revision already.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection

import migrations
from storage.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(migrations.__file__).parent
# The newest revision in migrations/versions; tests/test_migrations.py holds it to Alembic's own head.
SCHEMA_HEAD = "0007"
VERSION_TABLE = table("alembic_version", column("version_num"))


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table(VERSION_TABLE.name):
            return None
        return connection.execute(select(VERSION_TABLE.c.version_num)).scalar_one_or_none()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


async def has_tables(db: Database) -> bool:
    def read(connection: Connection) -> bool:
        return bool(inspect(connection).get_table_names())

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


async def upgrade(db: Database, revision: str = "head") -> None:
    from alembic import command

    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def upgrade_to_head(db: Database) -> None:
    """What every start does: nothing for a database at SCHEMA_HEAD, Alembic's upgrade for any other."""
    if await current_revision(db) != SCHEMA_HEAD:
        await upgrade(db)


async def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))

"""Alembic environment. Runs on a connection handed over by storage/migrate.py, or on its own engine
when invoked as ``alembic`` from a shell (then the URL comes from ``-x url=...`` or TROPA_DATABASE_URL).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    from storage.db import create_engine

    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_configure_and_run)
        await connection.commit()
    await engine.dispose()


def _url_from_shell() -> str:
    from bot.settings import load_settings

    return context.get_x_argument(as_dictionary=True).get("url") or load_settings().resolved_database_url


if context.is_offline_mode():
    context.configure(url=_url_from_shell(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _configure_and_run(connection)
else:
    asyncio.run(_run_with_own_engine(_url_from_shell()))

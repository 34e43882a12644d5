"""Backups of a PostgreSQL database: ``pg_dump`` into one file, ``pg_restore`` back, with the same checks
as for SQLite (bot/backup.py): the dump must belong to this keyring and open with keys that still exist,
and no bot may be connected while it is put back.

The tools are PostgreSQL's own, found on PATH; the password travels in ``PGPASSWORD``, never on a
command line that ``ps`` shows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine.url import make_url

from storage.binding import KEY_CHECK
from storage.db import Database
from storage.keyring import KeyringError


class PostgresBackupError(KeyringError):
    """Refused; the message says why (one line)."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PostgresBackupError(
            f"{name} is not installed here: install PostgreSQL's client tools (Debian: postgresql-client) "
            "of the server's major version, or run this where they are"
        )
    return found


def connection_arguments(url: str) -> tuple[list[str], dict[str, str]]:
    """``--host/--port/--username/--dbname`` for the database of ``url``, and the environment with its
    password."""
    parsed = make_url(url)
    arguments = []
    for flag, value in (("--host", parsed.host), ("--port", parsed.port), ("--username", parsed.username)):
        if value:
            arguments += [flag, str(value)]
    arguments += ["--dbname", str(parsed.database)]
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    return arguments, env


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=3600)  # noqa: S603
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise PostgresBackupError(f"{what} failed: {first}")
    return done.stdout


def dump(url: str, target: Path) -> None:
    """A consistent snapshot of the whole database (pg_dump takes one while writers go on)."""
    arguments, env = connection_arguments(url)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", *arguments], env, "pg_dump")


def dumped_tables(dump_file: Path) -> dict[str, list[dict[str, str]]]:
    """The rows of ``meta`` and ``data_keys`` in a dump, read without restoring it (``pg_restore`` to text)."""
    env = dict(os.environ)
    listing = _run(
        [_tool("pg_restore"), "--data-only", "--table=meta", "--table=data_keys", "--file=-", str(dump_file)],
        env,
        f"reading {dump_file}",
    )
    tables: dict[str, list[dict[str, str]]] = {}
    columns: list[str] = []
    table: str | None = None
    for line in listing.splitlines():
        if line.startswith("COPY "):
            name, rest = line[len("COPY ") :].split(" ", 1)
            table = name.split(".")[-1]
            columns = [column.strip() for column in rest[rest.index("(") + 1 : rest.index(")")].split(",")]
            tables[table] = []
        elif line == "\\.":
            table = None
        elif table is not None:
            tables[table].append(dict(zip(columns, line.split("\t"), strict=False)))
    return tables


def key_check_and_wrapping_keys(dump_file: Path) -> tuple[str | None, set[str]]:
    tables = dumped_tables(dump_file)
    check = next((row["value"] for row in tables.get("meta", []) if row.get("key") == KEY_CHECK), None)
    return check, {row["kek_id"] for row in tables.get("data_keys", [])}


async def others_connected(url: str) -> int:
    """Sessions on this database other than ours: a running bot, a `tropa` command, psql."""
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        return int(count or 0)
    finally:
        await db.dispose()


async def put_back(url: str, dump_file: Path) -> None:
    """Replace every object of the database with the dump's, in one transaction (all or nothing)."""
    arguments, env = connection_arguments(url)
    command = [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        *arguments,
        str(dump_file),
    ]
    await asyncio.to_thread(_run, command, env, "pg_restore")

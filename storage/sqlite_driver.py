"""SQLite for the event loop: short statements run in place, waits and disk flushes in aiosqlite's thread.

SQLAlchemy's aiosqlite adapter sends every statement to aiosqlite's worker thread, in four trips: make a
cursor, execute, fetch the rows, close the cursor. Each trip queues a call, wakes the thread, and wakes the
event loop again through its self-pipe; on a busy machine every wake-up can wait for a time slice, and the
statements Tropa makes (a row by its key, one inserted or updated) take SQLite a few microseconds. Here:

- A statement runs in place, on the event loop's thread, cursor to last row in one call. The loop cannot
  wait inside SQLite: the connection's busy timeout is zero, so a write lock held by another process
  (a ``tropa`` command beside the bot) comes back at once as ``SQLITE_BUSY``, and the statement is tried
  again after an ``asyncio.sleep`` -- up to the same ten seconds SQLite's own busy handler would wait,
  with the loop serving everyone else meanwhile. A statement that failed with ``SQLITE_BUSY`` changed
  nothing, so trying it again is what SQLite's handler does too. (``SQLITE_BUSY_SNAPSHOT`` is not retried,
  by SQLite either: the transaction has to start again.)
- A commit runs in place too. In WAL mode with ``synchronous=NORMAL`` a commit appends its pages to the WAL in
  the page cache and waits for no disk; only a checkpoint does (it syncs the WAL and the database file). So
  SQLite's automatic checkpoint, which a commit would run inside itself, is off on these connections
  (``wal_autocheckpoint=0``, storage/db.py), and every ``CHECKPOINT_EVERY`` writing commits of a connection are
  followed by a passive checkpoint in the thread, as often as SQLite's own would come (about a thousand
  pages) and without the wait on the loop. A checkpoint can leave the WAL empty; the next writing commit then
  starts it again and syncs its new header, so that one commit (after ours, or after a shred's) goes to the
  thread too.
- What may touch the disk beyond the page cache goes to the thread, in one trip: ``PRAGMA``
  (``wal_checkpoint``, ``journal_mode``), a textual ``COMMIT`` and ``executemany`` (a key roll re-wraps every
  data key in one).
- Rolling back a connection that has no transaction open (the pool does it whenever a connection comes
  back, even after a commit) does nothing, without a trip.

Everything else -- the connection, the thread, the errors (sqlite3's own, as aiosqlite raises them) -- is
aiosqlite's, as SQLAlchemy sets it up. Used by ``storage.db.create_engine`` for every ``sqlite+aiosqlite``
URL; see docs/decisions/0014-cost-per-update.md.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite
import structlog
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

log = structlog.get_logger()
_Outcome = tuple[Any, int, int | None, list[Any]]  # description, rowcount, lastrowid, rows
SQLITE_BUSY = 5  # the primary result code; SQLITE_BUSY_SNAPSHOT and the other extended codes are not it
BUSY_WAIT_SECONDS = 10.0  # as long as the busy timeout the connections had when SQLite itself waited
# Writing commits between two checkpoints of a connection: an intake step writes about five pages, so about the
# thousand pages after which SQLite's own automatic checkpoint would run.
CHECKPOINT_EVERY = 200
_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"
_ANY_CHECKPOINT = "wal_checkpoint"
_FIRST_PAUSE, _LONGEST_PAUSE = 0.001, 0.05
_IN_THREAD = ("PRAGMA", "COMMIT", "VACUUM")


def _run(connection: Any, operation: str, parameters: Any, many: bool) -> _Outcome:
    """The whole life of one cursor, on an aiosqlite connection (in place, or in its thread)."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _busy(error: BaseException) -> bool:
    return isinstance(error, sqlite3.OperationalError) and getattr(error, "sqlite_errorcode", None) == SQLITE_BUSY


def in_thread(operation: str, many: bool) -> bool:
    return many or operation.lstrip()[:6].upper().startswith(_IN_THREAD)


class InPlaceCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No aiosqlite cursor: each statement makes and closes its own sqlite3 cursor.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # the sqlite3 cursor is closed already

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        try:
            await_(self._statement(operation, parameters, many=False))
        except Exception as error:  # noqa: BLE001 - translated and raised again, as SQLAlchemy does
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        try:
            await_(self._statement(operation, seq_of_parameters, many=True))
        except Exception as error:  # noqa: BLE001 - translated and raised again, as SQLAlchemy does
            self._adapt_connection._handle_exception(error)

    async def _statement(self, operation: str, parameters: Any, *, many: bool) -> None:
        if in_thread(operation, many):
            outcome = await _while_busy(lambda: _in_thread(self._adapt_connection, operation, parameters, many))
        else:
            outcome = await _while_busy(lambda: _in_place(self._connection, operation, parameters, many))
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


async def _in_thread(adapted: AsyncAdapt_dbapi_connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    async with adapted._execute_mutex:
        outcome: _Outcome = await adapted._connection._execute(_run, adapted._connection, operation, parameters, many)
    if _ANY_CHECKPOINT in operation:  # the driver's own PASSIVE, a shred's TRUNCATE: the WAL may be empty now
        adapted.dbapi.wal.restarting = True
    return outcome


async def _in_place(connection: Any, operation: str, parameters: Any, many: bool) -> _Outcome:
    return _run(connection, operation, parameters, many)


async def _commit_in_place(connection: sqlite3.Connection) -> None:
    connection.commit()


async def _commit_in_thread(adapted: AsyncAdapt_dbapi_connection) -> None:
    async with adapted._execute_mutex:
        await adapted._connection._execute(adapted._connection._conn.commit)


@dataclass
class WalState:
    # A checkpoint may have emptied the WAL (and the last connection of a process removes it): the next writing
    # commit, whichever connection makes it, starts the WAL again and syncs its new header, waiting for the disk.
    restarting: bool = True


Result = TypeVar("Result")


async def _while_busy(attempt: Callable[[], Awaitable[Result]]) -> Result:
    """``attempt()``, tried again while another process holds the write lock, for up to ``BUSY_WAIT_SECONDS``."""
    pause, deadline = _FIRST_PAUSE, time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as error:
            if not _busy(error) or time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


class InPlaceConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_commits",)
    _cursor_cls = InPlaceCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._commits = 0  # writing commits since this connection's last checkpoint

    def commit(self) -> None:
        try:
            await_(self._commit())
        except Exception as error:  # noqa: BLE001 - translated and raised again, as SQLAlchemy does
            self._handle_exception(error)

    async def _commit(self) -> None:
        connection = self._connection._conn
        wrote = connection.in_transaction  # sqlite3 opens a transaction at the first write, not at a read
        wal: WalState = self.dbapi.wal
        if wrote and wal.restarting:
            # The first commit after a checkpoint emptied the WAL starts it again and syncs its new header.
            wal.restarting = False
            await _while_busy(lambda: _commit_in_thread(self))
        else:
            await _while_busy(lambda: _commit_in_place(connection))
        if not wrote:
            return
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY:
            self._commits = 0
            # PASSIVE: copies what no reader still needs and never waits for one; the rest goes next time.
            try:
                await _in_thread(self, _CHECKPOINT, None, False)
            except sqlite3.Error as error:  # the commit stands: the next round checkpoints what this one could not
                log.warning("sqlite.checkpoint_failed", error=type(error).__name__)

    def rollback(self) -> None:
        connection = self._connection._connection
        if connection is not None and not connection.in_transaction:
            return  # nothing to roll back: no trip to the thread
        super().rollback()


class InPlaceDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (``create_async_engine(module=...)``), one per
    engine: ``wal`` is the state of that database's WAL, which all its connections share."""

    def __init__(self, aiosqlite: Any, sqlite: Any) -> None:
        super().__init__(aiosqlite, sqlite)
        self.wal = WalState()

    def connect(self, *arg: Any, **kw: Any) -> InPlaceConnection:
        kw["check_same_thread"] = False  # the event loop's thread and aiosqlite's take turns, never at once
        kw["timeout"] = 0  # SQLite never waits for a lock: InPlaceCursor does, without holding the loop
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy does: a forgotten connection never holds up the exit
        return InPlaceConnection(self, await_(connection))


def dbapi() -> InPlaceDBAPI:
    return InPlaceDBAPI(aiosqlite, sqlite3)

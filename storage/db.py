"""Async engine, sessions and the one way to open a transaction.

Every change happens inside ``Database.transaction()``. Within one update the session middleware opens
that transaction and publishes it in ``current_session``, so the FSM storage, the repositories and the
outbox all write in it and commit together (or not at all); see
docs/decisions/0005-one-transaction-per-update.md.

SQLite allows one writer at a time. Waiting for its lock inside SQLite means a polling busy handler with
growing sleeps; an asyncio lock in front of every transaction queues writers fairly instead and never
hits ``database is locked``. PostgreSQL needs no gate. A lock held by another process (a ``tropa`` command)
is waited for by the driver, with the event loop free meanwhile (storage/sqlite_driver.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage import sqlite_driver

current_session: ContextVar[AsyncSession | None] = ContextVar("tropa_current_session", default=None)
_AFTER_COMMIT = "tropa.after_commit"
_BEFORE_COMMIT = "tropa.before_commit"
_SHREDDED = "tropa.shredded"


def before_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` inside ``session``'s transaction once its work is done, just before it commits."""
    session.info.setdefault(_BEFORE_COMMIT, []).append(callback)


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` once ``session``'s transaction has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def mark_shredded(session: AsyncSession) -> None:
    """This transaction shreds something: once it commits, the database runs its after-shred work
    (``Database.after_shred``; on SQLite, first a WAL checkpoint that leaves no copy of the shredded pages
    in the WAL)."""
    session.info[_SHREDDED] = True


SQLITE_BUSY_TIMEOUT_MS = 10_000
# What runs after a commit is durable already (outbox rows, the FSM journal): one that hangs is given up
# after this long, so it cannot hold the person's lock, and everyone waiting behind it, indefinitely.
AFTER_COMMIT_TIMEOUT = 15.0

log = structlog.get_logger()


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # Tropa's own driver waits for a lock outside SQLite, without holding the event loop (storage/sqlite_driver.py).
    in_place = isinstance(dbapi_connection, sqlite_driver.InPlaceConnection)
    busy_timeout = 0 if in_place else SQLITE_BUSY_TIMEOUT_MS
    # Tropa's driver commits on the event loop and checkpoints in its thread itself: no commit may run one.
    autocheckpoint = 0 if in_place else 1000
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        # Deleted rows are overwritten with zeros, so shredded ciphertext and removed FSM data do
        # not linger in free pages of the file.
        "PRAGMA secure_delete=ON",
        f"PRAGMA busy_timeout={busy_timeout}",
        f"PRAGMA wal_autocheckpoint={autocheckpoint}",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if make_url(url).drivername == "sqlite+aiosqlite":
        kwargs.setdefault("module", sqlite_driver.dbapi())  # short statements in place, waits in the thread
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class NestedTransactionError(RuntimeError):
    """A transaction was opened inside another one in the same task: a bug, and a deadlock on SQLite."""


class Database:
    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._gate: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        # Run after every transaction that shredded something commits (the key roll's kick, storage/epochs.py).
        self.after_shred: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def sync_engine(self) -> Engine:
        return self.engine.sync_engine

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Open a session in a transaction; commit on success, roll back on any exception."""
        if current_session.get() is not None:
            raise NestedTransactionError("a transaction is already open in this task; use current_session")
        async with self._gated():
            session = self.sessions()
            token = current_session.set(session)
            try:
                async with session.begin():
                    yield session
                    for prepare in session.info.pop(_BEFORE_COMMIT, []):
                        await prepare()
            finally:
                current_session.reset(token)
                callbacks = session.info.pop(_AFTER_COMMIT, [])
                shredded = session.info.pop(_SHREDDED, False)
                # What the transaction kept for itself (FSM records it opened, data keys it unwrapped) goes with it,
                # also when something still holds the session (an exception's traceback).
                session.info.clear()
                # Closed here, not by ``async with session``, which runs the close in a task of its own (a
                # cancellation must not cut it short) and so costs every transaction two more turns of the loop.
                # Once ``session.begin()`` has exited, the commit or the rollback is over and the connection is back
                # in the pool, also when a cancellation cut it short: closing only lets go of the objects the
                # session loaded, and waits for nothing.
                await session.close()
            if shredded:
                callbacks.insert(0, self._shredded)
        for callback in callbacks:
            try:
                async with asyncio.timeout(AFTER_COMMIT_TIMEOUT):  # a timer, not a task per callback as wait_for makes
                    await callback()
            except TimeoutError:
                log.warning("after_commit.timeout", callback=getattr(callback, "__qualname__", "?"))

    async def _shredded(self) -> None:
        if self.is_sqlite:
            await self.checkpoint_wal()
        for hook in self.after_shred:
            hook()

    async def checkpoint_wal(self, attempts: int = 40) -> bool:
        """SQLite: copy the WAL into the database file and truncate it to nothing, so no page a shred changed
        survives in the WAL (``secure_delete`` has already zeroed it in the new page). A reader elsewhere
        (another process) can hold the WAL for a moment: try again, then log and leave it to the next one."""
        async with self._gated():
            for _ in range(attempts):
                async with self.engine.connect() as connection:
                    # (busy, frames in the WAL, frames copied): busy means a reader kept it from finishing.
                    busy = (await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")).one()[0]
                if not busy:
                    return True
                await asyncio.sleep(0.05)
        log.warning("sqlite.checkpoint_busy", attempts=attempts)
        return False

    @contextlib.asynccontextmanager
    async def session_or_transaction(self) -> AsyncIterator[AsyncSession]:
        """The open transaction of this task if there is one, else a new one of its own."""
        session = current_session.get()
        if session is not None:
            yield session
            return
        async with self.transaction() as own:
            yield own

    @contextlib.asynccontextmanager
    async def _gated(self) -> AsyncIterator[None]:
        if self._gate is None:
            yield
            return
        async with self._gate:
            yield

    async def dispose(self) -> None:
        await self.engine.dispose()


Item = TypeVar("Item")


class Batched(Generic[Item]):
    """Clean-up that may wait a moment (rows whose purpose is served), gathered and done in one transaction
    a fraction of a second later, instead of one transaction each.

    Only for work that is safe to lose with the process: what it removes must be harmless to find again.
    """

    def __init__(
        self,
        db: Database,
        work: Callable[[AsyncSession, list[Item]], Awaitable[None]],
        name: str,
        delay: float = 0.2,
    ) -> None:
        self.db = db
        self.work = work
        self.name = name
        self.delay = delay
        self._items: list[Item] = []
        self._timer: asyncio.Task[None] | None = None
        self._now = asyncio.Event()  # set on close: no more waiting

    def add(self, item: Item) -> None:
        self._items.append(item)
        if self._timer is None or self._timer.done():
            # A context of its own: never inside the transaction of the update that added the item.
            self._timer = asyncio.create_task(self._after_delay(), context=contextvars.Context())

    async def _after_delay(self) -> None:
        while self._items:  # including those added while the previous round's transaction ran
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._now.wait(), self.delay)
            await self.flush()

    async def flush(self) -> None:
        items, self._items = self._items, []
        if not items:
            return
        try:
            async with self.db.transaction() as session:
                await self.work(session, items)
        except Exception:
            log.exception("batched.failed", work=self.name, count=len(items))

    async def close(self) -> None:
        """Do what is gathered before the process goes."""
        self._now.set()
        if self._timer is not None:
            await self._timer
        await self.flush()

"""Benchmark: what SQLAlchemy itself costs for one intake press's transaction, against plain SQLite.

An intake press makes five statements in one transaction: claim the update id, read the FSM record, look for a
block, write the FSM record, queue the outbox row (bench/intake_profile.py counts them). This script runs that
transaction ``--runs`` x ``--transactions`` times, one after another on one SQLite file in WAL mode, four ways:

- ``sqlite3``: the standard library's driver on the calling thread: SQLite's own work;
- ``aiosqlite``: plain SQL through aiosqlite's worker thread, as (c) of bench/dispatch_bench.py does it;
- ``sqlalchemy_connection``: statements built once from Tropa's tables, executed on an ``AsyncConnection``
  over Tropa's driver (storage/sqlite_driver.py: in place, no thread);
- ``sqlalchemy_session``: the same statements through an ``AsyncSession``, as Tropa's repositories run them.

It prints milliseconds per transaction (median of the runs) and the differences: what the thread hops cost
(c), and what SQLAlchemy adds at best. Tropa's updates cost more than this floor where they build statements
per call, load ORM objects or let the unit of work flush (bench/intake_profile.py, decision 0014).

    .venv/bin/python bench/sql_floor.py [--transactions 3000] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bench.same_work import BLOCKED_SQL, CLAIM_SQL, QUEUE_SQL, READ_FSM_SQL, WRITE_FSM_SQL
from storage import migrate
from storage.db import Database
from storage.models import BlockedRequester, FsmRecord, OutboxMessage, ProcessedUpdate

KEYS = 100  # FSM records the transactions take turns on
PAYLOAD = os.urandom(1000)  # a sealed outbox payload is about a kilobyte
FSM_DATA = os.urandom(400)

fsm = cast(Table, FsmRecord.__table__)
processed = cast(Table, ProcessedUpdate.__table__)
blocked = cast(Table, BlockedRequester.__table__)
outbox = cast(Table, OutboxMessage.__table__)
CLAIM = sqlite_dialect.insert(processed).on_conflict_do_nothing().returning(processed.c.update_id)
READ = select(fsm.c.key, fsm.c.state, fsm.c.data, fsm.c.updated_at).where(fsm.c.key == bindparam("k"))
BLOCKED = select(blocked).where(blocked.c.requester_index == bindparam("i"))
WRITE = (
    update(fsm)
    .where(fsm.c.key == bindparam("k"))
    .values(state=bindparam("st"), data=bindparam("dt"), updated_at=bindparam("u"))
)
QUEUE = outbox.insert()


def _outbox_row(row_id: str, now: Any) -> dict[str, Any]:
    return {
        "id": row_id,
        "request_id": None,
        "recipient": "requester",
        "volunteer_id": None,
        "purpose": "effect",
        "lane": "lane",
        "album": None,
        "payload": PAYLOAD,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "locked_until": None,
        "failed_reason": None,
    }


class Floor:
    def __init__(self, path: Path, transactions: int) -> None:
        self.path = path
        self.transactions = transactions
        self.db = Database(f"sqlite+aiosqlite:///{path}")
        self.now = datetime.now(UTC)
        self.next_id = 0

    async def prepare(self) -> None:
        await migrate.upgrade(self.db)
        async with self.db.engine.begin() as connection:
            rows = [{"key": f"k{i}", "state": "s", "data": FSM_DATA, "updated_at": self.now} for i in range(KEYS)]
            await connection.execute(fsm.insert(), rows)

    def _ids(self) -> range:
        start = self.next_id
        self.next_id += self.transactions
        return range(start, self.next_id)

    async def with_sqlite3(self) -> float:
        connection = sqlite3.connect(self.path, isolation_level=None)
        connection.execute("PRAGMA synchronous=NORMAL")
        stamp = self.now.isoformat()
        started = time.perf_counter()
        for n in self._ids():
            connection.execute("BEGIN")
            connection.execute(CLAIM_SQL, (n, stamp)).fetchall()
            connection.execute(READ_FSM_SQL, (f"k{n % KEYS}",)).fetchall()
            connection.execute(BLOCKED_SQL, (f"i{n}",)).fetchall()
            connection.execute(WRITE_FSM_SQL, ("s2", FSM_DATA, stamp, f"k{n % KEYS}"))
            connection.execute(QUEUE_SQL, tuple(_outbox_row(f"s{n}", stamp).values()))
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
        return elapsed

    async def with_aiosqlite(self) -> float:
        connection = await aiosqlite.connect(self.path, isolation_level=None)
        await connection.execute("PRAGMA synchronous=NORMAL")
        stamp = self.now.isoformat()
        started = time.perf_counter()
        for n in self._ids():
            await connection.execute("BEGIN")
            await connection.execute_fetchall(CLAIM_SQL, (n, stamp))
            await connection.execute_fetchall(READ_FSM_SQL, (f"k{n % KEYS}",))
            await connection.execute_fetchall(BLOCKED_SQL, (f"i{n}",))
            await connection.execute(WRITE_FSM_SQL, ("s2", FSM_DATA, stamp, f"k{n % KEYS}"))
            await connection.execute(QUEUE_SQL, tuple(_outbox_row(f"a{n}", stamp).values()))
            await connection.commit()
        elapsed = time.perf_counter() - started
        await connection.close()
        return elapsed

    async def _press(self, executor: AsyncConnection | AsyncSession, n: int, tag: str) -> None:
        (await executor.execute(CLAIM, {"update_id": n, "handled_at": self.now})).first()
        (await executor.execute(READ, {"k": f"k{n % KEYS}"})).first()
        (await executor.execute(BLOCKED, {"i": f"i{n}"})).first()
        await executor.execute(WRITE, {"k": f"k{n % KEYS}", "st": "s2", "dt": FSM_DATA, "u": self.now})
        await executor.execute(QUEUE, _outbox_row(f"{tag}{n}", self.now))

    async def with_connection(self) -> float:
        started = time.perf_counter()
        for n in self._ids():
            async with self.db.engine.begin() as connection:
                await self._press(connection, n, "c")
        return time.perf_counter() - started

    async def with_session(self) -> float:
        started = time.perf_counter()
        for n in self._ids():
            async with AsyncSession(self.db.engine) as session, session.begin():
                await self._press(session, n, "o")
        return time.perf_counter() - started


async def measure(transactions: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        floor = Floor(Path(directory) / "floor.db", transactions)
        await floor.prepare()
        ways: dict[str, Callable[[], Awaitable[float]]] = {
            "sqlite3": floor.with_sqlite3,
            "aiosqlite": floor.with_aiosqlite,
            "sqlalchemy_connection": floor.with_connection,
            "sqlalchemy_session": floor.with_session,
        }
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(runs):  # interleaved, so a slower moment of the machine falls on every way alike
            for name, way in ways.items():
                seconds[name].append(await way())
        await floor.db.dispose()
    ms = {name: round(statistics.median(values) / transactions * 1000, 3) for name, values in seconds.items()}
    return {
        "transactions": transactions,
        "runs": runs,
        "ms_per_transaction": ms,
        "thread_hops_ms": round(ms["aiosqlite"] - ms["sqlite3"], 3),
        "sqlalchemy_over_sqlite3_ms": round(ms["sqlalchemy_session"] - ms["sqlite3"], 3),
        "sqlalchemy_session_over_aiosqlite_ms": round(ms["sqlalchemy_session"] - ms["aiosqlite"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = asyncio.run(measure(args.transactions, args.runs))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"One intake press's transaction (5 statements, BEGIN, COMMIT), median of {args.runs} x {args.transactions}:")
    for name, value in result["ms_per_transaction"].items():
        print(f"  {name:<24} {value:.3f} ms")
    print(f"  aiosqlite's thread hops:           {result['thread_hops_ms']:+.3f} ms")
    print(f"  SQLAlchemy session over sqlite3:   {result['sqlalchemy_over_sqlite3_ms']:+.3f} ms")
    print(f"  SQLAlchemy session over aiosqlite: {result['sqlalchemy_session_over_aiosqlite_ms']:+.3f} ms")


if __name__ == "__main__":
    main()

"""Benchmark: what a key roll costs with many live requests (docs/decisions/0009-key-epochs.md).

Creates a fresh database (SQLite in a temporary directory, or ``--database-url``) with ``--requests``
live requests (default 10,000) made through ``RequestRepository.create`` (each with its own data key) and
``--intakes`` unfinished intakes in the FSM table, then times, median of ``--runs`` runs:

- ``rotate``: one key roll: a new key-encryption key in the keyring file, every data key re-wrapped in one
  transaction, the old key removed from the file (what ``tropa keys rotate`` does);
- ``start`` + ``finish``: the roll a shred makes due: a new ephemeral key with a key roll, then (after the
  grace period, skipped here by moving the clock) every FSM record re-sealed, the previous ephemeral key
  deleted and a second key roll;
- ``shred``: one ``/forget``-sized shred (the request's rows, the ledger entry, on SQLite the WAL
  checkpoint), for scale.

It also prints the keyring file's size and the rows re-wrapped per second.

    .venv/bin/python bench/epoch_bench.py [--json] [--requests 10000] [--intakes 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram.fsm.storage.base import StorageKey

from bot.log import configure_logging
from bot.runtime import open_runtime
from bot.settings import Settings
from storage import clock
from storage.epochs import ROLL_GRACE, KeyEpochs, note_shred
from storage.fsm import DatabaseStorage, EncryptedStorage
from storage.requests import RequestRepository
from storage.vault import EphemeralKeys

BATCH = 500


async def populate(settings: Settings, requests: int, intakes: int) -> list[str]:
    runtime = await open_runtime(settings, create_if_fresh=True, say=lambda _line: None)
    ids: list[str] = []
    try:
        for start in range(0, requests, BATCH):
            async with runtime.db.transaction() as session:
                repo = RequestRepository(session, runtime.vault)
                for user in range(start, min(start + BATCH, requests)):
                    record = await repo.create(
                        user_id=10_000_000 + user,
                        chat_id=10_000_000 + user,
                        answers={"who": "self", "urgency": "48h", "description": "x" * 200},
                        urgency="week",
                        language="ru",
                    )
                    ids.append(record.id)
        storage = EncryptedStorage(
            DatabaseStorage(runtime.db), EphemeralKeys(runtime.db, runtime.vault), runtime.keyring.blind
        )
        for person in range(intakes):
            async with runtime.db.transaction():
                key = StorageKey(bot_id=1, chat_id=20_000_000 + person, user_id=20_000_000 + person)
                await storage.set_state(key, "Intake:status")
                await storage.set_data(key, {"answers": {"who": "self"}, "tracked": [1, 2, 3], "chat": 1})
    finally:
        await runtime.close()
    return ids


async def measure(settings: Settings, ids: list[str], runs: int) -> dict[str, Any]:
    runtime = await open_runtime(settings, create_if_fresh=False, say=lambda _line: None)
    epochs = KeyEpochs(runtime.db, runtime.vault, timedelta(0))
    timings: dict[str, list[float]] = {"rotate": [], "start": [], "finish": [], "shred": []}
    rewrapped = 0
    try:
        for run in range(runs):
            began = time.perf_counter()
            _key, rewrapped, _destroyed = await epochs.rotate()
            timings["rotate"].append(time.perf_counter() - began)

            began = time.perf_counter()
            async with runtime.db.transaction() as session:
                await RequestRepository(session, runtime.vault).shred(ids[run])
                await note_shred(session, runtime.vault)
            timings["shred"].append(time.perf_counter() - began)

            began = time.perf_counter()
            assert await epochs.start()
            timings["start"].append(time.perf_counter() - began)
            clock.travel(ROLL_GRACE + timedelta(seconds=1))
            began = time.perf_counter()
            assert await epochs.finish()
            timings["finish"].append(time.perf_counter() - began)
    finally:
        await runtime.close()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    return {
        "seconds": medians,
        "rewrapped_per_roll": rewrapped,
        "rewraps_per_second": rewrapped / medians["rotate"] if medians["rotate"] else None,
        "keyring_bytes": settings.resolved_key_file.stat().st_size,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--intakes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING", "console", sys.stderr)  # the report alone on stdout
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            key_file=data_dir / "keyring.json",
            unsafe_unlocked_keyring=True,  # a throwaway keyring for the measurement
            database_url=args.database_url or f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
        )
        began = time.perf_counter()
        ids = await populate(settings, args.requests, args.intakes)
        populated = time.perf_counter() - began
        result = await measure(settings, ids, args.runs)
    result.update(
        requests=args.requests,
        intakes=args.intakes,
        runs=args.runs,
        populate_seconds=populated,
        database="postgresql" if args.database_url else "sqlite",
    )
    if args.json:
        print(json.dumps(result, indent=1))
        return
    seconds = result["seconds"]
    print(
        f"{args.requests:,} live requests, {args.intakes} unfinished intakes, {result['database']}, "
        f"median of {args.runs}"
    )
    print(
        f"  key roll (tropa keys rotate): {seconds['rotate']:.2f} s, {result['rewrapped_per_roll']:,} data keys "
        f"re-wrapped ({result['rewraps_per_second']:,.0f}/s)"
    )
    print(
        f"  shred-made roll: start {seconds['start']:.2f} s + finish {seconds['finish']:.2f} s "
        f"(+ the {ROLL_GRACE.total_seconds():.0f} s grace period between them)"
    )
    print(f"  one shred: {seconds['shred'] * 1000:.1f} ms; keyring file {result['keyring_bytes']:,} bytes")


if __name__ == "__main__":
    asyncio.run(main())

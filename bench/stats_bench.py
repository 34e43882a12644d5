"""Benchmark: /stats costs the same with 1,000 or 100,000 requests in the database.

Creates a fresh database in a temporary directory (or uses ``--database-url``), bulk-inserts 1,000 and
then 100,000 requests' worth of rows — rows in ``requests`` (plaintext columns and random bytes where the
ciphertext would be: statistics never decrypt) and the ``stat_counters`` those requests would have
produced over a year (``--weeks``) — and times ``services.stats.compute_summary`` at each size, for all
time and for the last 12 weeks: the median and the fastest of ``--runs`` runs. The ratio 100k/1k must stay
at or below 1.5: the exit status is 1 when it does not. The verdict uses the fastest runs, because on a
shared machine a burst of other work can slow a whole block of runs of one size (noise only ever adds
time); the medians are printed next to them.

The cost follows the number of counter rows, which is bounded by weeks × buckets (about 60 per week)
and not by requests: 1,000 requests leave a few buckets of some weeks empty, 100,000 fill them all, and
that difference in rows is the only difference between the two sizes.

    .venv/bin/python bench/stats_bench.py [--json] [--runs 20] [--weeks 52] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from services import metrics
from services.intake import submission_counters
from services.questionnaire import MULTI_SELECT, OPTIONS, STAT_DIMENSIONS
from services.queue import OUTCOMES
from services.stats import Period, compute_summary
from storage import clock
from storage.clock import iso_week
from storage.counters import Counters
from storage.models import Request, StatCounter
from storage.requests import urgency_rank

SIZES = (1_000, 100_000)
PERIODS = (Period.ALL, Period.TWELVE_WEEKS)
MAX_RATIO = 1.5
CHUNK = 5_000
Timing = dict[str, float]


Bump = tuple[str, str, str, int]  # (week, metric, bucket, by)


def fake_request(number: int, rng: random.Random, now: datetime, weeks: int) -> tuple[dict[str, Any], list[Bump]]:
    """One request row and the counter increments its life would have made: (week, metric, bucket)."""
    created = now - timedelta(minutes=rng.randrange(weeks * 7 * 24 * 60))
    answers: dict[str, Any] = {}
    for step in STAT_DIMENSIONS:
        options = OPTIONS[step]
        answers[step] = rng.sample(options, rng.randint(1, 2)) if step in MULTI_SELECT else rng.choice(options)
    language = rng.choice(("ru", "ru", "uk", "en"))
    week = iso_week(created)
    bumps: list[Bump] = [(week, metric, bucket, 1) for metric, bucket in submission_counters(answers, language)]
    status, claimed_at, closed_at, outcome = "new", None, None, None
    if rng.random() < 0.85:
        claimed_at = created + timedelta(minutes=rng.expovariate(1 / 180))
        status = "claimed"
        bumps += [
            (iso_week(claimed_at), metrics.CLAIMED, metrics.ALL, 1),
            (iso_week(claimed_at), metrics.TIME_TO_CLAIM, metrics.duration_bucket(claimed_at - created), 1),
        ]
        if rng.random() < 0.8:
            closed_at = claimed_at + timedelta(minutes=rng.expovariate(1 / 4000))
            status, outcome = "closed", rng.choice(OUTCOMES)
            bumps += [
                (iso_week(closed_at), metrics.CLOSED, outcome, 1),
                (iso_week(closed_at), metrics.TIME_TO_CLOSE, metrics.duration_bucket(closed_at - created), 1),
            ]
    if status != "closed":
        bumps.append((metrics.GAUGE_WEEK, metrics.BACKLOG, str(answers["urgency"]), 1))
    row = {
        "id": f"{number:032x}",
        "code": f"B-{number:08d}",
        "requester_index": f"{number:064x}",
        "status": status,
        "urgency": answers["urgency"],
        "urgency_rank": urgency_rank(answers["urgency"]),
        "language": language,
        "created_at": created,
        "updated_at": closed_at or claimed_at or created,
        "claimed_at": claimed_at,
        "closed_at": closed_at,
        "last_activity_at": closed_at or claimed_at or created,
        "escalated_at": None,
        "assignee_id": None,
        "outcome": outcome,
        "flagged": False,
        "requester_blocked": False,
        "answers": rng.randbytes(240),  # where the sealed answers would be
        "chat_id": rng.randbytes(40),
    }
    return row, bumps


async def grow(runtime: Runtime, start: int, stop: int, weeks: int) -> None:
    """Add requests ``start..stop-1``, and add what they counted to the counters as the bot does: by
    upserting increments into the existing rows (one statement per chunk instead of one per event)."""
    rng = random.Random(start)
    now = clock.now()
    upsert = (pg_insert if runtime.db.engine.dialect.name == "postgresql" else sqlite_insert)(StatCounter)
    upsert = upsert.on_conflict_do_update(
        index_elements=[StatCounter.week, StatCounter.metric, StatCounter.bucket],
        set_={"count": StatCounter.count + upsert.excluded.count},
    )
    for chunk_start in range(start, stop, CHUNK):
        rows = []
        counts: Counter[tuple[str, str, str]] = Counter()
        for number in range(chunk_start, min(chunk_start + CHUNK, stop)):
            row, bumps = fake_request(number, rng, now, weeks)
            rows.append(row)
            for week, metric, bucket, by in bumps:
                counts[week, metric, bucket] += by
        async with runtime.db.transaction() as session:
            await session.execute(insert(Request), rows)
            await session.execute(
                upsert, [{"week": w, "metric": m, "bucket": b, "count": n} for (w, m, b), n in counts.items()]
            )


async def tidy(runtime: Runtime) -> None:
    """What autovacuum does on a live PostgreSQL: the upserts above left dead counter row versions."""
    if runtime.db.is_sqlite:
        return
    async with runtime.db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE stat_counters"))


async def time_summary(runtime: Runtime, runs: int, period: Period) -> Timing:
    timings = []
    for _ in range(runs):
        gc.collect()
        gc.disable()  # a collection in the middle of one run is noise, not the cost of statistics
        try:
            started = time.perf_counter()
            async with runtime.db.transaction() as session:
                await compute_summary(Counters(session), period, min_cell=5)
            timings.append(time.perf_counter() - started)
        finally:
            gc.enable()
    return {"median_seconds": statistics.median(timings), "fastest_seconds": min(timings)}


async def bench(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    # Everything named here, so nothing comes from TROPA_* variables of the shell running the bench.
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        key_file=data_dir / "keyring.json",
        keyring=None,
        unsafe_unlocked_keyring=True,  # a throwaway keyring for the measurement
        database_url=args.database_url or f"sqlite+aiosqlite:///{data_dir / 'bench.db'}",
    )
    runtime = await open_runtime(settings, create_if_fresh=True, say=lambda _line: None)
    results: dict[str, Any] = {"runs": args.runs, "weeks": args.weeks, "sizes": {}}
    try:
        inserted = 0
        for size in SIZES:
            await grow(runtime, inserted, size, args.weeks)
            await tidy(runtime)
            inserted = size
            async with runtime.db.transaction() as session:
                requests = await session.scalar(select(func.count()).select_from(Request))
                counter_rows = await session.scalar(select(func.count()).select_from(StatCounter))
            await time_summary(runtime, 3, Period.ALL)  # warm up caches and the connection pool
            results["sizes"][str(size)] = {
                "requests": requests,
                "counter_rows": counter_rows,
                **{period.value: await time_summary(runtime, args.runs, period) for period in PERIODS},
            }
    finally:
        await runtime.close()
    small, large = (results["sizes"][str(size)] for size in SIZES)
    results["ratios"] = {
        period.value: {
            kind: large[period.value][kind] / small[period.value][kind]
            for kind in ("median_seconds", "fastest_seconds")
        }
        for period in PERIODS
    }
    results["ok"] = all(ratio["fastest_seconds"] <= MAX_RATIO for ratio in results["ratios"].values())
    results["quiet_machine"] = all(ratio["median_seconds"] <= MAX_RATIO for ratio in results["ratios"].values())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per size and period")
    parser.add_argument("--weeks", type=int, default=52, help="how many weeks the requests are spread over")
    parser.add_argument("--database-url", default=None, help="an empty database to use instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tropa-bench-") as directory:
        results = asyncio.run(bench(args, Path(directory) / "data"))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for size, numbers in results["sizes"].items():
            times = ", ".join(
                f"{period.value} {numbers[period.value]['median_seconds'] * 1000:.1f} ms "
                f"(fastest {numbers[period.value]['fastest_seconds'] * 1000:.1f})"
                for period in PERIODS
            )
            print(f"{int(size):>7,} requests, {numbers['counter_rows']:,} counter rows: {times}")
        ratios = ", ".join(
            f"{period}: {ratio['fastest_seconds']:.2f} fastest, {ratio['median_seconds']:.2f} median"
            for period, ratio in results["ratios"].items()
        )
        print(f"ratio 100k/1k ({ratios}); must stay ≤ {MAX_RATIO}: {'ok' if results['ok'] else 'TOO SLOW'}")
        if not results["quiet_machine"]:
            print("note: the medians differ more than the fastest runs: other work on this machine slowed some runs")
    sys.exit(0 if results["ok"] else 1)


if __name__ == "__main__":
    main()

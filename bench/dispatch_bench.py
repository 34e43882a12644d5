"""Benchmark: what Tropa's dispatcher costs per update, and whether the queue and /stats keep up with history.

One process, one run, nothing on the network:

1. Dispatch. Updates go through ``Dispatcher.feed_update`` with ``testkit.telegram.RecordingSession``
   over a ``FakeTelegram`` (the bot's calls are serialized and answered as Telegram would, in-process).
   (a) a bare aiogram ``Dispatcher`` with one no-op message handler; (a') the same handler sending one
   message, which is what the recording session itself costs per call; (b) Tropa's real dispatcher
   (``build_app``) on SQLite, ``--requesters`` people walking the whole intake step by step, interleaved
   (start, language, safety, consent, the answers, a description, submit), with the outbox sender running
   as in production and drained before the clock stops. At most ``--concurrency`` updates are handled at
   once, so latency is handling time, not time spent queueing. Both sides build their updates the same
   way (a person acting in the ``FakeTelegram``, then ``Update.model_validate``).
2. Queue page (``services.queue.page(0)`` in a transaction) and the /stats summary
   (``services.stats.compute_summary`` for all time) with 1,000 and with 100,000 requests in the database:
   a few created through ``RequestRepository.create``, the rest bulk-inserted as plain rows (with the
   statistics counters their submission, claim and close would have bumped), median of ``--runs`` runs.

    .venv/bin/python bench/dispatch_bench.py [--requesters 200] [--concurrency 8] [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update
from sqlalchemy import event, func, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from bench.same_work import SameWorkBot
from bench.startup import measure_startup
from bot.app import BOT_DEFAULTS, bot_on, build_app, policy_from, settle_after_start
from bot.log import configure_logging
from bot.runtime import Runtime, open_runtime
from services.context import Services
from services.events import Events
from services.intake import submission_counters
from services.questionnaire import MULTI_SELECT, OPTIONS, STAT_DIMENSIONS
from services.queue import OUTCOMES
from storage import clock
from storage.clock import iso_week
from storage.counters import Counters
from storage.ids import CODE_ALPHABET, CODE_LENGTH, CODE_PREFIX
from storage.models import Request, StatCounter
from storage.outbox import Outbox
from storage.requests import RequestRepository, urgency_rank
from testkit.load import INTAKE_PRESSES
from testkit.settings import make_settings
from testkit.telegram import Action, FakeTelegram, Person, RecordingSession

try:
    from services.stats import Period, compute_summary
except ImportError:  # statistics not written yet: that part is skipped with a note
    Period = compute_summary = None  # type: ignore[assignment,misc]

TOKEN = "42:TEST-token-not-real"  # noqa: S105 - a fake token for a fake server
PRESSES = INTAKE_PRESSES  # the intake by its labels, from the language to the description
UPDATES_PER_REQUESTER = 1 + len(PRESSES) + 2  # /start, the presses, the description, Submit
SIZES = (1_000, 100_000)
CREATED_THROUGH_REPOSITORY = 25
CHUNK = 5_000
OUTBOX_PATIENCE_SECONDS = 600


def new_bot(world: FakeTelegram) -> Bot:
    """A bare bot on a recording session, with Tropa's message defaults."""
    return Bot(token=TOKEN, session=RecordingSession(world), default=BOT_DEFAULTS)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@dataclass
class Feeder:
    """Hands updates to a dispatcher, at most ``concurrency`` at a time, timing each one's handling."""

    dispatcher: Dispatcher
    bot: Bot
    concurrency: int
    latencies: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    async def feed(self, raw: dict[str, Any]) -> None:
        update = Update.model_validate(raw, context={"bot": self.bot})
        async with self._slots:
            started = time.perf_counter()
            await self.dispatcher.feed_update(self.bot, update)
            self.latencies.append(time.perf_counter() - started)


@dataclass
class DispatchResult:
    name: str
    updates: int
    seconds: float
    latencies: list[float]
    checks: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "seconds": round(self.seconds, 3),
            "updates_per_second": round(self.updates / self.seconds, 1),
            "p50_ms": round(percentile(self.latencies, 0.50) * 1000, 3),
            "p99_ms": round(percentile(self.latencies, 0.99) * 1000, 3),
            **self.checks,
        }


def people(world: FakeTelegram, count: int) -> list[Person]:
    return [world.person(100_000 + n, first_name=f"Person {n}", language_code="en") for n in range(count)]


async def walk(world: FakeTelegram, feeder: Feeder, user: Person) -> None:
    """One person's whole intake, update by update (the same for (b) and (c))."""

    async def act(action: Action) -> None:
        world.take_updates()  # fed directly; nothing polls the world
        await feeder.feed(action.update)

    await act(await user.send("/start", wait=False))
    for label in PRESSES:
        await act(await user.press(label, wait=False))
    await act(await user.send("We are told we leave for the front next week.", wait=False))
    await act(await user.press("Submit", wait=False))


def count_statements(engine: Engine) -> Callable[[], int]:
    """Counts the SQL statements an engine runs (BEGIN and COMMIT, which the driver issues, are not among them)."""
    counted = [0]

    def count(*_args: Any) -> None:
        counted[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    return lambda: counted[0]


def chat_checks(users: list[Person]) -> tuple[int, int]:
    """How many people saw their confirmation, and how many chats were left with nothing else in them but the
    confirmation and the reconnect key shown once after it."""
    confirmations = sum(1 for user in users for message in user.visible() if "Your request is sent." in message.text)
    return confirmations, sum(1 for user in users if len(user.visible()) == 2)


async def same_work_run(requesters: int, concurrency: int, data_dir: Path) -> DispatchResult:
    """(c): a plain aiogram bot doing the same Bot API calls and SQLite statements per update as (b), the same
    people walking the same intake (bench/same_work.py)."""
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before the clock starts
    world = FakeTelegram(token=TOKEN)
    bot = new_bot(world)
    floor = SameWorkBot(data_dir / "same_work.sqlite", PRESSES)
    await floor.open()
    statements = [0]

    def count(sql: str) -> None:
        if not sql.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements[0] += 1

    assert floor.db is not None
    await floor.db.set_trace_callback(count)
    feeder = Feeder(floor.dispatcher(), bot, concurrency)
    users = people(world, requesters)
    try:
        started = time.perf_counter()
        await asyncio.gather(*(walk(world, feeder, user) for user in users))
        walked = time.perf_counter()
        await floor.settle()
        seconds = time.perf_counter() - started
        drain_seconds = time.perf_counter() - walked
        assert floor.db is not None
        stored = (await floor.db.execute_fetchall("SELECT count(*) FROM requests"))[0][0]  # type: ignore[index]
    finally:
        await floor.close()
        await bot.session.close()
    confirmations, clean_chats = chat_checks(users)
    checks = {
        "requests_stored": stored,
        "confirmations": confirmations,
        "chats_left_clean": clean_chats,
        "outbox_drain_after_last_update_seconds": round(drain_seconds, 3),
        "bot_api_calls_per_update": round(len(world.calls) / max(1, len(feeder.latencies)), 2),
        "sql_statements_per_update": round(statements[0] / max(1, len(feeder.latencies)), 2),
    }
    if not stored == confirmations == clean_chats == requesters:
        raise SystemExit(f"the same-work bot did not finish every intake: {checks}")
    return DispatchResult(
        "same work, plain aiogram + aiosqlite", len(feeder.latencies), seconds, feeder.latencies, checks
    )


async def bare_run(requesters: int, concurrency: int, *, echo: bool) -> DispatchResult:
    """(a) and (a'): the same number of updates, from the same number of people, to a bare dispatcher."""
    world = FakeTelegram(token=TOKEN)
    bot = new_bot(world)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def handler(message: Message) -> None:
        if echo:
            await message.answer("ok")

    feeder = Feeder(dispatcher, bot, concurrency)

    async def chat(user: Person) -> None:
        for step in range(UPDATES_PER_REQUESTER):
            sent = await user.send(f"message {step}", wait=False)
            world.take_updates()  # fed directly; nothing polls the world
            await feeder.feed(sent.update)

    users = people(world, requesters)
    started = time.perf_counter()
    await asyncio.gather(*(chat(user) for user in users))
    seconds = time.perf_counter() - started
    await bot.session.close()
    name = "bare aiogram, one sendMessage per update" if echo else "bare aiogram, no-op handler"
    return DispatchResult(name, len(feeder.latencies), seconds, feeder.latencies)


async def tropa_run(requesters: int, concurrency: int, data_dir: Path, *, limited: bool = False) -> DispatchResult:
    """(b): Tropa's dispatcher, every requester walking the intake to the end, interleaved. The outbox's
    send limiter (Telegram's rates: 30 a second, one a second per chat) is off unless ``limited``: (b)
    measures handling, not waiting out rate limits; (b') shows how long the outbox takes with them."""
    settings = make_settings(data_dir, **({} if limited else {"send_per_second": 0}))
    runtime = await open_runtime(settings, create_if_fresh=True, say=lambda _line: None)
    world = FakeTelegram(token=TOKEN)
    # With the request middlewares production installs: edits and deletions held until the update
    # commits, then sent through the outbox.
    bot, deferring = bot_on(RecordingSession(world), TOKEN)
    app = await build_app(runtime, bot, deferring=deferring)
    settle_after_start()  # as `tropa run` does once the app is built
    feeder = Feeder(app.dispatcher, bot, concurrency)

    statements = count_statements(runtime.db.sync_engine)
    walking = True

    async def deliver() -> None:
        """The outbox sender's job, as in production, stopped between rounds (a cancelled round would
        leave its leased messages locked)."""
        while walking:
            await app.sender.drain()
            await asyncio.sleep(0.05)

    users = people(world, requesters)
    sender = asyncio.create_task(deliver())
    try:
        started = time.perf_counter()
        await asyncio.gather(*(walk(world, feeder, user) for user in users))
        walked = time.perf_counter()
        walking = False
        await sender
        while True:  # until nothing is left, not just nothing due (a rate limit may have put some off)
            await app.sender.drain()
            async with runtime.db.transaction() as session:
                if not await Outbox(session, runtime.vault).pending_count():
                    break
            if time.perf_counter() - walked > OUTBOX_PATIENCE_SECONDS:
                raise SystemExit(f"the outbox still had messages {OUTBOX_PATIENCE_SECONDS} s after the last update")
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        drain_seconds = time.perf_counter() - walked
        async with runtime.db.transaction() as session:
            stored = await session.scalar(select(func.count()).select_from(Request))
        confirmations, clean_chats = chat_checks(users)
    finally:
        walking = False
        await asyncio.gather(sender, return_exceptions=True)
        await app.close()
        await bot.session.close()
        await runtime.close()
    checks = {
        "requests_stored": stored,
        "confirmations": confirmations,
        "chats_left_clean": clean_chats,
        "outbox_drain_after_last_update_seconds": round(drain_seconds, 3),
        "bot_api_calls_per_update": round(len(world.calls) / max(1, len(feeder.latencies)), 2),
        "sql_statements_per_update": round(statements() / max(1, len(feeder.latencies)), 2),
    }
    if not stored == confirmations == clean_chats == requesters:
        raise SystemExit(f"Tropa did not finish every intake: {checks}")
    name = "Tropa (build_app, SQLite" + (", send limiter on)" if limited else ")")
    return DispatchResult(name, len(feeder.latencies), seconds, feeder.latencies, checks)


# -- the queue and /stats at 1k and 100k requests ------------------------------------------------------


def request_code(number: int) -> str:
    digits = []
    for _ in range(CODE_LENGTH):
        number, digit = divmod(number, len(CODE_ALPHABET))
        digits.append(CODE_ALPHABET[digit])
    return CODE_PREFIX + "".join(digits)


def random_answers(rng: random.Random) -> dict[str, Any]:
    return {
        step.value: sorted(rng.sample(OPTIONS[step], rng.randint(1, 2)))
        if step in MULTI_SELECT
        else rng.choice(OPTIONS[step])
        for step in STAT_DIMENSIONS
    }


def request_row(number: int, rng: random.Random, now: datetime) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """A request's plaintext columns (random bytes where ciphertext would be), and the counters its
    submission, claim and close would have bumped. One in ten is still waiting in the queue."""
    created = now - timedelta(minutes=rng.randrange(52 * 7 * 24 * 60))
    answers = random_answers(rng)
    language = rng.choice(("ru", "ru", "uk", "en"))
    bumps = [(iso_week(created), metric, bucket) for metric, bucket in submission_counters(answers, language)]
    status, claimed_at, closed_at, outcome = "new", None, None, None
    if rng.random() < 0.9:
        status, claimed_at = "claimed", created + timedelta(minutes=rng.randrange(1, 600))
        bumps.append((iso_week(claimed_at), "claimed", "all"))
        if rng.random() < 0.8:
            status, outcome = "closed", rng.choice(OUTCOMES)
            closed_at = claimed_at + timedelta(minutes=rng.randrange(1, 20_000))
            bumps.append((iso_week(closed_at), "closed", outcome))
    row = {
        "id": f"{number:032x}",
        "code": request_code(number),
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
        "answers": rng.randbytes(200),
        "chat_id": rng.randbytes(40),
    }
    return row, bumps


async def create_a_few(runtime: Runtime, count: int) -> None:
    """The first requests go through the repository, sealed as the bot seals them."""
    rng = random.Random(0)
    async with runtime.db.transaction() as session:
        repository = RequestRepository(session, runtime.vault)
        for n in range(count):
            answers = {**random_answers(rng), "description": "Written by the benchmark."}
            await repository.create(
                user_id=900_000 + n, chat_id=900_000 + n, answers=answers, urgency=answers["urgency"], language="ru"
            )


async def bulk_insert(runtime: Runtime, start: int, stop: int) -> None:
    rng = random.Random(start)
    now = clock.now()
    upsert = sqlite_insert(StatCounter)
    upsert = upsert.on_conflict_do_update(
        index_elements=[StatCounter.week, StatCounter.metric, StatCounter.bucket],
        set_={"count": StatCounter.count + upsert.excluded.count},
    )
    async with runtime.db.transaction() as session:
        # The few made through the repository have random codes; a bulk row never takes one of them.
        taken = set(await session.scalars(select(Request.code)))
    for chunk in range(start, stop, CHUNK):
        rows, counts = [], Counter[tuple[str, str, str]]()
        for number in range(chunk, min(chunk + CHUNK, stop)):
            row, bumps = request_row(number, rng, now)
            shift = 0
            while row["code"] in taken:  # above every bulk number (< 29**5), below 29**6 codes
                shift += len(CODE_ALPHABET) ** (CODE_LENGTH - 1)
                row["code"] = request_code(number + shift)
            rows.append(row)
            counts.update(bumps)
        async with runtime.db.transaction() as session:
            await session.execute(insert(Request), rows)
            await session.execute(
                upsert, [{"week": w, "metric": m, "bucket": b, "count": n} for (w, m, b), n in counts.items()]
            )


async def median_time(runtime: Runtime, runs: int, work: Callable[[AsyncSession], Awaitable[Any]]) -> float:
    await _once(runtime, work)  # warm: the connection, the statement cache, SQLite's page cache
    return statistics.median([await _once(runtime, work) for _ in range(runs)])


async def _once(runtime: Runtime, work: Callable[[AsyncSession], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    async with runtime.db.transaction() as session:
        await work(session)
    return time.perf_counter() - started


async def history_run(runs: int, data_dir: Path) -> dict[str, Any]:
    runtime = await open_runtime(make_settings(data_dir), create_if_fresh=True, say=lambda _line: None)
    policy = policy_from(runtime.settings)

    async def queue_page(session: AsyncSession) -> None:
        page = await Services(session, runtime.vault, policy, Events()).queue.page(0)
        assert page.requests

    async def stats_summary(session: AsyncSession) -> None:
        await compute_summary(Counters(session), Period.ALL, min_cell=policy.stats_min_cell)

    sizes: dict[str, Any] = {}
    try:
        await create_a_few(runtime, CREATED_THROUGH_REPOSITORY)
        stored = CREATED_THROUGH_REPOSITORY
        for size in SIZES:
            await bulk_insert(runtime, stored, size)
            stored = size
            async with runtime.db.transaction() as session:
                total = await session.scalar(select(func.count()).select_from(Request))
                waiting = await session.scalar(select(func.count()).where(Request.status == "new"))
                counter_rows = await session.scalar(select(func.count()).select_from(StatCounter))
            numbers: dict[str, Any] = {
                "requests": total,
                "waiting": waiting,
                "counter_rows": counter_rows,
                "queue_page_ms": round(await median_time(runtime, runs, queue_page) * 1000, 3),
            }
            if compute_summary is not None:
                numbers["stats_summary_ms"] = round(await median_time(runtime, runs, stats_summary) * 1000, 3)
            sizes[str(size)] = numbers
    finally:
        await runtime.close()
    small, large = (sizes[str(size)] for size in SIZES)
    ratios = {key: round(large[key] / small[key], 2) for key in ("queue_page_ms", "stats_summary_ms") if key in small}
    result: dict[str, Any] = {"runs": runs, "sizes": sizes, "ratios_100k_to_1k": ratios}
    if compute_summary is None:
        result["note"] = "services/stats.py does not exist yet: the /stats summary was not measured"
    return result


# -- the report ------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    log = io.StringIO()
    configure_logging("INFO", "json", log)  # as in production, into memory instead of a terminal
    bare = await bare_run(args.requesters, args.concurrency, echo=False)
    echo = await bare_run(args.requesters, args.concurrency, echo=True)
    tropa = await tropa_run(args.requesters, args.concurrency, directory / "dispatch")
    same = await same_work_run(args.requesters, args.concurrency, directory / "same_work")
    limited = None
    if args.limited_requesters:
        limited = await tropa_run(args.limited_requesters, args.concurrency, directory / "limited", limited=True)
    rss_after_dispatch = peak_rss_mib()
    history = await history_run(args.runs, directory / "history")
    startup = await measure_startup(directory / "startup", args.startup_runs) if args.startup_runs else None
    errors = [line for line in log.getvalue().splitlines() if '"level": "error"' in line]
    b, a, a_echo, c = tropa.summary(), bare.summary(), echo.summary(), same.summary()
    return {
        "requesters": args.requesters,
        "concurrency": args.concurrency,
        "dispatch": {
            "bare": a,
            "bare_send": a_echo,
            "tropa": b,
            "same_work": c,
            **({"tropa_send_limiter": limited.summary()} if limited else {}),
        },
        "ratio_tropa_to_bare": round(b["updates_per_second"] / a["updates_per_second"], 4),
        "ratio_tropa_to_bare_send": round(b["updates_per_second"] / a_echo["updates_per_second"], 4),
        # The honest comparison: the same Bot API calls and SQL statements per update, without Tropa.
        "ratio_tropa_to_same_work": round(b["updates_per_second"] / c["updates_per_second"], 4),
        "p99_tropa_to_same_work": round(b["p99_ms"] / c["p99_ms"], 2),
        # Any handler that makes one Bot API call per update is bounded by (a')/(a), here and in any run.
        "ratio_ceiling_one_call": round(a_echo["updates_per_second"] / a["updates_per_second"], 4),
        "history": history,
        "peak_rss_mib": {"after_dispatch": round(rss_after_dispatch, 1), "at_end": round(peak_rss_mib(), 1)},
        **({"startup": startup} if startup else {}),
        "errors_logged": len(errors),
    }


def print_report(results: dict[str, Any]) -> None:
    dispatch = results["dispatch"]
    print(
        f"Dispatch: {results['requesters']} requesters x {UPDATES_PER_REQUESTER} updates, "
        f"concurrency {results['concurrency']}, recording session, no network"
    )
    labels = {
        "bare": "(a)  bare aiogram, no-op handler",
        "bare_send": "(a') bare aiogram, one sendMessage",
        "tropa": "(b)  Tropa, SQLite, outbox drained",
        "same_work": "(c)  same work: plain aiogram, aiosqlite",
    }
    for key, label in labels.items():
        row = dispatch[key]
        print(
            f"  {label:<40} {row['updates']:>6} updates {row['updates_per_second']:>10,.1f}/s"
            f"   p50 {row['p50_ms']:>8.3f} ms   p99 {row['p99_ms']:>8.3f} ms"
        )
    tropa = dispatch["tropa"]
    print(
        f"  ratio (b)/(a) {results['ratio_tropa_to_bare']:.4f}   (b)/(a') {results['ratio_tropa_to_bare_send']:.4f}"
        f"   (b)/(c) {results['ratio_tropa_to_same_work']:.4f}   p99 (b)/(c) {results['p99_tropa_to_same_work']:.2f}\n "
        f"   requests stored {tropa['requests_stored']}, confirmations {tropa['confirmations']},"
        f" chats left clean {tropa['chats_left_clean']}, outbox empty"
        f" {tropa['outbox_drain_after_last_update_seconds']:.2f} s after the last update"
    )
    same = dispatch["same_work"]
    print(
        f"  Per update: Tropa {tropa['bot_api_calls_per_update']:.2f} Bot API calls and"
        f" {tropa['sql_statements_per_update']:.2f} SQL statements, (c) {same['bot_api_calls_per_update']:.2f} and"
        f" {same['sql_statements_per_update']:.2f}; a handler making one call is bounded by"
        f" (a')/(a) = {results['ratio_ceiling_one_call']:.4f}"
    )
    if limited := dispatch.get("tropa_send_limiter"):
        print(
            f"  (b') the same with the production send limiter, {limited['requests_stored']} requesters:"
            f" {limited['updates_per_second']:,.1f} updates/s; the outbox was empty"
            f" {limited['outbox_drain_after_last_update_seconds']:.2f} s after the last update"
        )
    history = results["history"]
    print(f"Queue page and /stats summary (median of {history['runs']} runs, SQLite)")
    for size, numbers in history["sizes"].items():
        stats = f"   /stats summary {numbers['stats_summary_ms']:>8.3f} ms" if "stats_summary_ms" in numbers else ""
        print(
            f"  {int(size):>7,} requests ({numbers['waiting']:>6,} waiting, {numbers['counter_rows']:>5,} counter rows)"
            f"   queue page {numbers['queue_page_ms']:>8.3f} ms{stats}"
        )
    ratios = ", ".join(
        f"{key.removesuffix('_ms').replace('_', ' ')} {value:.2f}"
        for key, value in history["ratios_100k_to_1k"].items()
    )
    print(f"  ratio 100k/1k: {ratios}")
    if "note" in history:
        print(f"  note: {history['note']}")
    rss = results["peak_rss_mib"]
    print(
        f"Peak RSS of this benchmark: {rss['after_dispatch']:.1f} MiB after the dispatch runs,"
        f" {rss['at_end']:.1f} MiB at the end"
    )
    if startup := results.get("startup"):
        tropa_start, bare_start = startup["tropa"], startup["bare_aiogram"]
        print(
            f"Start-up against the local Bot API emulator (process start to the first getUpdates, median of"
            f" {tropa_start['runs']}): tropa run {tropa_start['startup_seconds']:.2f} s, bare aiogram"
            f" {bare_start['startup_seconds']:.2f} s ({startup['startup_difference_seconds']:+.2f} s)"
        )
        print(
            f"  resident memory once started: Tropa {tropa_start['rss_mib']:.1f} MiB, bare aiogram"
            f" {bare_start['rss_mib']:.1f} MiB ({startup['rss_difference_mib']:+.1f} MiB); peak: Tropa"
            f" {tropa_start['peak_rss_mib']:.1f} MiB (with the Argon2id unlock),"
            f" bare {bare_start['peak_rss_mib']:.1f} MiB"
        )
    if results["errors_logged"]:
        print(f"warning: the bot logged {results['errors_logged']} errors during the run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requesters", type=int, default=200, help="people walking the intake (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="updates handled at once (default 8)")
    parser.add_argument(
        "--limited-requesters",
        type=int,
        default=20,
        help="requesters for the extra run with the outbox's send limiter on (default 20, 0 skips it)",
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per queue/stats measurement (default 15)")
    parser.add_argument(
        "--startup-runs", type=int, default=3, help="timed starts of tropa run and of a bare bot (default 3, 0 skips)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    args = parser.parse_args()
    if args.requesters < 1 or args.concurrency < 1 or args.runs < 1:
        parser.error("--requesters, --concurrency and --runs must be at least 1")
    if args.limited_requesters < 0 or args.startup_runs < 0:
        parser.error("--limited-requesters and --startup-runs cannot be negative")
    with tempfile.TemporaryDirectory(prefix="tropa-dispatch-bench-") as directory:
        results = asyncio.run(bench(args, Path(directory)))
    if args.json:
        print(json.dumps(results))
    else:
        print_report(results)


if __name__ == "__main__":
    main()

"""Where an intake update's time goes: run (b) of the dispatch benchmark once more, instrumented.

    .venv/bin/python bench/intake_profile.py [--requesters 100] [--concurrency 8] [--profile] [--json]

Prints, for Tropa's dispatcher walking ``--requesters`` people through the intake (as bench/dispatch_bench.py
does, outbox sender included):

- updates/s and milliseconds of wall clock and of CPU (all threads) per update, and the share of the
  garbage collector (timed with ``gc.callbacks``);
- SQL statements per update by kind of update and by statement (a ``before_cursor_execute`` listener, plus
  the transactions' BEGIN and COMMIT), and Bot API calls per kind of update; what the outbox sender and the
  batched clean-up do is counted apart, per update of the walk;
- thread hops per update: calls into aiosqlite's worker thread and ``asyncio.to_thread`` calls;
- a wall-clock breakdown from sampling (every millisecond a timer signal takes the main thread's stack):
  by the layer the innermost frame belongs to (a library, the harness, Tropa's own code, or the event loop
  waiting), and by the innermost Tropa component on the stack (a middleware with everything it calls that
  is not another component, the FSM storage, the handlers, the outbox sender...). (No other thread is
  looked at: ``sys._current_frames()`` in a signal handler can deadlock with a thread starting or ending.)
- with ``--same-work``: (c) of the dispatch benchmark, sampled the same way, for a layer-by-layer comparison;
- with ``--profile``: ``cProfile`` over the walk, its own time ("tottime") summed by layer, in milliseconds
  per update. cProfile slows what it measures (most where calls are many and short), so the layers are also
  shown scaled to the unprofiled run's wall clock per update: an estimate of their shares, not a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import gc
import io
import json
import pstats
import re
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiosqlite.core
import greenlet  # type: ignore[import-untyped]  # no stubs; only greenlet.getcurrent is used
from sqlalchemy import event

from bench.dispatch_bench import PRESSES, TOKEN, Feeder, people, same_work_run
from bot.app import bot_on, build_app, settle_after_start
from bot.log import configure_logging
from bot.runtime import open_runtime
from testkit.settings import make_settings
from testkit.telegram import Action, FakeTelegram, Person, RecordingSession

KIND: contextvars.ContextVar[str] = contextvars.ContextVar("bench_update_kind", default="batched clean-up")
KINDS = ("/start", "press", "description", "submit")
SENDER = "outbox sender"

# Layers of the profile, by the file (or built-in) a function's own time is spent in; the first match wins.
LAYERS: tuple[tuple[str, str], ...] = (
    ("event loop idle (epoll: waiting for a thread or a timer)", r"select\.epoll|selectors\.py"),
    (
        "thread hops (aiosqlite queue, to_thread, self-pipe, futures)",
        r"aiosqlite|_queue\.SimpleQueue|_read_from_self|'recv' of '_socket|threading\.py|concurrent/futures"
        r"|asyncio/threads\.py|call_soon_threadsafe|run_in_executor",
    ),
    ("asyncio scheduling (tasks, handles, locks, contexts)", r"asyncio/|_contextvars|Context' objects|contextlib\.py"),
    ("pydantic (aiogram types: validate, copy, dump)", r"pydantic|copy\.py"),
    ("aiogram i18n (gettext)", r"aiogram/utils/i18n|gettext\.py|babel/"),
    ("aiogram dispatch (routers, filters, FSM context, handlers)", r"aiogram/(dispatcher|filters|fsm|handlers|utils)"),
    ("aiogram client (Bot, methods, session)", r"aiogram/(client|methods|types|__init__)|magic_filter"),
    ("fake Telegram + recording session (the harness, as in (c))", r"tests/support"),
    ("SQLAlchemy ORM (session, unit of work, loading)", r"sqlalchemy/orm"),
    ("SQLAlchemy core (compile, cache, execute, result)", r"sqlalchemy/|greenlet"),
    (
        "sealing and blind indexes (AES-GCM, HMAC)",
        r"storage/crypto|cryptography|_hashlib|hmac\.py|hashlib|base64|urandom",
    ),
    ("JSON (FSM data, payloads, the harness)", r"json/|_json"),
    ("logging (structlog, redaction)", r"structlog|logging/|bot/log\.py"),
    ("Tropa middlewares", r"bot/middlewares"),
    ("Tropa FSM storage", r"storage/fsm"),
    ("Tropa db, vault, outbox, repositories", r"storage/"),
    ("Tropa outbox sender", r"services/delivery|services/hygiene"),
    ("Tropa services", r"services/"),
    ("Tropa handlers and views", r"handlers/"),
    ("Tropa bot/ (app, notices, i18n)", r"/bot/"),
    ("the benchmark's driver", r"bench/"),
    ("regular expressions", r"re/|_sre|Pattern' objects"),
    ("imports at run time (importlib)", r"importlib|<frozen"),
)


# Components, by the innermost frame on the stack that belongs to one (a path and, optionally, a function).
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("event loop idle (epoll)", r"selectors\.py|base_events\.py:_run_once>select"),
    ("recording session + fake Telegram (harness)", r"tests/support/"),
    ("Tropa outbox sender (delivery, after commit and in its task)", r"services/delivery\.py|services/hygiene\.py"),
    ("Tropa request middlewares (after-commit, retry, response types)", r"bot/middlewares/(retry|responses)\.py"),
    ("Tropa FSM storage (sealed, in the transaction)", r"storage/fsm\.py"),
    ("Tropa outbox (queueing)", r"storage/outbox\.py"),
    ("Tropa repositories and vault", r"storage/(volunteers|requests|vault|counters|audit|shown|ids)\.py"),
    ("Tropa handlers, views and intake chat", r"handlers/"),
    ("Tropa services", r"services/"),
    ("throttling middleware", r"bot/middlewares/throttling\.py"),
    ("locale middleware (i18n)", r"bot/middlewares/locale\.py|aiogram/utils/i18n/middleware\.py"),
    ("roles middleware (who is a volunteer)", r"bot/middlewares/roles\.py"),
    ("FSM middleware (aiogram's)", r"aiogram/fsm/middleware\.py"),
    ("transaction middleware (claim, commit, after-commit)", r"bot/middlewares/transaction\.py|storage/db\.py"),
    ("person lock middleware", r"bot/middlewares/person_lock\.py"),
    ("aiogram dispatch (routers, filters, handler calls)", r"aiogram/dispatcher/|aiogram/filters/"),
    ("the driver: Update.model_validate, feeding, the walk", r"bench/"),
)


def statement_name(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    if verb == "SELECT":
        table = re.search(r"\bFROM\s+(\w+)", sql)
        return f"SELECT {table.group(1) if table else '?'}"
    if verb in ("INSERT", "DELETE"):
        return f"{verb} {words[2]}" if len(words) > 2 else verb
    if verb == "UPDATE":
        return f"UPDATE {words[1]}" if len(words) > 1 else verb
    return verb if verb != "RELEASE" else "RELEASE SAVEPOINT"


class Counts:
    def __init__(self) -> None:
        self.updates: Counter[str] = Counter()
        self.statements: dict[str, Counter[str]] = defaultdict(Counter)
        self.calls: dict[str, Counter[str]] = defaultdict(Counter)
        self.hops: Counter[str] = Counter()
        self.gc_seconds = 0.0


def instrument(counts: Counts, engine: Any, world: FakeTelegram) -> None:
    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        counts.statements[KIND.get()][statement_name(sql)] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", lambda _conn: counts.statements[KIND.get()].update(["BEGIN"]))
    event.listen(engine, "commit", lambda _conn: counts.statements[KIND.get()].update(["COMMIT"]))
    original_call = world.call

    async def call(method: str, params: Any = None) -> Any:
        counts.calls[KIND.get()][method] += 1
        return await original_call(method, params)

    world.call = call  # type: ignore[method-assign]
    original_execute: Callable[..., Awaitable[Any]] = aiosqlite.core.Connection._execute

    async def execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counts.hops["aiosqlite"] += 1
        return await original_execute(self, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = execute  # type: ignore[method-assign]
    original_to_thread = asyncio.to_thread

    async def to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        counts.hops["asyncio.to_thread"] += 1
        return await original_to_thread(func, *args, **kwargs)

    asyncio.to_thread = to_thread
    started: list[float] = []

    def collecting(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            counts.gc_seconds += time.perf_counter() - started[0]

    gc.callbacks.append(collecting)


class Sampler:
    """Every ``interval`` seconds of wall clock (``SIGALRM``, so the sample is taken in the main thread, between
    two bytecodes or as a blocking call returns, whatever holds the GIL), the code objects on the main
    thread's stack; classified afterwards."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.main_stacks: list[tuple[Any, ...]] = []
        self._previous: Any = None

    def start(self) -> None:
        self._previous = signal.signal(signal.SIGALRM, self._sample)
        signal.setitimer(signal.ITIMER_REAL, self.interval, self.interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)

    def _sample(self, _signum: int, frame: Any) -> None:
        stack = []
        while frame is not None:
            stack.append(frame.f_code)
            frame = frame.f_back
        # SQLAlchemy runs its synchronous code in a greenlet, whose stack ends where it began: go on from
        # where the awaiting coroutine switched to it.
        running = greenlet.getcurrent()
        while running.parent is not None:
            running = running.parent
            frame = running.gr_frame
            while frame is not None:
                stack.append(frame.f_code)
                frame = frame.f_back
        self.main_stacks.append(tuple(stack))

    def breakdown(self, rules: tuple[tuple[str, str], ...], *, innermost_only: bool) -> Counter[str]:
        compiled = [(name, re.compile(pattern)) for name, pattern in rules]
        cache: dict[tuple[Any, ...], str] = {}
        shares: Counter[str] = Counter()
        for stack in self.main_stacks:
            if stack not in cache:
                cache[stack] = _classify(stack, compiled, innermost_only)
            shares[cache[stack]] += 1
        return shares


def _where(code: Any) -> str:
    return f"{code.co_filename}:{code.co_name}>"


def _classify(stack: tuple[Any, ...], rules: list[tuple[str, re.Pattern[str]]], innermost_only: bool) -> str:
    frames = stack[:1] if innermost_only else stack
    for code in frames:
        where = _where(code)
        for name, pattern in rules:
            if pattern.search(where):
                return name
    return "other (asyncio, aiogram's other parts, libraries called from nowhere above)"


async def run(
    requesters: int,
    concurrency: int,
    data_dir: Path,
    profiler: cProfile.Profile | None,
    sampler: Sampler | None = None,
) -> dict[str, Any]:
    runtime = await open_runtime(
        make_settings(data_dir, send_per_second=0), create_if_fresh=True, say=lambda _line: None
    )
    world = FakeTelegram(token=TOKEN)
    bot, deferring = bot_on(RecordingSession(world), TOKEN)
    app = await build_app(runtime, bot, deferring=deferring)
    settle_after_start()  # as `tropa run` does once the app is built
    feeder = Feeder(app.dispatcher, bot, concurrency)
    counts = Counts()
    instrument(counts, runtime.db.sync_engine, world)

    by_kind: dict[str, list[float]] = defaultdict(list)

    async def act(kind: str, action: Action) -> None:
        world.take_updates()
        KIND.set(kind)
        counts.updates[kind] += 1
        await feeder.feed(action.update)
        by_kind[kind].append(feeder.latencies[-1])  # no await in between: this update's own

    async def walk(user: Person) -> None:
        await act("/start", await user.send("/start", wait=False))
        for label in PRESSES:
            await act("press", await user.press(label, wait=False))
        await act("description", await user.send("We are told we leave for the front next week.", wait=False))
        await act("submit", await user.press("Submit", wait=False))

    walking = True

    async def deliver() -> None:
        KIND.set(SENDER)
        while walking:
            await app.sender.drain()
            await asyncio.sleep(0.05)

    users = people(world, requesters)
    sender = asyncio.create_task(deliver())
    if profiler is not None:
        profiler.enable()
    if sampler is not None:
        sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(walk(user) for user in users))
        walking = False
        await sender
        KIND.set(SENDER)
        await app.sender.drain()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        if profiler is not None:
            profiler.disable()
        if sampler is not None:
            sampler.stop()
            walking = False
        await asyncio.gather(sender, return_exceptions=True)
        await app.close()
        await bot.session.close()
        await runtime.close()
    updates = sum(counts.updates.values())
    latencies = sorted(feeder.latencies)
    per_kind = {}
    for kind in (*KINDS, SENDER, "batched clean-up"):
        share = counts.updates[kind] or updates  # the sender and clean-up: per update of the walk
        mine = sorted(by_kind[kind] or [0.0])
        per_kind[kind] = {
            "updates": counts.updates[kind],
            "p50_ms": round(1000 * mine[len(mine) // 2], 3),
            "p99_ms": round(1000 * mine[max(0, int(len(mine) * 0.99) - 1)], 3),
            "statements": {name: round(n / share, 2) for name, n in counts.statements[kind].most_common()},
            "bot_api_calls": {name: round(n / share, 2) for name, n in counts.calls[kind].most_common()},
        }
    all_statements: Counter[str] = Counter()
    for kind_counts in counts.statements.values():
        all_statements.update(kind_counts)
    return {
        "requesters": requesters,
        "concurrency": concurrency,
        "updates": updates,
        "updates_per_second": round(updates / seconds, 1),
        "wall_ms_per_update": round(1000 * seconds / updates, 3),
        "cpu_ms_per_update": round(1000 * cpu / updates, 3),
        "gc_ms_per_update": round(1000 * counts.gc_seconds / updates, 3),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 3),
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99) - 1], 3),
        "thread_hops_per_update": {name: round(n / updates, 2) for name, n in counts.hops.items()},
        "statements_per_update": {name: round(n / updates, 2) for name, n in all_statements.most_common()},
        "per_kind": per_kind,
    }


def layers(profile: pstats.Stats, updates: int) -> dict[str, float]:
    sums: Counter[str] = Counter()
    for (path, _line, function), (_cc, _nc, own, _cum, _callers) in profile.stats.items():  # type: ignore[attr-defined]
        where = f"{path}:{function}"
        name = next((layer for layer, pattern in LAYERS if re.search(pattern, where)), "other (built-ins)")
        sums[name] += own
    return {name: round(1000 * seconds / updates, 3) for name, seconds in sums.most_common()}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging("INFO", "json", io.StringIO())  # as in production, into memory
    with tempfile.TemporaryDirectory(prefix="tropa-intake-profile-") as directory:
        sampler = Sampler()
        plain = await run(args.requesters, args.concurrency, Path(directory) / "plain", None, sampler)
        result: dict[str, Any] = {"run": plain}
        samples = len(sampler.main_stacks)
        wall = plain["wall_ms_per_update"]
        result["sampled"] = {
            "samples": samples,
            "layers_ms_per_update": {
                name: round(wall * n / samples, 3)
                for name, n in sampler.breakdown(LAYERS, innermost_only=True).most_common()
            },
            "components_ms_per_update": {
                name: round(wall * n / samples, 3)
                for name, n in sampler.breakdown(COMPONENTS, innermost_only=False).most_common()
            },
        }
        if args.same_work:
            floor_sampler = Sampler()
            floor_sampler.start()
            try:
                floor = await same_work_run(args.requesters, args.concurrency, Path(directory) / "same_work")
            finally:
                floor_sampler.stop()
            floor_wall = 1000 * floor.seconds / floor.updates
            floor_samples = max(1, len(floor_sampler.main_stacks))
            result["same_work"] = {
                "updates_per_second": round(floor.updates / floor.seconds, 1),
                "wall_ms_per_update": round(floor_wall, 3),
                "layers_ms_per_update": {
                    name: round(floor_wall * n / floor_samples, 3)
                    for name, n in floor_sampler.breakdown(LAYERS, innermost_only=True).most_common()
                },
            }
        if args.profile:
            profiler = cProfile.Profile()
            profiled = await run(args.requesters, args.concurrency, Path(directory) / "profiled", profiler)
            stats = pstats.Stats(profiler)
            measured = layers(stats, profiled["updates"])
            total = sum(measured.values())
            scale = plain["wall_ms_per_update"] / total if total else 0.0
            result["profile"] = {
                "profiled_wall_ms_per_update": profiled["wall_ms_per_update"],
                "layers_ms_per_update": measured,
                "layers_scaled_to_unprofiled_ms": {name: round(ms * scale, 3) for name, ms in measured.items()},
            }
            if args.dump:
                stats.dump_stats(args.dump)
    return result


def print_report(result: dict[str, Any]) -> None:
    run_ = result["run"]
    print(
        f"Tropa intake, {run_['requesters']} requesters, {run_['updates']} updates, concurrency {run_['concurrency']}:"
        f" {run_['updates_per_second']:.1f} updates/s, {run_['wall_ms_per_update']:.2f} ms wall and"
        f" {run_['cpu_ms_per_update']:.2f} ms CPU per update (GC {run_['gc_ms_per_update']:.2f} ms),"
        f" p50 {run_['p50_ms']:.1f} ms, p99 {run_['p99_ms']:.1f} ms"
    )
    print(f"  thread hops per update: {run_['thread_hops_per_update']}")
    print(f"  statements per update (all): {run_['statements_per_update']}")
    for kind, numbers in run_["per_kind"].items():
        timing = f"p50 {numbers['p50_ms']:.1f} ms, p99 {numbers['p99_ms']:.1f} ms"
        print(f"  {kind} ({numbers['updates']} updates, {timing})")
        print(f"    Bot API calls: {numbers['bot_api_calls']}")
        print(f"    statements: {numbers['statements']}")
    sampled = result["sampled"]
    print(f"Sampled wall clock ({sampled['samples']} samples of the main thread), ms per update:")
    print("  by the layer of the innermost frame:")
    for name, ms in sampled["layers_ms_per_update"].items():
        print(f"    {ms:8.3f}  {name}")
    print("  by the innermost Tropa component on the stack:")
    for name, ms in sampled["components_ms_per_update"].items():
        print(f"    {ms:8.3f}  {name}")
    if "same_work" in result:
        floor = result["same_work"]
        print(
            f"(c), the same work without Tropa, sampled the same way: {floor['updates_per_second']:.1f} updates/s,"
            f" {floor['wall_ms_per_update']:.2f} ms wall per update; by the layer of the innermost frame:"
        )
        for name, ms in floor["layers_ms_per_update"].items():
            print(f"    {ms:8.3f}  {name}")
    if "profile" in result:
        profile = result["profile"]
        print(
            f"Profile (cProfile own time, ms per update; profiled run {profile['profiled_wall_ms_per_update']:.2f} ms)"
        )
        scaled = profile["layers_scaled_to_unprofiled_ms"]
        for name, ms in profile["layers_ms_per_update"].items():
            print(f"  {ms:8.3f}  ~{scaled[name]:7.3f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requesters", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="also run once under cProfile")
    parser.add_argument("--same-work", action="store_true", help="also sample (c), the same work without Tropa")
    parser.add_argument("--dump", help="write the cProfile stats to this file (with --profile)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result))
    else:
        print_report(result)


if __name__ == "__main__":
    main()

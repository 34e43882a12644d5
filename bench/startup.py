"""Start-up time and resident memory of ``tropa run`` beside a bare aiogram polling bot (bench/bare_polling_bot.py).

Both run as child processes against the same local Bot API emulator (tests/e2e/emulator.py: the Telegram
model over HTTP). Measured for each: from just before the process is spawned to the first ``getUpdates``
call the emulator receives (the bot is ready for its first update), the median of ``runs`` starts after one
warm-up start (which creates Tropa's keyring and database, and warms the disk cache for both); the resident
memory (``VmRSS``) ``SETTLE_SECONDS`` after that first ``getUpdates``, and the process's peak (``VmHWM``).
Tropa starts as in production: a keyring sealed with a passphrase (Argon2id) read from a file, SQLite, INFO
logs; the bare bot has nothing to open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from testkit.process import bot_environment, tropa_executable
from testkit.settings import TOKEN
from testkit.telegram import BotApiEmulator, FakeTelegram

SETTLE_SECONDS = 2.0
READY_TIMEOUT = 180.0
BARE_BOT = Path(__file__).with_name("bare_polling_bot.py")
PASSPHRASE = "benchmark passphrase, not a secret"  # noqa: S105 - a throw-away keyring


def _memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class FirstPoll:
    """Notes when the emulator receives its next ``getUpdates``."""

    def __init__(self, world: FakeTelegram) -> None:
        self.at: float | None = None
        self.event = asyncio.Event()
        call = world.call

        async def noting(method: str, params: Any = None) -> Any:
            if method.lower() == "getupdates" and self.at is None:
                self.at = time.perf_counter()
                self.event.set()
            return await call(method, params)

        world.call = noting  # type: ignore[method-assign]

    def arm(self) -> None:
        self.at = None
        self.event.clear()


async def _one_start(command: list[str], env: Mapping[str, str], poll: FirstPoll, log: Path) -> dict[str, float]:
    poll.arm()
    with log.open("ab") as output:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command, env=dict(env), stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
        try:
            waiting = asyncio.create_task(poll.event.wait())
            exited = asyncio.create_task(process.wait())
            done, _pending = await asyncio.wait({waiting, exited}, timeout=READY_TIMEOUT, return_when="FIRST_COMPLETED")
            waiting.cancel()
            exited.cancel()
            if poll.at is None:
                raise RuntimeError(
                    f"{command[-1]} did not poll (see {log}): {'exited' if exited in done else 'timeout'}"
                )
            ready = poll.at - started
            await asyncio.sleep(SETTLE_SECONDS)
            rss, peak = _memory_mib(process.pid)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
    return {"startup_seconds": ready, "rss_mib": rss, "peak_rss_mib": peak}


async def _measure(command: list[str], env: Mapping[str, str], poll: FirstPoll, log: Path, runs: int) -> dict[str, Any]:
    await _one_start(command, env, poll, log)  # warm-up: creates what a first start creates, fills the disk cache
    starts = [await _one_start(command, env, poll, log) for _ in range(runs)]
    return {
        "runs": runs,
        "startup_seconds": round(statistics.median(s["startup_seconds"] for s in starts), 3),
        "rss_mib": round(statistics.median(s["rss_mib"] for s in starts), 1),
        "peak_rss_mib": round(statistics.median(s["peak_rss_mib"] for s in starts), 1),
        "each": [{key: round(value, 3) for key, value in s.items()} for s in starts],
    }


async def measure_startup(directory: Path, runs: int = 3) -> dict[str, Any]:
    """Tropa and the bare bot, ``runs`` starts each, against one emulator; the differences Tropa - bare."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - set-up, before any clock
    world = FakeTelegram(token=TOKEN)
    poll = FirstPoll(world)
    async with BotApiEmulator(world) as emulator:
        passphrase = directory / "passphrase"
        passphrase.write_text(PASSPHRASE + "\n")
        tropa_env = bot_environment(emulator.base_url, directory / "tropa")
        del tropa_env["TROPA_UNSAFE_UNLOCKED_KEYRING"]
        tropa_env.update(TROPA_KEY_PASSPHRASE_FILE=str(passphrase), TROPA_LOG_LEVEL="INFO")
        tropa = await _measure([tropa_executable(), "run"], tropa_env, poll, directory / "tropa.log", runs)
        bare_env = {**os.environ, "BOT_API_BASE": emulator.base_url, "BOT_TOKEN": TOKEN}
        bare = await _measure([sys.executable, str(BARE_BOT)], bare_env, poll, directory / "bare.log", runs)
        with contextlib.suppress(Exception):
            world.shutdown()
    return {
        "tropa": tropa,
        "bare_aiogram": bare,
        "startup_difference_seconds": round(tropa["startup_seconds"] - bare["startup_seconds"], 3),
        "rss_difference_mib": round(tropa["rss_mib"] - bare["rss_mib"], 1),
    }

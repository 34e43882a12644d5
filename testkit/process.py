"""The real ``tropa run`` as a child process: start it against the emulator, wait until it is ready, stop it
gently, or kill it the way a crash or an OOM killer would.

Everything the process prints goes to files (one pair per start, ``run-N.out`` / ``run-N.err``) so a test
can read its log afterwards and the canary scan can search the raw bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from testkit.settings import ADMIN_ID, TOKEN

READY_LINE = "Tropa is running as @"


def tropa_executable() -> str:
    """The ``tropa`` console script of the interpreter running the tests (the project's virtualenv)."""
    beside = Path(sys.executable).with_name("tropa")
    if beside.exists():
        return str(beside)
    found = shutil.which("tropa")
    if found is None:
        raise RuntimeError("the `tropa` console script is not installed: pip install -e .")
    return found


def bot_environment(api_base: str, data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """The process environment: the caller's, minus any TROPA_* setting, plus the test settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TROPA_")}
    env.update(
        TROPA_BOT_TOKEN=TOKEN,
        TROPA_TELEGRAM_API_BASE=api_base,
        TROPA_DATA_DIR=str(data_dir),
        TROPA_ADMIN_IDS=str(ADMIN_ID),
        TROPA_POLLING_TIMEOUT="1",
        TROPA_OUTBOX_INTERVAL_SECONDS="0.2",
        TROPA_JOB_INTERVAL_SECONDS="1",
        TROPA_LOG_FORMAT="json",
        TROPA_LOG_LEVEL="DEBUG",
        TROPA_WORKING_HOURS="0-24 Europe/Moscow",  # on shift at any hour the scenarios run
        TROPA_UNSAFE_UNLOCKED_KEYRING="true",  # Argon2id at every start would only slow the scenarios down
        PYTHONUNBUFFERED="1",
    )
    if database_url is not None:
        env["TROPA_DATABASE_URL"] = database_url
    return env


class BotProcessError(AssertionError):
    """The bot did not start, or stopped on its own; the message carries the tail of its log."""


class BotProcess:
    """One data directory, started and stopped as often as a scenario needs.

    ``start()`` returns once the bot has printed its ready line. ``kill()`` is SIGKILL: no clean-up runs,
    nothing is flushed, nothing is confirmed to Telegram. ``stop()`` is SIGTERM with a grace period, then
    SIGKILL. ``close()`` is for finalizers: whatever state the process is in, it is gone afterwards.
    """

    def __init__(self, env: Mapping[str, str], log_dir: Path, cwd: Path) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.cwd = cwd
        self.starts = 0
        self.log_files: list[Path] = []
        self._process: asyncio.subprocess.Process | None = None
        self._handles: list[IO[bytes]] = []

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a deadline for the ready line
        if self.running:
            raise RuntimeError("the bot is already running")
        self.starts += 1
        out_path = self.log_dir / f"run-{self.starts}.out"
        err_path = self.log_dir / f"run-{self.starts}.err"
        self.log_files += [out_path, err_path]
        out, err = out_path.open("wb"), err_path.open("wb")
        self._handles = [out, err]
        self._process = process = await asyncio.create_subprocess_exec(
            tropa_executable(),
            "run",
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while READY_LINE not in out_path.read_text(errors="replace"):
            if process.returncode is not None:
                self._close_handles()
                raise BotProcessError(f"tropa exited with {process.returncode} before it was ready:\n{self.tail()}")
            if loop.time() > deadline:
                await self.kill()
                raise BotProcessError(f"tropa was not ready within {timeout}s:\n{self.tail()}")
            await asyncio.sleep(0.05)

    async def _wait_exit(self, timeout: float) -> int | None:  # noqa: ASYNC109
        assert self._process is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._process.wait(), timeout)
        return self._process.returncode

    async def kill(self) -> None:
        """SIGKILL, as a crash would end it."""
        if self._process is None:
            return
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGKILL)
        await self._wait_exit(10)
        self._close_handles()

    async def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM (aiogram stops polling and the bot closes its resources), SIGKILL after ``grace``."""
        if self._process is None:
            return None
        if self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            if await self._wait_exit(grace) is None:
                self._process.send_signal(signal.SIGKILL)
                await self._wait_exit(10)
        self._close_handles()
        return self._process.returncode

    async def close(self) -> None:
        """For finalizers: whatever state the process is in, it is gone afterwards."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._wait_exit(10)
        self._close_handles()

    def _close_handles(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles = []

    def log_text(self) -> str:
        """Everything every start of the process has printed so far (stdout and stderr)."""
        return "".join(path.read_text(errors="replace") for path in self.log_files if path.exists())

    def stderr_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.log_files if path.suffix == ".err")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

"""The whole bot in one process: real settings, keyring, database, dispatcher and outbox, talking to
the Telegram model through a recording session. Tests act as people and look at what they see."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage

from bot.app import App, bot_on, build_app
from bot.log import configure_logging
from bot.runtime import Runtime, open_runtime
from testkit.settings import ADMIN_ID, TOKEN, make_settings
from testkit.telegram import FakeTelegram, InProcessClient, Json, Person, RecordingSession

__all__ = ["ADMIN_ID", "TOKEN", "Harness", "harness_with", "restart", "start_harness"]

T = TypeVar("T")


@dataclass
class Harness:
    """The bot in this process, and the world's responder: a person who acts waits until it settles."""

    world: FakeTelegram
    runtime: Runtime
    app: App
    client: InProcessClient
    log: io.StringIO
    data_dir: Path
    settings_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def bot(self) -> Bot:
        return self.app.bot

    def person(self, user_id: int, language_code: str = "en", **kwargs: Any) -> Person:
        return self.world.person(user_id, language_code=language_code, **kwargs)

    async def settle(self) -> None:
        """Deliver every pending update, then everything the outbox has to send, until all is quiet."""
        for _ in range(50):
            delivered = await self.client.deliver()
            sent = await self.app.sender.drain()
            await self.app.sender.settle()  # what production removes a moment later, removed now
            if not delivered and not sent and not self.world.pending_updates():
                return
        raise AssertionError("the bot did not settle")

    async def run_jobs(self) -> dict[str, int]:
        results = await self.app.jobs.run_due()
        await self.settle()
        return results

    async def close(self) -> None:
        if self.world.responder is self:
            self.world.responder = None
        await self.app.close()
        await self.runtime.close()

    # --- as the world's responder (testkit.telegram.Responder) ----------------------------------------------

    async def after(self, update: Json, until: Callable[[], object] | None) -> None:
        """In one process the bot is done when it settles; what a test waits for must be there by then."""
        await self.settle()
        if until is not None:
            assert until(), "not so once the bot settled"

    async def wait(self, predicate: Callable[[], T], timeout: float | None) -> T:  # noqa: ASYNC109
        await self.settle()
        value = predicate()
        assert value, "not so once the bot settled"
        return value

    def translate(self, text: str, language: str) -> str:
        return self.app.i18n.gettext(text, locale=language)


async def start_harness(
    data_dir: Path,
    world: FakeTelegram | None = None,
    *,
    inner_storage: BaseStorage | None = None,
    **settings_overrides: Any,
) -> Harness:
    """The bot on a fresh (or the given) world, which it answers from now on."""
    log = io.StringIO()
    configure_logging("DEBUG", "json", log)
    world = world or FakeTelegram(token=TOKEN)
    defaults = {"admin_ids": (ADMIN_ID,), "default_language": "en", "send_per_second": 0}
    settings = make_settings(data_dir, **{**defaults, **settings_overrides})
    runtime = await open_runtime(settings, create_if_fresh=True, say=lambda _line: None)
    bot, deferring = bot_on(RecordingSession(world), TOKEN)
    app = await build_app(runtime, bot, inner_storage=inner_storage, deferring=deferring)
    client = InProcessClient(world, app.dispatcher, bot)
    harness = Harness(world, runtime, app, client, log, data_dir, dict(settings_overrides))
    world.responder = harness
    return harness


@contextlib.asynccontextmanager
async def harness_with(data_dir: Path, world: FakeTelegram | None = None, **options: Any) -> AsyncIterator[Harness]:
    """``start_harness`` for a test that needs settings of its own (the fixtures serve the others): the bot
    closes when the block ends, however it ends."""
    harness = await start_harness(data_dir, world, **options)
    try:
        yield harness
    finally:
        await harness.close()


async def restart(harness: Harness) -> Harness:
    """A new process over the same data directory and database: nothing in memory survives."""
    await harness.close()
    return await start_harness(harness.data_dir, harness.world, **harness.settings_overrides)

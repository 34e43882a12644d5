"""The outbox sender: delivers what transactions decided, after they commit, until Telegram accepts it.

- ``TelegramRetryAfter``: everything pauses for ``retry_after`` (flood control is per bot), then resumes.
- Network errors and 5xx: that message is retried with exponential back-off; nothing is lost.
- 403 (blocked, deactivated): recorded, never retried; a volunteer waiting on the message is told.
- 400: a message Telegram will never accept is recorded as failed (deletes that find nothing are done).

A message is marked done only after Telegram accepted it, so a crash in between sends it again on
restart (at least once); within one process each message is sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import Message

from services.context import Services
from services.events import Events
from services.policy import Policy
from storage import clock
from storage.db import Database
from storage.outbox import PendingMessage
from storage.vault import Shredded, Vault

log = structlog.get_logger()
MAX_BACKOFF_SECONDS = 300
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class Target:
    chat_id: int
    locale: str


class Renderer(Protocol):
    def render(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]: ...


class Unresolvable(Exception):
    """The recipient cannot be reached now (no assignee yet, no group configured)."""


class OutboxSender:
    def __init__(
        self, db: Database, vault: Vault, policy: Policy, events: Events, bot: Bot, renderer: Renderer
    ) -> None:
        self.db = db
        self.vault = vault
        self.policy = policy
        self.events = events
        self.bot = bot
        self.renderer = renderer
        self._wake = asyncio.Event()
        self._paused_until = clock.now()

    def ring(self) -> None:
        """Called after a transaction that may have queued messages commits."""
        self._wake.set()

    def _services(self, session: Any) -> Services:
        return Services(session, self.vault, self.policy, self.events)

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception("outbox.round_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()

    async def drain(self, max_rounds: int = 1000) -> int:
        """Send everything due now; returns how many messages Telegram accepted."""
        delivered = 0
        for _ in range(max_rounds):
            pause = (self._paused_until - clock.now()).total_seconds()
            if pause > 0:
                await asyncio.sleep(pause)
            async with self.db.transaction() as session:
                batch = await self._services(session).outbox.take_due()
            if not batch:
                return delivered
            for message in batch:
                if await self._deliver(message):
                    delivered += 1
                if self._paused_until > clock.now():
                    break  # flood control: stop this batch; the rest is unlocked and retried
            async with self.db.transaction() as session:
                await self._services(session).outbox.unlock([m.id for m in batch])
        return delivered

    async def _target(self, services: Services, message: PendingMessage) -> Target:
        if message.recipient == "requester":
            assert message.request_id is not None
            request = await services.requests.by_id(message.request_id)
            if request is None:
                raise Shredded("request is gone")
            return Target(await services.requests.requester_chat_id(request.id), request.language)
        if message.recipient in ("volunteer", "assignee"):
            volunteer_id = message.volunteer_id
            if message.recipient == "assignee":
                assert message.request_id is not None
                request = await services.requests.by_id(message.request_id)
                volunteer_id = request.assignee_id if request else None
            volunteer = await services.volunteers.by_id(volunteer_id) if volunteer_id else None
            if volunteer is None or not volunteer.active:
                raise Unresolvable("no active volunteer")
            return Target(await services.volunteers.chat_id(volunteer.id), volunteer.language)
        if message.recipient == "group":
            if self.policy.volunteer_chat_id is None:
                raise Unresolvable("no volunteers' group configured")
            return Target(self.policy.volunteer_chat_id, self.policy.default_language)
        return Target(int(message.payload["chat_id"]), str(message.payload.get("locale", "ru")))

    async def _deliver(self, message: PendingMessage) -> bool:
        try:
            async with self.db.transaction() as session:
                target = await self._target(self._services(session), message)
            method = self.renderer.render(message.payload, target)
        except Shredded:
            await self._finish(message, None)
            return False
        except Unresolvable:
            await self._retry(message, timedelta(seconds=60), count_attempt=False)
            return False
        try:
            result = await self.bot(method)
        except TelegramRetryAfter as error:
            self._paused_until = clock.now() + timedelta(seconds=error.retry_after)
            log.warning("outbox.flood_control", retry_after=error.retry_after, purpose=message.purpose)
            await self._retry(message, timedelta(seconds=error.retry_after), count_attempt=False)
            return False
        except TelegramForbiddenError:
            log.info("outbox.recipient_blocked", purpose=message.purpose)
            await self._fail(message, "blocked", tell_assignee=True)
            return False
        except TelegramBadRequest as error:
            if message.payload.get("kind") == "delete":
                await self._finish(message, None)  # gone already, or too old: nothing more to do
                return False
            reason = "chat_not_found" if "chat not found" in error.message else "bad_request"
            log.warning("outbox.refused", purpose=message.purpose, reason=reason)
            await self._fail(message, reason, tell_assignee=reason == "chat_not_found")
            return False
        except (TelegramNetworkError, TelegramServerError, TelegramNotFound, TimeoutError) as error:
            log.warning("outbox.transient_error", purpose=message.purpose, error=type(error).__name__)
            await self._retry(message, self._backoff(message.attempts))
            return False
        await self._finish(message, result if isinstance(result, Message) else None)
        return True

    @staticmethod
    def _backoff(attempts: int) -> timedelta:
        return timedelta(seconds=min(2 ** min(attempts, 16), MAX_BACKOFF_SECONDS))

    async def _retry(self, message: PendingMessage, after: timedelta, *, count_attempt: bool = True) -> None:
        if count_attempt and message.attempts + 1 >= MAX_ATTEMPTS:
            await self._fail(message, "gave_up", tell_assignee=True)
            return
        async with self.db.transaction() as session:
            await self._services(session).outbox.retry_at(message.id, clock.now() + after, count_attempt=count_attempt)

    async def _fail(self, message: PendingMessage, reason: str, *, tell_assignee: bool) -> None:
        async with self.db.transaction() as session:
            services = self._services(session)
            await services.outbox.fail(message.id, reason)
            if tell_assignee and message.recipient == "requester" and message.purpose == "relay":
                assert message.request_id is not None
                request = await services.requests.by_id(message.request_id)
                if request is not None:
                    await services.outbox.put(
                        recipient="assignee",
                        request_id=request.id,
                        purpose="notice",
                        payload={"kind": "undelivered", "code": request.code, "reason": reason},
                    )
        self.ring()

    async def _finish(self, message: PendingMessage, sent: Message | None) -> None:
        async with self.db.transaction() as session:
            services = self._services(session)
            await services.outbox.done(message.id)
            track = message.payload.get("track")
            if sent is not None and track and message.request_id is not None:
                request = await services.requests.by_id(message.request_id)
                if request is not None:
                    volunteer_id = message.volunteer_id
                    if message.recipient == "assignee":
                        volunteer_id = request.assignee_id
                    await services.shown.record(
                        request_id=request.id,
                        audience=message.recipient if message.recipient != "assignee" else "volunteer",
                        kind=str(track),
                        message_id=sent.message_id,
                        volunteer_id=volunteer_id,
                        peer_message_id=message.payload.get("peer_message_id"),
                    )

"""The outbox sender: delivers what transactions decided, after they commit, until Telegram accepts it.

The Telegram adapter of the outbox: it sends through the Bot and reads Telegram's errors. Who a message
reaches, and whether they may still have it, is the use case's (services/recipients.py).

- ``TelegramRetryAfter``: everything pauses for ``retry_after`` (flood control is per bot), then resumes.
- Network errors and 5xx: that message is retried with exponential back-off; nothing is lost.
- 403 (blocked, deactivated): recorded, never retried; a volunteer waiting on the message is told.
- 400: a message Telegram will never accept is recorded as failed (deletes that find nothing are done).
- A recipient that cannot be resolved now (no group configured) is retried a bounded number of times;
  every failure ends as a recorded dead letter (``failed_reason``), never as a row retried forever.

Access is checked again when a message goes out (services/recipients.py), and a case message that
Telegram accepted after its recipient lost access is removed again at once.

A message is marked done only after Telegram accepted it, so a crash in between sends it again on
restart (at least once); within one process each message is sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
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

from services import hygiene
from services.context import Services
from services.events import Events
from services.notices import Delete, Method, Notice, RelayOut, ScrubFailed, Undelivered, notice_type, parse
from services.policy import Policy
from services.ratelimit import NoLimits, SendLimiter
from services.recipients import DeadLetter, Target, Unresolvable, Withheld, entitled, kind_of, resolve
from storage import clock
from storage.db import Batched, Database, after_commit
from storage.outbox import LOCK_FOR, LeaseLost, PendingMessage
from storage.shown import Peer
from storage.vault import Shredded, Vault

log = structlog.get_logger()
MAX_BACKOFF_SECONDS = 300
MAX_ATTEMPTS = 50
# Set while the outbox sends: the session's flood-wait middleware then leaves the wait to the outbox.
sending_from_outbox: ContextVar[bool] = ContextVar("tropa_sending_from_outbox", default=False)
SEND_TIMEOUT = 10  # seconds; below the outbox lease, which is renewed just before each send
# A lease with less than this left is renewed before a send (one that fresh cannot run out mid-send).
RENEW_BELOW = timedelta(seconds=SEND_TIMEOUT + 2)
assert RENEW_BELOW < LOCK_FOR
ALBUM_SETTLE = timedelta(seconds=1.5)  # Telegram delivers an album's items as separate updates, quickly
ALBUM_MAX = 10
UNRESOLVED_RETRY = timedelta(seconds=60)


class Renderer(Protocol):
    def render(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]: ...

    def render_album(self, payloads: list[dict[str, Any]], target: Target) -> TelegramMethod[Any]: ...


class OutboxSender:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        policy: Policy,
        events: Events,
        bot: Bot,
        renderer: Renderer,
        limiter: SendLimiter | None = None,
    ) -> None:
        self.limiter = limiter or NoLimits()
        self.db = db
        self.vault = vault
        self.policy = policy
        self.events = events
        self.bot = bot
        self.renderer = renderer
        self._wake = asyncio.Event()
        self._paused_until = clock.now()
        self._settled = Batched(db, self._settle, "outbox.settle")
        # Sent effects whose rows are about to go: they keep this sender's lease until then, so no round of
        # this sender (or another's) takes them again and repeats them in the meantime.
        self._settling: set[str] = set()
        self._reported: set[str] = set()  # volunteers whose failed clean-up was reported by this process

    async def _settle(self, session: Any, message_ids: list[str]) -> None:
        try:
            await self._services(session).outbox.done_many(message_ids)
        finally:  # should the removal fail, the leases run out and the effects are repeated: at least once
            self._settling.difference_update(message_ids)
        # A message queued behind them in their chat's lane (the clean-up after a submission) is due now.
        after_commit(session, self._rung)

    async def _rung(self) -> None:
        self.ring()

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
            for unit in self._units(batch):
                delivered += await self._deliver(unit)
                if self._paused_until > clock.now():
                    break  # flood control: stop this batch; the rest is unlocked and retried
            async with self.db.transaction() as session:
                await self._services(session).outbox.unlock([m for m in batch if m.id not in self._settling])
            if self._settling.intersection(m.id for m in batch):
                # Effects a dead process left behind, repeated now: their rows go before the next round, or
                # they would stand at the head of their lanes until the batched removal.
                await self._settled.flush()
        return delivered

    async def _target(self, message: PendingMessage) -> Target:
        if message.recipient == "chat":
            return Target(int(message.payload["chat_id"]), str(message.payload.get("locale", "ru")))
        async with self.db.transaction() as session:
            return await resolve(self._services(session), message)

    @staticmethod
    def _units(batch: list[PendingMessage]) -> list[list[PendingMessage]]:
        """One message per unit, except album items, which travel together (at most ten per album)."""
        units: list[list[PendingMessage]] = []
        albums: dict[tuple[str, str | None, str | None, str], list[PendingMessage]] = {}
        for message in batch:
            if message.album is None:
                units.append([message])
                continue
            key = (message.recipient, message.volunteer_id, message.request_id, message.album)
            if key not in albums or len(albums[key]) == ALBUM_MAX:
                albums[key] = []
                units.append(albums[key])
            albums[key].append(message)
        return units

    async def store_effect(self, session: Any, name: str, params: dict[str, Any], chat_id: int) -> PendingMessage:
        """Queue an edit or a deletion an update made, in that update's transaction and leased to this
        process: it reaches the person even if this process dies right after the commit."""
        notice = Method(method=name, params=params, chat_id=chat_id)
        lease = clock.now() + LOCK_FOR
        message_id = await self._services(session).outbox.put(notice, lease=lease)
        return PendingMessage(
            id=message_id,
            request_id=None,
            recipient=notice.recipient,
            volunteer_id=None,
            purpose=notice.purpose,
            payload=notice.payload(),
            attempts=0,
            created_at=clock.now(),
            lease=lease,
        )

    async def deliver_now(self, message: PendingMessage, method: TelegramMethod[Any] | None = None) -> None:
        """Send what ``store_effect`` queued, right after the update's commit, without waiting. ``method``: the
        call the update made, which the stored payload describes (sent as it is instead of rebuilt from it)."""
        await self._deliver([message], limited=False, made=method)

    async def _deliver(
        self, unit: list[PendingMessage], *, limited: bool = True, made: TelegramMethod[Any] | None = None
    ) -> int:
        """Send one message, or one album; returns how many messages Telegram accepted. ``made``: the method
        already built for a single message."""
        lead = unit[0]
        if lead.lease is None or lead.lease - clock.now() < RENEW_BELOW:
            try:
                async with self.db.transaction() as session:
                    lease = await self._services(session).outbox.renew([m.id for m in unit], lead.lease)
            except LeaseLost:
                log.warning("outbox.lease_lost", purpose=lead.purpose)
                return 0
            unit = [replace(message, lease=lease) for message in unit]
            lead = unit[0]
        if lead.album is not None and clock.now() - max(m.created_at for m in unit) < ALBUM_SETTLE:
            for message in unit:  # the rest of the album may still be on its way
                await self._retry(message, ALBUM_SETTLE, count_attempt=False)
            return 0
        if (late := hygiene.overdue(lead.payload, clock.now())) is not None:
            await self._reschedule_overdue(lead, *late)
            return 0
        try:
            target = await self._target(lead)
            if made is not None and len(unit) == 1:
                method: TelegramMethod[Any] = made
            elif len(unit) > 1:
                method = self.renderer.render_album([m.payload for m in unit], target)
            else:
                method = self.renderer.render(lead.payload, target)
        except Shredded:
            for message in unit:
                await self._finish(message, None)
            return 0
        except Withheld as withheld:
            log.info("outbox.withheld", purpose=lead.purpose, reason=str(withheld))
            for message in unit:
                await self._finish(message, None)
            return 0
        except DeadLetter as dead:
            log.info("outbox.dead_letter", purpose=lead.purpose, reason=str(dead))
            for message in unit:
                await self._fail(message, str(dead), tell_assignee=False)
            return 0
        except Unresolvable:
            for message in unit:
                await self._retry(message, UNRESOLVED_RETRY)
            return 0
        # An update's own edits and deletions answer the person who just acted: they go at once, like any reply
        # -- also when a process died before it could settle them and this sender repeats them. Paced at the
        # chat's one message a second, a crashed process's backlog of a quick person's presses (each repeat
        # mostly answered "message to edit not found") held their lane, and their chat's clean-up, for as many
        # seconds as they had pressed buttons.
        paced = limited and lead.purpose != "effect"
        busy_for = await self.limiter.acquire(target.chat_id) if paced else 0.0
        if busy_for > 0:  # this chat must wait; its lane waits with it, the others go on
            for message in unit:
                await self._retry(message, timedelta(seconds=busy_for), count_attempt=False)
            return 0
        sent_at = clock.now()
        try:
            result = await self._send(method)
        except TelegramRetryAfter as error:
            self._paused_until = clock.now() + timedelta(seconds=error.retry_after)
            log.warning("outbox.flood_control", retry_after=error.retry_after, purpose=lead.purpose)
            for message in unit:
                await self._retry(message, timedelta(seconds=error.retry_after), count_attempt=False)
            return 0
        except TelegramForbiddenError:
            log.info("outbox.recipient_blocked", purpose=lead.purpose)
            for message in unit:
                await self._fail(message, "blocked", tell_assignee=message is lead)
            return 0
        except TelegramBadRequest as error:
            if kind_of(lead).settled_by_bad_request:
                for message in unit:
                    await self._finish(message, None)  # gone already, or too old: nothing more to do
                return 0
            reason = "chat_not_found" if "chat not found" in error.message else "bad_request"
            log.warning("outbox.refused", purpose=lead.purpose, reason=reason)
            for message in unit:
                await self._fail(message, reason, tell_assignee=message is lead and reason == "chat_not_found")
            return 0
        except (TelegramNetworkError, TelegramServerError, TelegramNotFound, TimeoutError) as error:
            log.warning("outbox.transient_error", purpose=lead.purpose, error=type(error).__name__)
            for message in unit:
                await self._retry(message, self._backoff(message.attempts))
            return 0
        # sent_at: when the limiter let it go (the log line's own time is when Telegram's answer came). An update's
        # own edit or deletion is logged at DEBUG only: aiogram's line for the update says it was handled.
        record = log.debug if lead.purpose == "effect" else log.info
        record("outbox.sent", purpose=lead.purpose, count=len(unit), outbox_id=lead.id, sent_at=sent_at.isoformat())
        sent = result if isinstance(result, list) else [result]
        for message, one in zip(unit, sent, strict=False):
            # An album is confirmed once, with its last item.
            await self._finish(
                message, one if isinstance(one, Message) else None, to=target.volunteer_id, last=message is unit[-1]
            )
        return len(unit)

    async def _send(self, method: TelegramMethod[Any]) -> Any:
        """One bounded attempt: a flood wait comes back here at once (the lane is retried later) instead
        of being waited out inside the session, so a send always ends well within the lease."""
        token = sending_from_outbox.set(True)
        try:
            return await self.bot(method, request_timeout=SEND_TIMEOUT)
        finally:
            sending_from_outbox.reset(token)

    @staticmethod
    def _backoff(attempts: int) -> timedelta:
        return timedelta(seconds=min(2 ** min(attempts, 16), MAX_BACKOFF_SECONDS))

    async def _retry(self, message: PendingMessage, after: timedelta, *, count_attempt: bool = True) -> None:
        if count_attempt and message.attempts + 1 >= MAX_ATTEMPTS:
            await self._fail(message, "gave_up", tell_assignee=True)
            return
        async with self.db.transaction() as session:
            await self._services(session).outbox.retry_at(message.id, clock.now() + after, count_attempt=count_attempt)

    async def _reschedule_overdue(self, message: PendingMessage, young: Delete | None, edits: Sequence[Notice]) -> None:
        """A removal that waited past Telegram's 48 hours: what can still be deleted is, the bot's own older
        messages are edited down to one line instead."""
        async with self.db.transaction() as session:
            outbox = self._services(session).outbox
            for removal in [young, *edits] if young else edits:
                await outbox.put(removal, recipient=message.recipient, volunteer_id=message.volunteer_id)
            await outbox.done(message.id)
        log.info("outbox.removal_overdue", count=len(edits))
        self.ring()

    async def _fail(self, message: PendingMessage, reason: str, *, tell_assignee: bool) -> None:
        async with self.db.transaction() as session:
            services = self._services(session)
            kind = notice_type(message.payload)
            if kind is not None and kind.secret_inside:
                await services.outbox.done(message.id)  # a secret is not kept as a dead letter for weeks
            else:
                await services.outbox.fail(message.id, reason)
            report_to = message.payload.get("report_to")
            if message.purpose == "hygiene" and report_to and message.volunteer_id:
                # Removing what a revoked volunteer was shown failed: whoever revoked them has to know, once
                # (the chat that refused one removal refuses the others too).
                await services.outbox.fail_pending(message.volunteer_id, "hygiene", reason)
                if message.volunteer_id not in self._reported:
                    self._reported.add(message.volunteer_id)
                    notice = ScrubFailed(name=str(message.payload.get("name", "—")), reason=reason)
                    await services.outbox.put(notice, volunteer_id=str(report_to))
            if tell_assignee and message.recipient == "requester" and message.purpose == "relay":
                assert message.request_id is not None
                request = await services.requests.by_id(message.request_id)
                if request is not None:
                    await services.outbox.put(Undelivered(code=request.code, reason=reason), request_id=request.id)
        self.ring()

    async def settle(self) -> None:
        """Remove the rows of edits and deletions already sent now, instead of in a moment."""
        await self._settled.flush()

    async def close(self) -> None:
        """Settle what was sent and is still waiting to be, before the process goes."""
        await self._settled.close()

    async def _finish(
        self, message: PendingMessage, sent: Message | None, *, to: str | None = None, last: bool = True
    ) -> None:
        """Mark a message done; a tracked one is remembered with the chat it went to (``to``: the volunteer
        it was resolved to when sent, not whoever holds the case by now), and a volunteer's message to the
        person is confirmed to them (``last``: of its album)."""
        if message.purpose == "effect":
            # An update's edit or deletion went out; its row goes with the others of this moment. Should
            # this process die first, the lease runs out and another sender repeats it: at least once,
            # like every send, and mostly answered "not modified" or "message not found" (decision 0006).
            self._settling.add(message.id)
            self._settled.add(message.id)
            return
        async with self.db.transaction() as session:
            services = self._services(session)
            await services.outbox.done(message.id)
            track = message.payload.get("track")
            if sent is not None and track and message.request_id is not None:
                request = await services.requests.by_id(message.request_id)
                if request is None:
                    # Shredded while Telegram was taking it (a /forget, a purge): nothing tracks it any more,
                    # so it is taken away at once, from whichever chat it went to.
                    await hygiene.enqueue_chat_deletes(
                        services, sent.chat.id, [sent.message_id], services.policy.default_language
                    )
                    self.ring()
                    return
                volunteer_id = to or message.volunteer_id
                if volunteer_id is not None and not await entitled(services, message, request, volunteer_id):
                    # Access ended while Telegram was taking the message: it is taken away again at once.
                    removal = Delete(message_ids=[sent.message_id])
                    await services.outbox.put(removal, recipient="volunteer", volunteer_id=volunteer_id)
                    self.ring()
                    return
                peer = message.payload.get("peer")
                await services.shown.record(
                    request_id=request.id,
                    audience=message.recipient if message.recipient != "assignee" else "volunteer",
                    kind=str(track) if sent.text is not None else f"{track}_media",
                    message_id=sent.message_id,
                    volunteer_id=volunteer_id,
                    peer=Peer(peer["audience"], peer["owner"], int(peer["id"])) if peer else None,
                )
                notice = parse(message.payload) if kind_of(message) is RelayOut else None
                if isinstance(notice, RelayOut) and last and peer:
                    await services.relay.delivered(request, notice, peer["owner"])

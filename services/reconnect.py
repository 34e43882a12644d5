"""Attaching a request to another Telegram account, with a key shown once (docs/decisions/0012).

After Submit, and after each use, the person is shown a key: the request's code and a one-time secret of 80
bits. Sent to the bot from a new account, it moves the request there: the earlier account loses the link, the
volunteer holding it is told by code only, and a new key replaces the used one. Guessing is infeasible: 80 bits,
at most five wrong keys an hour per account, and a code that drew ten wrong keys in a day opens for nobody that
day; a wrong key gets one answer, whether its code exists or not.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from services.hygiene import DELETABLE_FOR, enqueue_chat_deletes
from services.notices import Neutralize, Reconnected, ReconnectKey
from services.use_case import UseCase
from storage import clock
from storage.ids import CODE_ALPHABET, CODE_LENGTH, normalize_request_code
from storage.kinds import Recipient, Status
from storage.reconnect import ReconnectFailures
from storage.requests import DuplicateOpenRequest, RequestRecord

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # base32 without I, L, O, U: read aloud, typed by hand
SECRET_LENGTH = 16  # 80 bits
GROUP = 4
ACCOUNT_FAILURES = 5  # an hour, per account
ACCOUNT_WINDOW = timedelta(hours=1)
CODE_FAILURES = 10  # a day, per request code: then it opens for nobody until the day has passed
CODE_WINDOW = timedelta(hours=24)
KEY_SHOWN_FOR = timedelta(hours=24)  # the message with the key is deleted after this, well under Telegram's 48
KEY_KIND = ReconnectKey.track or "reconnect_key"
# As typed: "R-7KQ3XM-ABCD-EFGH-JKMN-PQRS", spaces, dashes or dots between the parts, any case.
KEY_PATTERN = re.compile(
    rf"R[-\s.]*([{CODE_ALPHABET}]{{{CODE_LENGTH}}})[-\s.]*((?:[0-9A-Z][-\s.]*){{{SECRET_LENGTH}}})", re.IGNORECASE
)
READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class Outcome(StrEnum):
    ATTACHED = "attached"
    WRONG = "wrong"  # no such key, a used one, or a code locked after too many wrong keys: one answer for all
    TOO_MANY = "too_many"  # this account sent too many wrong keys within the hour
    HAS_REQUEST = "has_request"  # this account already has an open request
    CLOSED = "closed"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    request: RequestRecord | None = None


def new_secret() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(SECRET_LENGTH))


def key_text(code: str, secret: str) -> str:
    """The key as shown: the code, then the secret in groups of four."""
    return "-".join([code, *(secret[i : i + GROUP] for i in range(0, len(secret), GROUP))])


def parse_key(text: str) -> tuple[str, str] | None:
    """(code, secret) from what a person sent, or None when it cannot be a key."""
    match = KEY_PATTERN.search(text or "")
    if match is None:
        return None
    code = normalize_request_code(match.group(1))
    secret = re.sub(r"[-\s.]", "", match.group(2)).upper().translate(READ_AS)
    if code is None or any(char not in CROCKFORD for char in secret):
        return None
    return code, secret


class ReconnectService(UseCase):
    @cached_property
    def failures(self) -> ReconnectFailures:
        return ReconnectFailures(self.s.session, self.s.vault)

    async def issue(self, request: RequestRecord) -> None:
        """A new key for ``request``: its hash replaces the one before (which works no more), and the key goes
        to the person once, through the outbox."""
        secret = new_secret()
        await self.s.requests.set_reconnect_key(request.id, secret)
        await self.s.outbox.put(ReconnectKey(code=request.code, secret=secret), request_id=request.id)

    async def attach(self, *, user_id: int, chat_id: int, text: str, language: str) -> Attempt:
        """Try the key ``text`` from the account ``user_id``; on success the request is theirs from now on."""
        account = self.failures.account(user_id)
        now = clock.now()
        if await self.failures.since(account, now - ACCOUNT_WINDOW) >= ACCOUNT_FAILURES:
            return Attempt(Outcome.TOO_MANY)
        if await self.s.requests.open_for_requester(user_id) is not None:
            return Attempt(Outcome.HAS_REQUEST)
        parsed = parse_key(text)
        if parsed is None:
            await self.failures.record(account)
            return Attempt(Outcome.WRONG)
        code, secret = parsed
        request = await self._verified(code, secret, now)
        if request is None:
            await self.failures.record(account, self.failures.code(code))
            return Attempt(Outcome.WRONG)
        if request.requester_blocked:
            # The same polite nothing a blocked person always gets, and this account is theirs too.
            await self.s.requests.block_account(user_id, blocked_by=None)
            return Attempt(Outcome.BLOCKED, request)
        if request.status is Status.CLOSED:
            return Attempt(Outcome.CLOSED, request)
        try:
            await self._move(request, user_id, chat_id, language)
        except DuplicateOpenRequest:
            return Attempt(Outcome.HAS_REQUEST)
        return Attempt(Outcome.ATTACHED, await self.s.requests.by_id(request.id))

    async def _verified(self, code: str, secret: str, now: datetime) -> RequestRecord | None:
        if await self.failures.since(self.failures.code(code), now - CODE_WINDOW) >= CODE_FAILURES:
            return None  # locked for the day: even the right key waits
        request = await self.s.requests.by_code(code)
        if request is None or not await self.s.requests.reconnect_key_matches(request.id, secret):
            return None
        return request

    async def _move(self, request: RequestRecord, user_id: int, chat_id: int, language: str) -> None:
        s = self.s
        old_chat = await s.requests.requester_chat_id(request.id)
        shown = await s.shown.for_request(request.id, audience="requester")
        await s.requests.move_requester(request.id, user_id, chat_id)
        # What the bot can still delete from the earlier phone goes; the rest is the person's to clear.
        deletable = clock.now() - DELETABLE_FOR
        young = [item.message_id for item in shown if item.sent_at > deletable]
        await enqueue_chat_deletes(s, old_chat, young, request.language)
        await s.shown.forget([item.id for item in shown])
        await s.requests.set_language(request.id, language)
        await s.audit.record("reconnected", actor_id=None, request_id=request.id)
        if request.status is Status.CLAIMED and request.assignee_id is not None:
            await s.outbox.put(Reconnected(code=request.code), request_id=request.id)
        await self.issue(request)  # single use: the key just used opens nothing any more

    async def key_noted(self, user_id: int, message_id: int) -> None:
        """The person wrote the key down and deleted its message: nothing is left to delete later."""
        for request_id in await self.s.requests.ids_for_requester(user_id):
            shown = await self.s.shown.for_request(request_id, audience="requester")
            await self.s.shown.forget([i.id for i in shown if i.kind == KEY_KIND and i.message_id == message_id])

    async def expire_keys(self) -> int:
        """Keys shown a day ago and not yet deleted leave the chat now, while the bot can still delete them; one
        the bot can no longer delete (it was down for a day) is edited down to a line without the key."""
        now = clock.now()
        expired = await self.s.shown.of_kind(KEY_KIND, sent_before=now - KEY_SHOWN_FOR)
        for item in expired:
            record = await self.s.requests.by_id(item.request_id)
            if record is None:
                continue
            if item.sent_at > now - DELETABLE_FOR:
                chat = await self.s.requests.requester_chat_id(record.id)
                await enqueue_chat_deletes(self.s, chat, [item.message_id], record.language)
            else:
                edit = Neutralize(message_id=item.message_id, media=False, code=record.code, reason="key_expired")
                await self.s.outbox.put(edit, recipient=Recipient.REQUESTER, request_id=record.id)
        await self.s.shown.forget([item.id for item in expired])
        await self.failures.forget_before(now - CODE_WINDOW)
        return len(expired)

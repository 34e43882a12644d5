"""(c) of the dispatch benchmark: a plain aiogram bot doing what one Tropa intake step does for Telegram and
the disk, without Tropa (no middlewares, no ORM, no sealing, no outbox sender).

Each update is handled by one of two handlers on a bare ``Dispatcher`` (one for messages, one for button
presses), which keeps the person's place in an ``fsm_state`` row and, in one SQLite transaction on one
aiosqlite connection behind one asyncio lock (SQLite has one writer), makes the statements Tropa made for
that kind of update on main at 9a61038 -- counted with a ``before_cursor_execute`` listener over the whole
walk (bench/README.md) -- as plain SQL, with random bytes of the same size where Tropa writes ciphertext:

=============  =======================================================================  =====================
update         statements in the transaction (besides BEGIN, COMMIT)                    Bot API calls
=============  =======================================================================  =====================
/start         claim the update id; who is a volunteer; who is blocked; the open         sendMessage
               request (twice); the FSM row; send the question; write the FSM row
a press        claim; volunteer; blocked; FSM row; write the FSM row; queue the edit     editMessageText,
               (an outbox row of ~1 KB); after the commit: edit, answer, the outbox      answerCallbackQuery
               row deleted with others a moment later
description    claim; volunteer; blocked; FSM row; send the review; write the FSM row;   sendMessage,
               queue the old question's deletion; after the commit: delete it            deleteMessages
Submit         claim; volunteer (twice); blocked (three times); FSM row; the key         answerCallbackQuery,
               epoch; a data key; the request; an audit event; the request's data key;   sendMessage,
               two outbox rows; ten counters (one executemany); delete the FSM row;      deleteMessages
               after the commit: answer, confirm, clean the chat, then one transaction
               reading the request and its key, deleting the two outbox rows and
               recording the confirmation as shown
=============  =======================================================================  =====================

The tables are Tropa's own (created from ``storage.models``, so every index is maintained the same way) with
the same pragmas (WAL, ``secure_delete``, ``synchronous=NORMAL``, foreign keys). It is a floor, not a model of
a good bot: it checks nothing and seals nothing. Tropa is compared with it, update for update, in one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
from aiogram import Bot, Dispatcher
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from sqlalchemy import create_engine

from storage.models import Base

# The labels a person presses, in order (the same walk as Tropa's intake, bench/dispatch_bench.py).
STEP_TEXT = (
    "Question {n} of the intake. Choose what fits you best; you can go back and change an answer before "
    "you send anything. Nothing is stored until you agree, and the chat is cleaned when you are done."
)
REVIEW_TEXT = "Please check your answers before sending. " * 8
CONFIRMATION = "Your request is sent. A volunteer will write to you here; the code of your request is R-{code}."
KEY_TEXT = "Your key to request R-{code}: write it down somewhere safe. " * 4
FSM_BYTES = 300  # a sealed FSM record in Tropa's walk: 250-370 bytes
OUTBOX_BYTES = 1000  # a sealed outbox payload (an edit's text and keyboard): about 1 KB
REQUEST_BYTES = 400  # a request's sealed answers
# The statements of an intake press, as Tropa's storage makes them (bench/sql_floor.py times them alone too).
CLAIM_SQL = (
    "INSERT INTO processed_updates (update_id, handled_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING update_id"
)
BLOCKED_SQL = "SELECT * FROM blocked_requesters WHERE requester_index = ?"
READ_FSM_SQL = "SELECT key, state, data, updated_at FROM fsm_state WHERE key = ?"
WRITE_FSM_SQL = "UPDATE fsm_state SET state = ?, data = ?, updated_at = ? WHERE key = ?"
QUEUE_SQL = (
    "INSERT INTO outbox (id, request_id, recipient, volunteer_id, purpose, lane, album, payload, attempts, "
    "created_at, next_attempt_at, locked_until, failed_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SETTLE_DELAY = 0.2  # sent effects' outbox rows are deleted together, like Tropa's (storage/db.Batched)


def _now() -> str:
    return datetime.now(UTC).isoformat(sep=" ")


def _id() -> str:
    return os.urandom(16).hex()


def create_schema(path: Path) -> None:
    """Tropa's tables and indexes, in a fresh SQLite file (setup, not timed)."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


class SameWorkBot:
    """The handlers and their storage. ``labels``: what the person presses after /start, in order."""

    def __init__(self, path: Path, labels: Sequence[str]) -> None:
        self.path = path
        self.labels = list(labels)
        self.gate = asyncio.Lock()
        self.db: aiosqlite.Connection | None = None
        self._sent: list[str] = []
        self._settler: asyncio.Task[None] | None = None

    async def open(self) -> None:
        create_schema(self.path)
        self.db = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA secure_delete=ON",
            "PRAGMA busy_timeout=10000",
            "PRAGMA synchronous=NORMAL",
        ):
            await self.db.execute(pragma)

    async def close(self) -> None:
        await self.settle()
        if self._settler is not None:
            await self._settler
        if self.db is not None:
            await self.db.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        assert self.db is not None
        async with self.gate:
            await self.db.execute("BEGIN")
            try:
                yield self.db
            except BaseException:
                await self.db.rollback()
                raise
            await self.db.commit()

    # -- the statements, as Tropa makes them -------------------------------------------------------------

    @staticmethod
    async def claim(db: aiosqlite.Connection, update_id: int) -> bool:
        rows = await db.execute_fetchall(CLAIM_SQL, (update_id, _now()))
        return bool(list(rows))

    @staticmethod
    async def who(db: aiosqlite.Connection, user_id: int, *, volunteers: int = 1, blocked: int = 1) -> None:
        index = f"{user_id:064x}"
        for _ in range(volunteers):
            await db.execute_fetchall("SELECT * FROM volunteers WHERE tg_index = ? AND active IS 1", (index,))
        for _ in range(blocked):
            await db.execute_fetchall(BLOCKED_SQL, (index,))

    @staticmethod
    async def read_fsm(db: aiosqlite.Connection, key: str) -> dict[str, Any] | None:
        rows = list(await db.execute_fetchall(READ_FSM_SQL, (key,)))
        if not rows:
            return None
        return dict(json.loads(bytes(rows[0][2]).rstrip(b" ")))

    @staticmethod
    async def write_fsm(db: aiosqlite.Connection, key: str, data: dict[str, Any], *, new: bool) -> None:
        blob = json.dumps(data).encode().ljust(FSM_BYTES)
        if new:
            await db.execute(
                "INSERT INTO fsm_state (key, state, data, updated_at) VALUES (?, ?, ?, ?)",
                (key, f"step-{data['step']}", blob, _now()),
            )
        else:
            await db.execute(WRITE_FSM_SQL, (f"step-{data['step']}", blob, _now(), key))

    @staticmethod
    async def queue(db: aiosqlite.Connection, chat_id: int, *, request_id: str | None = None) -> str:
        message_id = _id()
        now = _now()
        await db.execute(
            QUEUE_SQL,
            (
                message_id,
                request_id,
                "chat",
                None,
                "effect",
                f"chat:{chat_id:032x}",
                None,
                os.urandom(OUTBOX_BYTES),
                0,
                now,
                now,
                now,
                None,
            ),
        )
        return message_id

    def sent(self, message_id: str) -> None:
        self._sent.append(message_id)
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle_later())

    async def _settle_later(self) -> None:
        while self._sent:
            await asyncio.sleep(SETTLE_DELAY)
            await self.settle()

    async def settle(self) -> None:
        taken, self._sent = self._sent, []
        if taken:
            async with self.transaction() as db:
                marks = ", ".join("?" * len(taken))  # placeholders only: the ids are parameters
                await db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", taken)  # noqa: S608

    # -- what the person sees ------------------------------------------------------------------------------

    def screen(self, step: int) -> tuple[str, InlineKeyboardMarkup]:
        label = self.labels[step] if step < len(self.labels) else "Submit"
        others = [f"Other choice {n}" for n in range(3)]
        keyboard = [
            [InlineKeyboardButton(text=text, callback_data=f"s:{step}:{n}")] for n, text in enumerate([label, *others])
        ]
        text = REVIEW_TEXT if step == len(self.labels) else STEP_TEXT.format(n=step + 1)
        return text, InlineKeyboardMarkup(inline_keyboard=keyboard)

    # -- the handlers -------------------------------------------------------------------------------------

    async def on_message(self, message: Message, bot: Bot, event_update: Update) -> None:
        assert message.from_user is not None
        user_id, chat_id = message.from_user.id, message.chat.id
        key = f"{chat_id}:{user_id}"
        async with self.transaction() as db:
            if not await self.claim(db, event_update.update_id):
                return
            starting = message.text == "/start"
            if starting:
                await self.who(db, user_id)
                for _ in range(2):  # the open request: the /start handler and the language middleware
                    await db.execute_fetchall(
                        "SELECT * FROM requests WHERE requester_index = ? AND status IN ('new', 'claimed')",
                        (f"{user_id:064x}",),
                    )
                data = await self.read_fsm(db, key)
                text, markup = self.screen(0)
                sent = await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
                await self.write_fsm(
                    db,
                    key,
                    {"step": 0, "prompt": sent.message_id, "tracked": [message.message_id, sent.message_id]},
                    new=data is None,
                )
                return
            # The description: a new message (the review), and the old question goes.
            await self.who(db, user_id)
            data = await self.read_fsm(db, key)
            assert data is not None
            text, markup = self.screen(len(self.labels))
            sent = await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup, protect_content=True)
            old = data["prompt"]
            tracked = [*(m for m in data["tracked"] if m != old), message.message_id, sent.message_id]
            data.update(step=len(self.labels), prompt=sent.message_id, tracked=tracked)
            await self.write_fsm(db, key, data, new=False)
            queued = await self.queue(db, chat_id)
        await bot.delete_messages(chat_id=chat_id, message_ids=[old])
        self.sent(queued)

    async def on_press(self, callback: CallbackQuery, bot: Bot, event_update: Update) -> None:
        user_id = callback.from_user.id
        message = callback.message
        assert isinstance(message, Message)
        key = f"{message.chat.id}:{user_id}"
        step = int(str(callback.data).split(":")[1])
        if step == len(self.labels):
            await self.submit(callback, message, key, event_update.update_id, bot)
            return
        async with self.transaction() as db:
            if not await self.claim(db, event_update.update_id):
                return
            await self.who(db, user_id)
            data = await self.read_fsm(db, key)
            assert data is not None
            data["step"] = step + 1
            await self.write_fsm(db, key, data, new=False)
            queued = await self.queue(db, message.chat.id)
        if step + 1 < len(self.labels):
            text, markup = self.screen(step + 1)
            await message.edit_text(text=text, reply_markup=markup)
        else:  # the last press before the description: the question asks for it, with no buttons
            await message.edit_text(text="Describe your situation in a few words (no names, no unit numbers).")
        await callback.answer()
        self.sent(queued)

    async def submit(self, callback: CallbackQuery, message: Message, key: str, update_id: int, bot: Bot) -> None:
        user_id, chat_id = callback.from_user.id, message.chat.id
        request_id, code = _id(), _id()[:6].upper()
        now = _now()
        async with self.transaction() as db:
            if not await self.claim(db, update_id):
                return
            await self.who(db, user_id, volunteers=2, blocked=3)
            data = await self.read_fsm(db, key)
            assert data is not None
            await db.execute_fetchall(
                "SELECT key, value FROM meta WHERE key IN (?, ?)", ("kek.active", "ephemeral.current")
            )
            await db.execute(
                "INSERT INTO data_keys (owner_id, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?)",
                (request_id, "00000000", os.urandom(60), now),
            )
            await db.execute(
                "INSERT INTO requests (id, code, requester_index, status, urgency, urgency_rank, language, created_at, "
                "updated_at, last_activity_at, flagged, requester_blocked, answers, chat_id) "
                "VALUES (?, ?, ?, 'new', 'week', 1, 'en', ?, ?, ?, 0, 0, ?, ?)",
                (request_id, f"R-{code}", f"{user_id:064x}", now, now, now, os.urandom(REQUEST_BYTES), os.urandom(40)),
            )
            await db.execute(
                "INSERT INTO audit_events (id, at, actor_id, action, request_id, detail) VALUES (?, ?, NULL, ?, ?, ?)",
                (_id(), now, "submitted", request_id, "en"),
            )
            await db.execute_fetchall("SELECT * FROM data_keys WHERE owner_id = ?", (request_id,))
            confirmation, cleaning = await self.queue(db, chat_id, request_id=request_id), await self.queue(db, chat_id)
            key_shown = await self.queue(db, chat_id, request_id=request_id)  # the reconnect key, shown once
            await db.executemany(
                "INSERT INTO stat_counters (week, metric, bucket, count) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (week, metric, bucket) DO UPDATE SET count = count + 1",
                [("2026-W01", "answer", f"bucket-{n}") for n in range(10)],
            )
            await db.execute("DELETE FROM fsm_state WHERE key = ?", (key,))
        await callback.answer("Sent.")
        await bot.send_message(chat_id=chat_id, text=CONFIRMATION.format(code=code))
        await bot.send_message(chat_id=chat_id, text=KEY_TEXT.format(code=code), protect_content=True)
        await bot.delete_messages(chat_id=chat_id, message_ids=sorted(data["tracked"]))
        async with self.transaction() as db:
            await db.execute_fetchall("SELECT * FROM requests WHERE id = ?", (request_id,))
            await db.execute_fetchall("SELECT * FROM data_keys WHERE owner_id = ?", (request_id,))
            await db.execute("DELETE FROM outbox WHERE id IN (?, ?, ?)", (confirmation, cleaning, key_shown))
            await db.executemany(
                "INSERT INTO shown_messages (id, request_id, volunteer_id, audience, kind, lookup, peer_lookup, ref, "
                "sent_at) VALUES (?, ?, NULL, 'requester', ?, ?, NULL, ?, ?)",
                [
                    (_id(), request_id, kind, _id(), os.urandom(60), _now())
                    for kind in ("confirmation", "reconnect_key")
                ],
            )

    def dispatcher(self) -> Dispatcher:
        dispatcher = Dispatcher()
        dispatcher.message.register(self.on_message)
        dispatcher.callback_query.register(self.on_press)
        return dispatcher

"""The server's state and what every method needs from it: finding chats, storing messages and files,
queueing updates, and waking whoever waits for a change."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from testkit.telegram.copying import clone
from testkit.telegram.errors import BLOCKED, ApiError, Json, bad_request
from testkit.telegram.faults import Fault
from testkit.telegram.params import Params
from testkit.telegram.stored import (
    FILE_ID_PREFIXES,
    Account,
    CallbackAnswer,
    CallbackQueryRecord,
    CallRecord,
    StoredChat,
    StoredFile,
    StoredMessage,
    Upload,
    WebhookConfig,
)


class WorldState:
    """Chats, messages, files, pending updates and callback queries, with the rules they share."""

    def __init__(
        self,
        token: str,
        bot_username: str,
        now: Callable[[], datetime],
        bot_name: str,
        callback_timeout: timedelta,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.now = now
        self.callback_timeout = callback_timeout

        self.calls: list[CallRecord] = []
        self.faults: list[Fault] = []
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.webhook = WebhookConfig()
        self.users: dict[int, Account] = {}

        self.chats: dict[int, StoredChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.pending: list[Json] = []
        self.allowed_updates: set[str] | None = None
        self.poll_generation = 0
        self.closed = False
        self.update_ids = itertools.count(10_001)
        self.query_ids = itertools.count(4_730_000_000_000_000_001)
        self.file_numbers = itertools.count(1)
        self.group_ids = itertools.count(1_001_000_000_001)  # ids print as -1001000000001
        self._event: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        # Waiters on one chat are woken by changes to that chat only: hundreds of simulated people each
        # re-checking after every change anywhere made the load test's driver, not the bot, the bottleneck.
        self._chat_events: dict[int, asyncio.Event] = {}

    def bot_json(self) -> Json:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    # --- chats ----------------------------------------------------------------------------------------------

    def stored_chat(self, chat_id: int) -> StoredChat:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise LookupError(f"no chat {chat_id} in this world") from None

    def chat_param(self, p: Params) -> StoredChat:
        """The chat named by ``chat_id``, as the bot may address it."""
        raw = p.get("chat_id")
        if raw is None:
            raise bad_request("chat_id is empty")
        try:
            chat = self.chats.get(int(raw))
        except (TypeError, ValueError):
            chat = None
        if chat is None or (chat.type == "private" and not chat.started):
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, p: Params) -> StoredChat:
        chat = self.chat_param(p)
        if chat.type == "private" and chat.blocked:
            raise ApiError(403, BLOCKED)
        if chat.bot_kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        return chat

    # --- messages -------------------------------------------------------------------------------------------

    def store(
        self,
        chat: StoredChat,
        content: Json,
        *,
        sender: Account | None = None,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        created = self.now()
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data: Json = {"message_id": message_id}
        data["from"] = sender.to_json() if sender else self.bot_json()
        data["chat"] = chat.to_json()
        data["date"] = int(created.timestamp())
        if reply_to is not None:
            data["reply_to_message"] = {
                key: clone(value) for key, value in reply_to.data.items() if key != "reply_to_message"
            }
        data.update(clone(content))
        message = StoredMessage(
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            created=created,
            sender="user" if sender else "bot",
            sender_id=sender.id if sender else self.bot_id,
        )
        chat.messages[message_id] = message
        return message

    # --- files ----------------------------------------------------------------------------------------------

    def new_file(self, kind: str, upload: Upload, **details: Any) -> StoredFile:
        number = next(self.file_numbers)
        stored = StoredFile(
            file_id=f"{FILE_ID_PREFIXES[kind]}{number:06d}{kind[:2]}",
            file_unique_id=f"AQAD{number:06d}",
            kind=kind,
            data=upload.data,
            file_name=upload.filename if kind in ("document", "video", "audio", "animation") else None,
            mime_type=upload.content_type,
            **details,
        )
        if kind == "photo":
            stored.width, stored.height = stored.width or 1280, stored.height or 960
            stored.thumbnail_id = f"{FILE_ID_PREFIXES[kind]}{number:06d}sm"
            self.files[stored.thumbnail_id] = stored
        if kind == "document" and not stored.mime_type:
            stored.mime_type = "application/octet-stream"
        self.files[stored.file_id] = stored
        return stored

    def input_file(self, value: Any, kind: str, p: Params, **details: Any) -> StoredFile:
        """A file to send: an upload (inline or ``attach://``), a URL Telegram downloads, or a known file_id."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.raw.get(value.removeprefix("attach://"))
            if value is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        if isinstance(value, Upload):
            if not value.data:
                raise bad_request("file must be non-empty")
            return self.new_file(kind, value, **details)
        if not isinstance(value, str) or not value:
            raise bad_request(f'parameter "{kind}" is required')
        if value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1] or None
            return self.new_file(kind, Upload(f"downloaded from {value}".encode(), name), **details)
        stored = self.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request("type of file mismatch")
        return stored

    # --- updates and waiting --------------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: Json) -> Json:
        update = {"update_id": next(self.update_ids), kind: clone(payload)}
        self.pending.append(update)
        chat = payload.get("chat") or payload.get("message", {}).get("chat")
        self.changed(int(chat["id"]) if chat else None)
        return clone(update)

    def changed(self, chat_id: int | None = None) -> None:
        """Wake every waiter on the whole world, and those on ``chat_id`` (on every chat if it is unknown)."""
        event, self._event = self._event, None
        if event is not None:
            event.set()
        if chat_id is None:
            woken = list(self._chat_events.values())
            self._chat_events.clear()
        else:
            one = self._chat_events.pop(chat_id, None)
            woken = [one] if one is not None else []
        for waiter in woken:
            waiter.set()

    async def wait_change(self, seconds: float, chat_id: int | None = None) -> None:
        """Sleep until the next state change (of ``chat_id`` if given), or ``seconds`` at most."""
        loop = asyncio.get_running_loop()
        if self._event_loop is not loop:
            self._event, self._event_loop = None, loop
            self._chat_events.clear()
        if chat_id is None:
            if self._event is None:
                self._event = asyncio.Event()
            event = self._event
        else:
            event = self._chat_events.setdefault(chat_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

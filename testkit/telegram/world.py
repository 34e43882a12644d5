"""An in-memory model of the Telegram Bot API server, strict where Telegram is strict, for the methods
Tropa calls.

``FakeTelegram`` holds chats, messages, files, pending updates and callback queries. The bot talks to it
through :meth:`FakeTelegram.call` (an ``async`` method: ``getUpdates`` long-polls; every other method
completes without awaiting anything), either in-process through ``RecordingSession`` or over HTTP through
``BotApiEmulator``. People (:class:`~testkit.telegram.person.Person`) act on it, which queues updates
exactly as Telegram would deliver them, and see it through :class:`~testkit.telegram.views.ChatView`.

A Bot API method Tropa never called is not modelled: calling one raises
:class:`~testkit.telegram.errors.NotModelled` instead of answering as Telegram might.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiogram import methods as aiogram_methods

from storage import clock
from testkit.telegram import bot_settings, callbacks, deleting, editing, sending, updates
from testkit.telegram.copying import clone
from testkit.telegram.errors import DEFAULT_CALLBACK_TIMEOUT, ApiError, DroppedConnection, Json, NotModelled
from testkit.telegram.faults import Fault, FaultKind, fault, fire
from testkit.telegram.params import Params
from testkit.telegram.person import Person, Responder
from testkit.telegram.state import WorldState
from testkit.telegram.stored import Account, CallbackQueryRecord, CallRecord, StoredChat, StoredFile, StoredMessage
from testkit.telegram.views import ChatView

T = TypeVar("T")
Method = Callable[[WorldState, Params], Any]

# The Bot API methods Tropa calls, and what answers each. getUpdates, which long-polls, is apart.
METHODS: dict[str, Method] = {
    "getMe": bot_settings.get_me,
    "setMyCommands": bot_settings.set_my_commands,
    "setWebhook": bot_settings.set_webhook,
    "deleteWebhook": bot_settings.delete_webhook,
    "sendMessage": sending.send_message,
    "sendPhoto": sending.media_sender("photo"),
    "sendDocument": sending.media_sender("document"),
    "sendVoice": sending.media_sender("voice"),
    "sendVideoNote": sending.media_sender("video_note"),
    "sendSticker": sending.media_sender("sticker"),
    "sendVideo": sending.media_sender("video"),
    "sendAudio": sending.media_sender("audio"),
    "sendAnimation": sending.media_sender("animation"),
    "sendMediaGroup": sending.send_media_group,
    "editMessageText": editing.edit_message_text,
    "editMessageCaption": editing.edit_message_caption,
    "editMessageReplyMarkup": editing.edit_message_reply_markup,
    "deleteMessage": deleting.delete_message,
    "deleteMessages": deleting.delete_messages,
    "answerCallbackQuery": callbacks.answer_callback_query,
}
_BY_LOWER_NAME = {name.lower(): (name, method) for name, method in METHODS.items()}


def _telegram_methods() -> dict[str, str]:
    """Every method the Bot API has (as aiogram knows them), to tell one this model leaves out from a typo."""
    names = (getattr(cls, "__api_method__", None) for cls in vars(aiogram_methods).values())
    return {name.lower(): name for name in names if isinstance(name, str)}


_TELEGRAM_METHODS = _telegram_methods()


class FakeTelegram(WorldState):
    """The Bot API server side: state, rules and the update queue. See the module docstring."""

    def __init__(
        self,
        token: str = "42:TEST-token-not-real",  # noqa: S107 - a fake token for a fake server
        bot_username: str = "tropa_test_bot",
        now: Callable[[], datetime] | None = None,
        *,
        bot_name: str = "Tropa",
        callback_timeout: timedelta = DEFAULT_CALLBACK_TIMEOUT,
    ) -> None:
        super().__init__(token, bot_username, now or clock.now, bot_name, callback_timeout)
        self.responder: Responder | None = None  # who answers people here; see testkit.telegram.person

    # --- people and chats -----------------------------------------------------------------------------------

    def person(
        self,
        user_id: int,
        first_name: str = "User",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        last_name: str | None = None,
        started: bool = False,
    ) -> Person:
        """A Telegram user and their private chat with the bot (chat id == user id). The account is made
        once; later calls return the same person. ``started``: they pressed Start some time ago."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        account = self.users.get(user_id)
        if account is None:
            account = Account(user_id, first_name, username, language_code, last_name)
            self.users[user_id] = account
            self.chats[user_id] = StoredChat(id=user_id, type="private", account=account)
        if started:
            self.chats[user_id].started = True
        return Person(self, account)

    def group(
        self,
        chat_id: int | None = None,
        title: str = "Group",
        members: Iterable[Person] = (),
        *,
        bot_is_admin: bool = True,
        privacy_mode: bool = True,
    ) -> ChatView:
        """A supergroup the bot is in. A non-admin bot in privacy mode only sees commands and replies."""
        chat_id = chat_id if chat_id is not None else -next(self.group_ids)
        if chat_id >= 0:
            raise ValueError("group chat ids are negative, e.g. -1001234567890")
        self.chats[chat_id] = StoredChat(
            id=chat_id,
            type="supergroup",
            title=title,
            members={member.id: member.account for member in members},
            bot_is_admin=bot_is_admin,
            privacy_mode=privacy_mode,
            started=True,
        )
        return ChatView(self, chat_id)

    def remove_bot_from(self, group: ChatView) -> None:
        """An admin removes the bot from a group: sending there fails from now on."""
        self.stored_chat(group.id).bot_kicked = True
        self.changed(group.id)

    def chat(self, chat_id: int) -> ChatView:
        self.stored_chat(chat_id)
        return ChatView(self, chat_id)

    # --- inspection -----------------------------------------------------------------------------------------

    def calls_of(self, method: str) -> list[CallRecord]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def forwards(self) -> list[CallRecord]:
        """Every call by which the bot asked to forward a message, which shows the sender's account. This
        model refuses them (Tropa relays by sending anew); a relay that hides people makes none."""
        return [*self.calls_of("forwardMessage"), *self.calls_of("forwardMessages")]

    def messages(self, chat_id: int) -> list[StoredMessage]:
        return list(self.stored_chat(chat_id).messages.values())

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        return self.stored_chat(chat_id).messages[message_id]

    def file(self, file_id: str) -> StoredFile:
        return self.files[file_id]

    def my_commands(self, scope: Json | None = None, language_code: str = "") -> list[Json]:
        return list(self.commands.get(bot_settings.scope_key(scope, language_code), []))

    def unanswered_queries(self) -> list[CallbackQueryRecord]:
        return [query for query in self.callback_queries.values() if query.answer is None]

    def pending_updates(self) -> list[Json]:
        return clone(self.pending)

    def take_updates(self) -> list[Json]:
        """Remove and return every pending update, as if a poller received and confirmed them."""
        taken, self.pending = self.pending, []
        return taken

    # --- faults ---------------------------------------------------------------------------------------------

    def inject(
        self,
        method: str | None = None,
        kind: FaultKind | int = "429",
        times: int = 1,
        retry_after: int = 1,
        skip: int = 0,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` (after ``skip`` that still succeed) fail before they take
        effect.

        ``method=None`` means any method except ``getUpdates`` (a polling bot calls it all the time).
        """
        injected = fault(method, kind, times, retry_after, skip)
        self.faults.append(injected)
        return injected

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- waiting --------------------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10,  # noqa: ASYNC109 - a deadline for a predicate, not one awaitable
        interval: float = 0.05,
        chat_id: int | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value; re-checked after every change, or only
        after changes to ``chat_id`` when the predicate looks at that chat alone (and every ``interval``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}({'ok' if c.ok else c.error})" for c in self.calls[-8:])
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent or 'none'}")
            await self.wait_change(min(interval, remaining), chat_id)

    def shutdown(self) -> None:
        """Answer every waiting and later ``getUpdates`` at once (for stopping a server)."""
        self.closed = True
        self.changed()

    def resume(self) -> None:
        """Let ``getUpdates`` long-poll again after :meth:`shutdown`."""
        self.closed = False

    # --- the API --------------------------------------------------------------------------------------------

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run one Bot API method: return its ``result`` JSON, or raise ``ApiError``/``DroppedConnection``
        (or ``NotModelled`` for a method of the Bot API that this model leaves out)."""
        lower = method.lower()
        name, handler = _BY_LOWER_NAME.get(lower, (_TELEGRAM_METHODS.get(lower, method), None))
        record = CallRecord(name, dict(params or {}))
        self.calls.append(record)
        try:
            fire(self.faults, method)
            p = Params(record.params)
            if lower == "getupdates":
                record.result = await updates.get_updates(self, p)
            elif handler is not None:
                record.result = clone(handler(self, p))
            elif lower in _TELEGRAM_METHODS:
                raise NotModelled(f"{name}: Tropa never called it, so the Telegram model leaves it out")
            else:
                raise ApiError(404, "Not Found")
        except (ApiError, DroppedConnection, NotModelled) as error:
            record.error = error
            raise
        finally:
            self.changed(self._chat_of_call(lower, record.params))
        return record.result

    def _chat_of_call(self, method: str, params: Mapping[str, Any]) -> int | None:
        """The one chat a Bot API call can have changed, when it names one."""
        if method == "answercallbackquery":
            query = self.callback_queries.get(str(params.get("callback_query_id")))
            return query.chat_id if query else None
        chat_id: Any = params.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            return int(chat_id)
        return None

"""An in-memory model of the Telegram Bot API server, strict where Telegram is strict.

``FakeTelegram`` holds chats, messages, files, pending updates and callback queries. The bot talks to it
through :meth:`FakeTelegram.call` (an ``async`` method: ``getUpdates`` long-polls; every other method
completes without awaiting anything), either in-process through ``RecordingSession`` or over HTTP through
``BotApiEmulator``. People talk to it through :class:`FakeUser` and :class:`ChatActor`, whose actions
create updates exactly as Telegram would deliver them, and see it through :class:`ChatView`.

Parameters may arrive JSON-decoded (``{"chat_id": 1, "reply_markup": {...}}``) or as a form would carry
them (``{"chat_id": "1", "reply_markup": "{...}"}``); both are accepted. Uploaded files arrive as
:class:`Upload` values and become new ``file_id``s.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from storage import clock
from tests.support.telegram.html import (
    ENTITY_TYPES,
    Entity,
    EntityParseError,
    FormattedText,
    parse,
    trim,
    utf16_len,
)

Json = dict[str, Any]
FaultKind = Literal["429", "500", "403", "drop"]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
DELETE_WINDOW = timedelta(hours=48)
DEFAULT_CALLBACK_TIMEOUT = timedelta(seconds=15)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"

# Update types delivered when getUpdates never named any (Telegram's default excludes these three).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# fmt: off
_INLINE_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset((
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
))
# fmt: on
_MEDIA_KINDS = ("photo", "document", "voice", "video_note", "sticker", "video", "audio", "animation")
_CAPTIONED_KINDS = frozenset({"photo", "document", "voice", "video", "audio", "animation"})
_CONTENT_KEYS = (
    "text",
    "entities",
    "link_preview_options",
    *_MEDIA_KINDS,
    "caption",
    "caption_entities",
    "show_caption_above_media",
    "has_media_spoiler",
)
_SERVICE_KEYS = ("forum_topic_created",)
_FILE_PREFIXES = {
    "photo": "AgACAgIAAxkBAA",
    "document": "BQACAgIAAxkBAA",
    "voice": "AwACAgIAAxkBAA",
    "video_note": "DQACAgIAAxkBAA",
    "sticker": "CAACAgIAAxkBAA",
    "video": "BAACAgIAAxkBAA",
    "audio": "CQACAgIAAxkBAA",
    "animation": "CgACAgIAAxkBAA",
}
_FILE_FOLDERS = {
    "photo": ("photos", ".jpg"),
    "document": ("documents", ""),
    "voice": ("voice", ".oga"),
    "video_note": ("video_notes", ".mp4"),
    "sticker": ("stickers", ".webp"),
    "video": ("videos", ".mp4"),
    "audio": ("music", ".mp3"),
    "animation": ("animations", ".mp4"),
}

# How parameters are decoded when they arrive as strings (form bodies carry everything as text).
# fmt: off
JSON_PARAMS = frozenset((
    "reply_markup", "entities", "caption_entities", "reply_parameters", "media", "commands", "scope",
    "allowed_updates", "message_ids", "link_preview_options",
))
INT_PARAMS = frozenset((
    "chat_id", "from_chat_id", "message_id", "message_thread_id", "offset", "limit", "timeout",
    "reply_to_message_id", "cache_time", "user_id", "duration", "width", "height", "length",
    "icon_color", "max_connections",
))
BOOL_PARAMS = frozenset((
    "protect_content", "disable_notification", "show_alert", "allow_sending_without_reply",
    "drop_pending_updates", "remove_caption", "show_caption_above_media", "has_spoiler",
    "disable_content_type_detection",
))
# fmt: on


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> Json:
        payload: Json = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload


class DroppedConnection(ConnectionError):
    """An injected network failure: the server closed the connection without answering."""


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class Upload:
    """A file uploaded with the request (a multipart part, or an aiogram ``InputFile``)."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    path: str
    file_name: str | None = None
    mime_type: str | None = None
    duration: int = 0
    width: int = 0
    height: int = 0
    emoji: str | None = None
    thumbnail_id: str | None = None

    def payload(self) -> Any:
        """The object a message carries for this file (a list of sizes for a photo)."""
        base: Json = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        size = len(self.data)
        if self.kind == "photo":
            small = {
                "file_id": self.thumbnail_id,
                "file_unique_id": f"{self.file_unique_id}s",
                "width": 90,
                "height": 68,
                "file_size": max(size // 10, 1),
            }
            return [small, {**base, "width": self.width, "height": self.height, "file_size": size}]
        extra: dict[str, Json] = {
            "document": {"file_name": self.file_name, "mime_type": self.mime_type},
            "voice": {"duration": self.duration, "mime_type": self.mime_type or "audio/ogg"},
            "video_note": {"length": self.width or 240, "duration": self.duration},
            "sticker": {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": self.emoji,
            },
            "video": {
                "width": self.width,
                "height": self.height,
                "duration": self.duration,
                "file_name": self.file_name,
                "mime_type": self.mime_type,
            },
            "audio": {"duration": self.duration, "file_name": self.file_name, "mime_type": self.mime_type},
            "animation": {
                "width": self.width,
                "height": self.height,
                "duration": self.duration,
                "file_name": self.file_name,
                "mime_type": self.mime_type,
            },
        }
        payload = {**base, **{k: v for k, v in extra.get(self.kind, {}).items() if v is not None}}
        payload["file_size"] = size
        return payload


@dataclass
class StoredMessage:
    """One message as Telegram keeps it: ``data`` is exactly the Bot API ``Message`` JSON."""

    chat_id: int
    message_id: int
    data: Json
    created: datetime
    sender: Literal["bot", "user"]
    sender_id: int
    deleted: bool = False
    deleted_at: datetime | None = None
    forwarded: bool = False
    copied_from: tuple[int, int] | None = None

    @property
    def from_bot(self) -> bool:
        return self.sender == "bot"

    @property
    def kind(self) -> str:
        if "text" in self.data:
            return "text"
        for kind in _MEDIA_KINDS:
            if kind in self.data:
                return kind
        return "service" if any(key in self.data for key in _SERVICE_KEYS) else "other"

    @property
    def text(self) -> str:
        return str(self.data.get("text", self.data.get("caption", "")))

    @property
    def inline_keyboard(self) -> list[list[Json]]:
        markup = self.data.get("reply_markup") or {}
        return list(markup.get("inline_keyboard", []))


@dataclass
class CallRecord:
    """One Bot API call: the parameters as received and what came of it."""

    method: str
    params: dict[str, Any]
    result: Any = None
    error: BaseException | None = None

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``method, params, outcome``."""
        return iter((self.method, self.params, self.outcome))

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outcome(self) -> Any:
        return self.result if self.error is None else self.error

    @property
    def args(self) -> dict[str, Any]:
        """The parameters decoded: JSON strings parsed, numbers and booleans typed."""
        return {key: _decode_param(key, value) for key, value in self.params.items()}


@dataclass
class Fault:
    method: str | None
    kind: FaultKind
    remaining: int
    retry_after: int = 1
    skip: int = 0  # matching calls that still succeed before the fault starts

    def matches(self, method: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is None:
            return method.lower() != "getupdates"
        return self.method.lower() == method.lower()


@dataclass(frozen=True)
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None = None


@dataclass
class CallbackQueryRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: datetime
    answer: CallbackAnswer | None = None


@dataclass
class Topic:
    message_thread_id: int
    name: str
    icon_color: int
    closed: bool = False
    deleted: bool = False


@dataclass
class WebhookConfig:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None


@dataclass(frozen=True)
class ViewMessage:
    """A message as the people in the chat see it."""

    message_id: int
    from_bot: bool
    text: str
    buttons: list[list[str]]
    callback_data: list[list[str | None]]
    protected: bool
    kind: str
    edited: bool
    reply_to: int | None
    forwarded: bool
    entities: list[Entity] = field(default_factory=list)
    deleted: bool = False
    thread_id: int | None = None
    media_group_id: str | None = None


class NoSuchButton(LookupError):
    """A person tried to press a button that is not on the screen."""


@dataclass
class _Markup:
    inline: Json | None = None
    keyboard: list[list[str]] | None = None
    remove_keyboard: bool = False


@dataclass
class _Chat:
    id: int
    type: Literal["private", "supergroup"]
    title: str | None = None
    user: FakeUser | None = None
    username: str | None = None
    is_forum: bool = False
    members: dict[int, FakeUser] = field(default_factory=dict)
    bot_is_admin: bool = True
    privacy_mode: bool = True
    bot_kicked: bool = False
    started: bool = False
    blocked: bool = False
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    topics: dict[int, Topic] = field(default_factory=dict)
    reply_keyboard: list[list[str]] | None = None

    def to_json(self) -> Json:
        if self.type == "private":
            assert self.user is not None
            chat: Json = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                chat["last_name"] = self.user.last_name
            if self.user.username:
                chat["username"] = self.user.username
            return chat
        chat = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            chat["username"] = self.username
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def find(self, message_id: int | None) -> StoredMessage | None:
        message = self.messages.get(message_id) if message_id is not None else None
        return None if message is None or message.deleted else message


def _decode_param(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if key in BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


class _Params:
    """Typed access to a method's parameters in either encoding."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def get(self, key: str) -> Any:
        value = self.raw.get(key)
        return None if value == "" else value

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)

    def integer(self, key: str, *, required: str | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            if required is not None:
                raise bad_request(required)
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise bad_request(f'parameter "{key}" must be an Integer')
        try:
            return int(value)
        except ValueError:
            raise bad_request(f'parameter "{key}" must be an Integer') from None

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def decoded(self, key: str, *, error: str | None = None) -> Any:
        value = self.get(key)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {key} JSON object") from None


def _chat_of_update(payload: Json) -> int | None:
    """The chat an update's payload happened in (a message's, a pressed button's message's, a member's)."""
    chat = payload.get("chat") or payload.get("message", {}).get("chat")
    return int(chat["id"]) if chat else None


def _without_reply(data: Json) -> Json:
    return {key: copy.deepcopy(value) for key, value in data.items() if key != "reply_to_message"}


class FakeTelegram:
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
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.now: Callable[[], datetime] = now or clock.now
        self.callback_timeout = callback_timeout

        self.calls: list[CallRecord] = []
        self.faults: list[Fault] = []
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.webhook = WebhookConfig()
        self.settings: dict[str, Any] = {}
        self.users: dict[int, FakeUser] = {}

        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, StoredFile] = {}
        self._pending: list[Json] = []
        self._allowed_updates: set[str] | None = None
        self._update_ids = itertools.count(10_001)
        self._query_ids = itertools.count(4_730_000_000_000_000_001)
        self._file_numbers = itertools.count(1)
        self._group_ids = itertools.count(1_001_000_000_001)  # ids print as -1001000000001
        self._poll_generation = 0
        self._closed = False
        self._event: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        # Waiters on one chat are woken by changes to that chat only: hundreds of simulated people each
        # re-checking after every change anywhere made the load test's driver, not the bot, the bottleneck.
        self._chat_events: dict[int, asyncio.Event] = {}

        self._methods: dict[str, tuple[str, Callable[[_Params], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._ok,
                "close": self._ok,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._store_setting,
                "setMyShortDescription": self._store_setting,
                "setMyName": self._store_setting,
                "setChatMenuButton": self._store_setting,
                "setMyDefaultAdministratorRights": self._store_setting,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": lambda p: self._send_media(p, "photo"),
                "sendDocument": lambda p: self._send_media(p, "document"),
                "sendVoice": lambda p: self._send_media(p, "voice"),
                "sendVideoNote": lambda p: self._send_media(p, "video_note"),
                "sendSticker": lambda p: self._send_media(p, "sticker"),
                "sendVideo": lambda p: self._send_media(p, "video"),
                "sendAudio": lambda p: self._send_media(p, "audio"),
                "sendAnimation": lambda p: self._send_media(p, "animation"),
                "sendMediaGroup": self._send_media_group,
                "copyMessage": self._copy_message,
                "copyMessages": self._copy_messages,
                "forwardMessage": self._forward_message,
                "forwardMessages": self._forward_messages,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "answerCallbackQuery": self._answer_callback_query,
                "sendChatAction": self._send_chat_action,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "getFile": self._get_file,
                "createForumTopic": self._create_forum_topic,
                "editForumTopic": self._edit_forum_topic,
                "closeForumTopic": lambda p: self._set_topic_closed(p, closed=True),
                "reopenForumTopic": lambda p: self._set_topic_closed(p, closed=False),
                "deleteForumTopic": self._delete_forum_topic,
            }.items()
        }

    # --- people and chats -----------------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        username: str | None = None,
        language_code: str | None = "ru",
        *,
        last_name: str | None = None,
    ) -> FakeUser:
        """A Telegram user and their private chat with the bot (chat id == user id); idempotent."""
        if user_id in self.users:
            return self.users[user_id]
        if user_id <= 0:
            raise ValueError("user ids are positive")
        person = FakeUser(self, user_id, first_name, username, language_code, last_name)
        self.users[user_id] = person
        self._chats[user_id] = _Chat(id=user_id, type="private", user=person)
        return person

    def group(
        self,
        chat_id: int | None = None,
        title: str = "Group",
        members: Iterable[FakeUser] = (),
        forum: bool = False,
        *,
        username: str | None = None,
        bot_is_admin: bool = True,
        privacy_mode: bool = True,
    ) -> FakeGroup:
        """A supergroup the bot is in. A non-admin bot in privacy mode only sees commands and replies."""
        chat_id = chat_id if chat_id is not None else -next(self._group_ids)
        if chat_id >= 0:
            raise ValueError("group chat ids are negative, e.g. -1001234567890")
        chat = _Chat(
            id=chat_id,
            type="supergroup",
            title=title,
            username=username,
            is_forum=forum,
            members={member.id: member for member in members},
            bot_is_admin=bot_is_admin,
            privacy_mode=privacy_mode,
            started=True,
        )
        self._chats[chat_id] = chat
        return FakeGroup(self, chat_id)

    def chat(self, chat_id: int) -> ChatView:
        self._chat_state(chat_id)
        return ChatView(self, chat_id)

    def set_bot_blocked_by(self, user: FakeUser, blocked: bool = True) -> None:
        """Mark the bot blocked (or not) by ``user`` without sending any update."""
        self._chat_state(user.id).blocked = blocked
        self._changed()

    def remove_bot_from(self, group: FakeGroup) -> None:
        self._chat_state(group.id).bot_kicked = True
        self._changed()

    def delete_topic(self, chat_id: int, message_thread_id: int) -> None:
        """An admin deletes a forum topic: its messages go, and sending there fails."""
        chat = self._chat_state(chat_id)
        self._remove_topic(chat, message_thread_id)

    # --- inspection -----------------------------------------------------------------------------------------

    def calls_of(self, method: str) -> list[CallRecord]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def messages(self, chat_id: int) -> list[StoredMessage]:
        return list(self._chat_state(chat_id).messages.values())

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        return self._chat_state(chat_id).messages[message_id]

    def forwarded_messages(self) -> list[StoredMessage]:
        """Every message the bot created with ``forwardMessage(s)``; a relay that hides senders has none."""
        return [m for chat in self._chats.values() for m in chat.messages.values() if m.forwarded]

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    def file_by_path(self, path: str) -> StoredFile | None:
        return next((f for f in self._files.values() if f.path == path), None)

    def my_commands(self, scope: Json | None = None, language_code: str = "") -> list[Json]:
        return list(self.commands.get(self._scope_key(scope, language_code), []))

    def unanswered_queries(self) -> list[CallbackQueryRecord]:
        return [query for query in self.callback_queries.values() if query.answer is None]

    def pending_updates(self) -> list[Json]:
        return copy.deepcopy(self._pending)

    def take_updates(self) -> list[Json]:
        """Remove and return every pending update, as if a poller received and confirmed them."""
        taken, self._pending = self._pending, []
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
        name = str(kind)
        if name not in ("429", "500", "403", "drop"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(method, cast(FaultKind, name), times, retry_after, skip)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def _fire_fault(self, method: str) -> None:
        fault = next((f for f in self.faults if f.matches(method)), None)
        if fault is None:
            return
        if fault.skip > 0:
            fault.skip -= 1
            return
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.remove(fault)
        if fault.kind == "429":
            raise ApiError(429, f"Too Many Requests: retry after {fault.retry_after}", fault.retry_after)
        if fault.kind == "500":
            raise ApiError(500, "Internal Server Error")
        if fault.kind == "403":
            raise ApiError(403, BLOCKED)
        raise DroppedConnection(f"injected dropped connection on {method}")

    # --- waiting --------------------------------------------------------------------------------------------

    def _changed(self, chat_id: int | None = None) -> None:
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

    async def _wait_change(self, seconds: float, chat_id: int | None = None) -> None:
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

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 10,  # noqa: ASYNC109 - a deadline for a predicate, not one awaitable
        interval: float = 0.05,
        chat_id: int | None = None,
    ) -> Any:
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
            await self._wait_change(min(interval, remaining), chat_id)

    def shutdown(self) -> None:
        """Answer every waiting and later ``getUpdates`` at once (for stopping a server)."""
        self._closed = True
        self._changed()

    def resume(self) -> None:
        """Let ``getUpdates`` long-poll again after :meth:`shutdown`."""
        self._closed = False

    # --- the API --------------------------------------------------------------------------------------------

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run one Bot API method: return its ``result`` JSON, or raise ``ApiError``/``DroppedConnection``."""
        entry = self._methods.get(method.lower())
        record = CallRecord(entry[0] if entry else method, dict(params or {}))
        self.calls.append(record)
        try:
            self._fire_fault(method)
            p = _Params(record.params)
            if method.lower() == "getupdates":
                record.result = await self._get_updates(p)
            elif entry is None:
                raise ApiError(404, "Not Found")
            else:
                record.result = copy.deepcopy(entry[1](p))
        except (ApiError, DroppedConnection) as error:
            record.error = error
            raise
        finally:
            self._changed(self._chat_of_call(method, record.params))
        return record.result

    def _chat_of_call(self, method: str, params: Mapping[str, Any]) -> int | None:
        """The one chat a Bot API call can have changed, when it names one."""
        if method.lower() == "answercallbackquery":
            query = self.callback_queries.get(str(params.get("callback_query_id")))
            return query.chat_id if query else None
        chat_id: Any = params.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            return int(chat_id)
        return None

    def _ok(self, p: _Params) -> bool:
        return True

    def _store_setting(self, p: _Params) -> bool:
        self.settings[self.calls[-1].method] = dict(p.raw)
        return True

    def bot_json(self) -> Json:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    def _get_me(self, p: _Params) -> Json:
        return {
            **self.bot_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # updates

    def _allowed(self, update: Json) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates is None:
            return kind not in _NOT_BY_DEFAULT
        return kind in self._allowed_updates

    async def _get_updates(self, p: _Params) -> list[Json]:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.integer("offset") or 0
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.integer("timeout") or 0, 0)
        allowed = p.decoded("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            self._pending = [u for u in self._pending if self._allowed(u)]
            batch = self._pending[:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closed:
                return copy.deepcopy(batch)
            await self._wait_change(remaining)

    def _enqueue(self, kind: str, payload: Json) -> Json:
        update = {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}
        self._pending.append(update)
        self._changed(_chat_of_update(payload))
        return copy.deepcopy(update)

    # commands, webhook

    @staticmethod
    def _scope_key(scope: Any, language_code: str | None) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""

    def _set_my_commands(self, p: _Params) -> bool:
        commands = p.decoded("commands")
        if commands is None:
            raise bad_request('parameter "commands" is required')
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        stored = []
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        self.commands[self._scope_key(p.decoded("scope"), p.text("language_code"))] = stored
        return True

    def _get_my_commands(self, p: _Params) -> list[Json]:
        return list(self.commands.get(self._scope_key(p.decoded("scope"), p.text("language_code")), []))

    def _delete_my_commands(self, p: _Params) -> bool:
        self.commands.pop(self._scope_key(p.decoded("scope"), p.text("language_code")), None)
        return True

    def _set_webhook(self, p: _Params) -> bool:
        url = p.text("url") or ""
        if url:
            match = re.fullmatch(r"https://[^/:]+(?::(\d+))?(/.*)?", url)
            if match is None:
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if match.group(1) and match.group(1) not in ("80", "88", "443", "8443"):
                raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = p.text("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        allowed = p.decoded("allowed_updates")
        self.webhook = WebhookConfig(url, secret, p.integer("max_connections") or 40, allowed)
        if p.flag("drop_pending_updates"):
            self._pending.clear()
        return True

    def _delete_webhook(self, p: _Params) -> bool:
        self.webhook = WebhookConfig()
        if p.flag("drop_pending_updates"):
            self._pending.clear()
        return True

    def _get_webhook_info(self, p: _Params) -> Json:
        info: Json = {
            "url": self.webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook.url:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates:
                info["allowed_updates"] = self.webhook.allowed_updates
        return info

    # chats

    def _chat_state(self, chat_id: int) -> _Chat:
        try:
            return self._chats[chat_id]
        except KeyError:
            raise LookupError(f"no chat {chat_id} in this world") from None

    def _chat(self, p: _Params, key: str = "chat_id") -> _Chat:
        raw = p.get(key)
        if raw is None:
            raise bad_request(f"{key} is empty")
        chat: _Chat | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            name = raw[1:].lower()
            chat = next((c for c in self._chats.values() if c.username and c.username.lower() == name), None)
        else:
            try:
                chat = self._chats.get(int(raw))
            except (TypeError, ValueError):
                chat = None
        if chat is None or (chat.type == "private" and not chat.started):
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, p: _Params) -> _Chat:
        chat = self._chat(p)
        if chat.type == "private" and chat.blocked:
            raise ApiError(403, BLOCKED)
        if chat.bot_kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        return chat

    def _get_chat(self, p: _Params) -> Json:
        chat = self._chat(p)
        info = chat.to_json()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def _get_chat_member(self, p: _Params) -> Json:
        chat = self._chat(p)
        user_id = p.integer("user_id", required='parameter "user_id" is required')
        if user_id == self.bot_id:
            user = self.bot_json()
            status = "administrator" if chat.bot_is_admin and chat.type != "private" else "member"
        elif user_id in self.users:
            user = self.users[user_id].to_json()
            in_chat = user_id in chat.members or (chat.type == "private" and chat.id == user_id)
            status = "member" if in_chat else "left"
        else:
            raise bad_request("user not found")
        if status != "administrator":
            return {"status": status, "user": user}
        rights = (
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_send_welcome_messages",
            "can_pin_messages",
            "can_manage_topics",
        )
        return {
            "status": status,
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            **dict.fromkeys(rights, True),
        }

    # formatting and markup

    def _format(self, raw: Any, parse_mode: Any, entities: Any, *, caption: bool) -> FormattedText | None:
        """Text (or caption) after entity parsing and trimming; ``None`` for an absent caption."""
        text = "" if raw is None else raw if isinstance(raw, str) else str(raw)
        if not text:
            if caption:
                return None
            raise bad_request("message text is empty")
        if parse_mode:
            try:
                formatted = parse(text, str(parse_mode))
            except KeyError:
                raise bad_request(f"unsupported parse_mode {parse_mode!r}") from None
            except EntityParseError as error:
                raise ApiError(400, error.description) from None
        else:
            formatted = FormattedText(text, self._explicit_entities(text, entities))
        formatted = trim(formatted)
        if not formatted.text:
            if caption:
                return None
            raise bad_request("message text is empty")
        if caption and len(formatted.text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        if not caption and len(formatted.text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return formatted

    @staticmethod
    def _explicit_entities(text: str, value: Any) -> list[Entity]:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise bad_request("can't parse entities JSON object") from None
        if not isinstance(value, list):
            raise bad_request("can't parse entities: expected an Array of MessageEntity")
        size = utf16_len(text)
        entities: list[Entity] = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise bad_request("can't parse entities: Can't find field \"type\"")
            try:
                offset, length = int(item["offset"]), int(item["length"])
            except (KeyError, TypeError, ValueError):
                raise bad_request('can\'t parse entities: Field "offset" must be of type Number') from None
            if offset < 0 or length < 0 or offset + length > size:
                raise bad_request(
                    f"can't parse entities: entity {item['type']} with offset {offset} and length {length} "
                    f"does not fit in the text of {size} UTF-16 code units"
                )
            if item["type"] not in ENTITY_TYPES:
                raise bad_request(f'can\'t parse entities: Unsupported entity type "{item["type"]}"')
            if item["type"] == "text_link" and not item.get("url"):
                raise bad_request('can\'t parse entities: Field "url" must be of type String')
            if item["type"] == "custom_emoji" and not item.get("custom_emoji_id"):
                raise bad_request('can\'t parse entities: Field "custom_emoji_id" must be of type String')
            if length:
                entities.append(dict(item))
        return sorted(entities, key=lambda e: (e["offset"], -e["length"]))

    def _reply_markup(self, p: _Params) -> _Markup:
        markup = p.decoded("reply_markup", error="can't parse reply keyboard markup JSON object")
        if markup is None:
            return _Markup()
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return _Markup(inline=self._inline_keyboard(markup["inline_keyboard"]))
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('can\'t parse keyboard button: Field "keyboard" must be of type Array')
            labels = [[b if isinstance(b, str) else str(b.get("text", "")) for b in row] for row in rows]
            return _Markup(keyboard=[row for row in labels if row])
        if markup.get("remove_keyboard"):
            return _Markup(remove_keyboard=True)
        if "force_reply" in markup:
            return _Markup()
        raise bad_request("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _inline_keyboard(rows: Any) -> Json | None:
        prefix = "can't parse inline keyboard button: "
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(prefix + 'Field "inline_keyboard" must be of type Array')
        clean_rows: list[list[Json]] = []
        for row in rows:
            clean: list[Json] = []
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request(prefix + "InlineKeyboardButton must be an Object")
                if not isinstance(button.get("text"), str):
                    raise bad_request(prefix + 'Can\'t find field "text"')
                actions = [key for key in _INLINE_ACTIONS if button.get(key) is not None]
                if not actions:
                    raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
                if len(actions) > 1:
                    raise bad_request(prefix + f"exactly one optional field must be used, got {actions}")
                action = actions[0]
                value = button[action]
                if action == "callback_data" and (
                    not isinstance(value, str) or not 1 <= len(value.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
                if action == "url" and not re.match(r"(https?|tg)://\S+$", str(value)):
                    raise bad_request("BUTTON_URL_INVALID")
                clean.append({"text": button["text"], action: value})
            if clean:
                clean_rows.append(clean)
        return {"inline_keyboard": clean_rows} if clean_rows else None

    # files

    def _new_file(self, kind: str, upload: Upload, **details: Any) -> StoredFile:
        number = next(self._file_numbers)
        folder, suffix = _FILE_FOLDERS[kind]
        stored = StoredFile(
            file_id=f"{_FILE_PREFIXES[kind]}{number:06d}{kind[:2]}",
            file_unique_id=f"AQAD{number:06d}",
            kind=kind,
            data=upload.data,
            path=f"{folder}/file_{number}{suffix}",
            file_name=upload.filename if kind in ("document", "video", "audio", "animation") else None,
            mime_type=upload.content_type,
            **details,
        )
        if kind == "photo":
            stored.width, stored.height = stored.width or 1280, stored.height or 960
            stored.thumbnail_id = f"{_FILE_PREFIXES[kind]}{number:06d}sm"
            self._files[stored.thumbnail_id] = stored
        if kind == "document" and not stored.mime_type:
            stored.mime_type = "application/octet-stream"
        self._files[stored.file_id] = stored
        return stored

    def _input_file(self, value: Any, kind: str, p: _Params, **details: Any) -> StoredFile:
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.raw.get(value.removeprefix("attach://"))
            if value is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        if isinstance(value, Upload):
            if not value.data:
                raise bad_request("file must be non-empty")
            return self._new_file(kind, value, **details)
        if not isinstance(value, str) or not value:
            raise bad_request(f'parameter "{kind}" is required')
        if value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1] or None
            return self._new_file(kind, Upload(f"downloaded from {value}".encode(), name), **details)
        stored = self._files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request("type of file mismatch")
        return stored

    def _get_file(self, p: _Params) -> Json:
        stored = self._files.get(p.text("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": p.text("file_id"),
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }

    # sending

    def _thread(self, chat: _Chat, p: _Params) -> int | None:
        thread_id = p.integer("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        return thread_id

    def _reply_target(self, chat: _Chat, p: _Params) -> StoredMessage | None:
        parameters = p.decoded("reply_parameters") or {}
        if not isinstance(parameters, dict):
            raise bad_request("can't parse reply parameters JSON object")
        message_id = parameters.get("message_id", p.integer("reply_to_message_id"))
        if message_id is None:
            return None
        allow = bool(parameters.get("allow_sending_without_reply")) or p.flag("allow_sending_without_reply")
        target = chat.find(int(message_id))
        if target is None and not allow:
            raise bad_request("message to be replied not found")
        return target

    def _store(
        self,
        chat: _Chat,
        content: Json,
        *,
        sender: FakeUser | None = None,
        thread_id: int | None = None,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        created = self.now()
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data: Json = {"message_id": message_id}
        if thread_id is not None:
            data["message_thread_id"] = thread_id
        data["from"] = sender.to_json() if sender else self.bot_json()
        data["chat"] = chat.to_json()
        data["date"] = int(created.timestamp())
        if thread_id is not None:
            data["is_topic_message"] = True
            if reply_to is None:  # Telegram's quirk: topic messages "reply" to the topic's first message
                reply_to = chat.messages.get(thread_id)
        if reply_to is not None:
            data["reply_to_message"] = _without_reply(reply_to.data)
        data.update(copy.deepcopy(content))
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

    def _post(
        self,
        chat: _Chat,
        p: _Params,
        content: Json,
        markup: _Markup,
        *,
        thread_id: int | None,
        reply_to: StoredMessage | None,
    ) -> StoredMessage:
        content = dict(content)
        if p.flag("protect_content"):
            content["has_protected_content"] = True
        if markup.inline:
            content["reply_markup"] = markup.inline
        message = self._store(chat, content, thread_id=thread_id, reply_to=reply_to)
        if markup.keyboard is not None:
            chat.reply_keyboard = markup.keyboard
        if markup.remove_keyboard:
            chat.reply_keyboard = None
        return message

    def _send_message(self, p: _Params) -> Json:
        markup = self._reply_markup(p)
        formatted = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False)
        assert formatted is not None
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        content: Json = {"text": formatted.text}
        if formatted.entities:
            content["entities"] = formatted.entities
        return self._post(chat, p, content, markup, thread_id=thread_id, reply_to=reply_to).data

    def _caption(self, p: _Params) -> FormattedText | None:
        return self._format(p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True)

    @staticmethod
    def _caption_content(caption: FormattedText | None) -> Json:
        if caption is None:
            return {}
        content: Json = {"caption": caption.text}
        if caption.entities:
            content["caption_entities"] = caption.entities
        return content

    def _send_media(self, p: _Params, kind: str) -> Json:
        markup = self._reply_markup(p)
        caption = None
        if kind in _CAPTIONED_KINDS:
            caption = self._caption(p)
        details: dict[str, Any] = {
            key: p.integer(key) for key in ("duration", "width", "height") if p.integer(key) is not None
        }
        if kind == "video_note" and p.integer("length") is not None:
            details["width"] = p.integer("length")
        if kind == "sticker" and p.text("emoji"):
            details["emoji"] = p.text("emoji")
        stored = self._input_file(p.get(kind), kind, p, **details)
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        content: Json = {kind: stored.payload(), **self._caption_content(caption)}
        if p.flag("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._post(chat, p, content, markup, thread_id=thread_id, reply_to=reply_to).data

    def _send_media_group(self, p: _Params) -> list[Json]:
        media = p.decoded("media", error="can't parse media JSON object")
        if media is None:
            raise bad_request('parameter "media" is required')
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise bad_request("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise bad_request("media group must include 2-10 items")
        contents = []
        for item in media:
            kind = str(item.get("type", ""))
            if kind not in ("photo", "video", "document", "audio"):
                raise bad_request(f'can\'t parse InputMedia: unsupported media type "{kind}"')
            caption = self._format(
                item.get("caption"), item.get("parse_mode"), item.get("caption_entities"), caption=True
            )
            stored = self._input_file(item.get("media"), kind, p)
            contents.append({kind: stored.payload(), **self._caption_content(caption)})
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        group_id = str(next(self._file_numbers) * 7_919 + 13_000_000_000_000_000)
        return [
            self._post(
                chat, p, {**content, "media_group_id": group_id}, _Markup(), thread_id=thread_id, reply_to=reply_to
            ).data
            for content in contents
        ]

    # copying and forwarding

    def _source(self, p: _Params, message_id: int, not_found: str) -> tuple[_Chat, StoredMessage]:
        source_chat = self._chat(p, "from_chat_id")
        source = source_chat.find(message_id)
        if source is None:
            raise bad_request(not_found)
        if not any(key in source.data for key in _CONTENT_KEYS):
            raise bad_request("message can't be copied")
        if source.data.get("has_protected_content"):
            raise bad_request("message has protected content and can't be forwarded")
        return source_chat, source

    @staticmethod
    def _content_of(source: StoredMessage) -> Json:
        return {key: copy.deepcopy(source.data[key]) for key in _CONTENT_KEYS if key in source.data}

    def _copy_message(self, p: _Params) -> Json:
        markup = self._reply_markup(p)
        message_id = p.integer("message_id", required="message identifier is not specified")
        assert message_id is not None
        caption = None
        if p.get("caption") is not None:
            caption = self._caption(p)
        source_chat, source = self._source(p, message_id, "message to copy not found")
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        reply_to = self._reply_target(chat, p)
        content = self._content_of(source)
        if "text" not in content and p.get("caption") is not None:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption_content(caption))
        copied = self._post(chat, p, content, markup, thread_id=thread_id, reply_to=reply_to)
        copied.copied_from = (source_chat.id, source.message_id)
        return {"message_id": copied.message_id}

    def _message_ids(self, p: _Params) -> list[int]:
        ids = p.decoded("message_ids")
        if not isinstance(ids, list) or not ids:
            raise bad_request("message identifiers are not specified")
        if len(ids) > 100:
            raise bad_request("too many message identifiers specified")
        try:
            return [int(i) for i in ids]
        except (TypeError, ValueError):
            raise bad_request("can't parse message_ids JSON object") from None

    def _copy_or_forward_many(self, p: _Params, *, forward: bool) -> list[Json]:
        ids = self._message_ids(p)
        if ids != sorted(set(ids)):
            raise bad_request("message identifiers must be specified in a strictly increasing order")
        source_chat = self._chat(p, "from_chat_id")
        sources = [m for m in (source_chat.find(i) for i in ids) if m is not None]
        sources = [m for m in sources if not m.data.get("has_protected_content")]
        if not sources:
            raise bad_request("message to forward not found" if forward else "message to copy not found")
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        groups: dict[str, str] = {}
        results = []
        for source in sources:
            content = self._content_of(source)
            if "media_group_id" in source.data:
                old = source.data["media_group_id"]
                content["media_group_id"] = groups.setdefault(old, f"{old}{len(groups) + 1}c")
            if forward:
                content["forward_origin"] = self._origin(source)
            elif p.flag("remove_caption"):
                content.pop("caption", None)
                content.pop("caption_entities", None)
            message = self._post(chat, p, content, _Markup(), thread_id=thread_id, reply_to=None)
            message.forwarded = forward
            message.copied_from = None if forward else (source_chat.id, source.message_id)
            results.append({"message_id": message.message_id})
        return results

    def _copy_messages(self, p: _Params) -> list[Json]:
        return self._copy_or_forward_many(p, forward=False)

    def _forward_messages(self, p: _Params) -> list[Json]:
        return self._copy_or_forward_many(p, forward=True)

    def _origin(self, source: StoredMessage) -> Json:
        if "forward_origin" in source.data:
            return copy.deepcopy(source.data["forward_origin"])
        sender = copy.deepcopy(source.data["from"])
        return {"type": "user", "date": source.data["date"], "sender_user": sender}

    def _forward_message(self, p: _Params) -> Json:
        message_id = p.integer("message_id", required="message identifier is not specified")
        assert message_id is not None
        _, source = self._source(p, message_id, "message to forward not found")
        chat = self._writable_chat(p)
        thread_id = self._thread(chat, p)
        content = {**self._content_of(source), "forward_origin": self._origin(source)}
        message = self._post(chat, p, content, _Markup(), thread_id=thread_id, reply_to=None)
        message.forwarded = True
        return message.data

    # editing

    def _editable(self, p: _Params) -> StoredMessage:
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(p)
        message_id = p.integer("message_id", required="message identifier is not specified")
        message = chat.find(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _apply_edit(self, message: StoredMessage, content: Json, markup: _Markup) -> Json:
        if markup.keyboard is not None or markup.remove_keyboard:
            raise bad_request("inline keyboard expected")
        data = message.data
        same_content = all((data.get(key) or None) == (value or None) for key, value in content.items())
        if same_content and data.get("reply_markup") == markup.inline:
            raise ApiError(400, NOT_MODIFIED)
        for key, value in content.items():
            if value:
                data[key] = copy.deepcopy(value)
            else:
                data.pop(key, None)
        if markup.inline:
            data["reply_markup"] = copy.deepcopy(markup.inline)
        else:
            data.pop("reply_markup", None)
        data["edit_date"] = int(self.now().timestamp())
        return data

    def _edit_message_text(self, p: _Params) -> Json:
        markup = self._reply_markup(p)
        formatted = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False)
        assert formatted is not None
        message = self._editable(p)
        if "text" not in message.data:
            raise bad_request("there is no text in the message to edit")
        return self._apply_edit(message, {"text": formatted.text, "entities": formatted.entities}, markup)

    def _edit_message_caption(self, p: _Params) -> Json:
        markup = self._reply_markup(p)
        caption = self._caption(p)
        message = self._editable(p)
        if message.kind not in _CAPTIONED_KINDS:
            raise bad_request("there is no caption in the message to edit")
        content = {
            "caption": caption.text if caption else None,
            "caption_entities": caption.entities if caption else None,
        }
        return self._apply_edit(message, content, markup)

    def _edit_message_reply_markup(self, p: _Params) -> Json:
        markup = self._reply_markup(p)
        return self._apply_edit(self._editable(p), {}, markup)

    # deleting

    def _delete(self, chat: _Chat, message_id: int) -> None:
        message = chat.find(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        if self.now() - message.created > DELETE_WINDOW:
            raise bad_request("message can't be deleted")
        if chat.type != "private" and not message.from_bot and not chat.bot_is_admin:
            raise bad_request("message can't be deleted")
        message.deleted = True
        message.deleted_at = self.now()

    def _delete_message(self, p: _Params) -> bool:
        chat = self._chat(p)
        message_id = p.integer("message_id", required="message identifier is not specified")
        assert message_id is not None
        self._delete(chat, message_id)
        return True

    def _delete_messages(self, p: _Params) -> bool:
        chat = self._chat(p)
        for message_id in self._message_ids(p):
            try:
                self._delete(chat, message_id)
            except ApiError:
                continue
        return True

    # callbacks and actions

    def _answer_callback_query(self, p: _Params) -> bool:
        text = p.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        query = self.callback_queries.get(p.text("callback_query_id") or "")
        if query is None or query.answer is not None or self.now() - query.created > self.callback_timeout:
            raise ApiError(400, QUERY_TOO_OLD)
        query.answer = CallbackAnswer(text or None, p.flag("show_alert"), p.text("url"))
        self.callback_answers[query.id] = query.answer
        return True

    def _send_chat_action(self, p: _Params) -> bool:
        chat = self._writable_chat(p)
        if p.text("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._thread(chat, p)
        return True

    # forum topics

    def _forum(self, p: _Params) -> _Chat:
        chat = self._writable_chat(p)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        if not chat.bot_is_admin:
            raise bad_request("not enough rights to manage topics")
        return chat

    def _topic(self, chat: _Chat, p: _Params) -> Topic:
        thread_id = p.integer("message_thread_id", required='parameter "message_thread_id" is required')
        topic = chat.topics.get(thread_id or 0)
        if topic is None or topic.deleted:
            raise bad_request("message thread not found")
        return topic

    def _create_forum_topic(self, p: _Params) -> Json:
        chat = self._forum(p)
        name = p.text("name") or ""
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        icon_color = p.integer("icon_color") or 7_322_096
        service = self._store(chat, {"forum_topic_created": {"name": name, "icon_color": icon_color}})
        thread_id = service.message_id
        service.data["message_thread_id"] = thread_id
        service.data["is_topic_message"] = True
        chat.topics[thread_id] = Topic(thread_id, name, icon_color)
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    def _edit_forum_topic(self, p: _Params) -> bool:
        chat = self._forum(p)
        topic = self._topic(chat, p)
        if p.text("name"):
            topic.name = str(p.text("name"))
        return True

    def _set_topic_closed(self, p: _Params, *, closed: bool) -> bool:
        chat = self._forum(p)
        self._topic(chat, p).closed = closed
        return True

    def _delete_forum_topic(self, p: _Params) -> bool:
        chat = self._forum(p)
        self._remove_topic(chat, self._topic(chat, p).message_thread_id)
        return True

    def _remove_topic(self, chat: _Chat, thread_id: int) -> None:
        topic = chat.topics.get(thread_id)
        if topic is None:
            raise LookupError(f"no topic {thread_id} in chat {chat.id}")
        topic.deleted = True
        for message in chat.messages.values():
            if message.data.get("message_thread_id") == thread_id and not message.deleted:
                message.deleted, message.deleted_at = True, self.now()
        self._changed()

    # --- what people do (used by FakeUser / ChatActor) ------------------------------------------------------

    def _bot_receives(self, chat: _Chat, message: StoredMessage) -> bool:
        if chat.type == "private" or chat.bot_is_admin or not chat.privacy_mode:
            return True
        text = message.text
        replied = message.data.get("reply_to_message", {})
        explicit_reply = replied.get("message_id") != message.data.get("message_thread_id")
        return (
            text.startswith("/")
            or f"@{self.bot_username}".lower() in text.lower()
            or (explicit_reply and replied.get("from", {}).get("id") == self.bot_id)
        )

    def _user_message(
        self,
        user: FakeUser,
        chat: _Chat,
        content: Json,
        *,
        thread_id: int | None = None,
        reply_to_id: int | None = None,
    ) -> Json:
        """Store a message a person sends and queue its update. Returns the update, or ``{"message": ...}``
        without an ``update_id`` when Telegram would not show it to the bot (privacy mode in a group)."""
        if chat.type == "private":
            if chat.blocked:  # a blocked bot is unblocked by writing to it ("Restart")
                self._membership(user, blocked=False)
            chat.started = True
        elif user.id not in chat.members:
            raise LookupError(f"{user.first_name} is not a member of {chat.title!r}")
        if thread_id is not None and (thread_id not in chat.topics or chat.topics[thread_id].deleted):
            raise LookupError(f"no open topic {thread_id} in {chat.title!r}")
        reply_to = None
        if reply_to_id is not None:
            reply_to = chat.find(reply_to_id)
            if reply_to is None:
                raise LookupError(f"message {reply_to_id} is not in chat {chat.id}")
        message = self._store(chat, content, sender=user, thread_id=thread_id, reply_to=reply_to)
        if self._bot_receives(chat, message):
            return self._enqueue("message", message.data)
        self._changed()
        return {"message": copy.deepcopy(message.data)}

    def _user_edit(self, user: FakeUser, chat: _Chat, message_id: int, text: str) -> Json:
        message = chat.find(message_id)
        if message is None or message.sender_id != user.id or message.from_bot:
            raise LookupError(f"{user.first_name} has no message {message_id} in chat {chat.id}")
        if "text" not in message.data:
            raise LookupError(f"message {message_id} has no text to edit")
        message.data.pop("entities", None)
        message.data.update(_user_text(text, self.bot_username))
        message.data["edit_date"] = int(self.now().timestamp())
        if self._bot_receives(chat, message):
            return self._enqueue("edited_message", message.data)
        self._changed()
        return {"edited_message": copy.deepcopy(message.data)}

    def _callback(self, user: FakeUser, chat: _Chat, message: StoredMessage, data: str) -> Json:
        query_id = str(next(self._query_ids))
        self.callback_queries[query_id] = CallbackQueryRecord(
            query_id, user.id, chat.id, message.message_id, data, self.now()
        )
        chat_instance = str(abs(chat.id) * 1_000_003 % 10**19)
        return self._enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_json(),
                "message": message.data,
                "chat_instance": chat_instance,
                "data": data,
            },
        )

    def _membership(self, user: FakeUser, *, blocked: bool) -> Json:
        chat = self._chat_state(user.id)
        chat.blocked = blocked
        bot = self.bot_json()
        member: Json = {"status": "member", "user": bot}
        kicked: Json = {"status": "kicked", "user": bot, "until_date": 0}
        return self._enqueue(
            "my_chat_member",
            {
                "chat": chat.to_json(),
                "from": user.to_json(),
                "date": int(self.now().timestamp()),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            },
        )

    def _user_file(
        self, kind: str, data: bytes, filename: str | None = None, mime: str | None = None, **details: Any
    ) -> StoredFile:
        return self._new_file(kind, Upload(data, filename, mime), **details)

    def _view(self, message: StoredMessage) -> ViewMessage:
        keyboard = message.inline_keyboard
        data = message.data
        thread_id = data.get("message_thread_id")
        reply_to = data.get("reply_to_message", {}).get("message_id")
        entities: list[Entity] = data.get("entities") or data.get("caption_entities") or []
        return ViewMessage(
            message_id=message.message_id,
            from_bot=message.from_bot,
            text=message.text,
            buttons=[[button["text"] for button in row] for row in keyboard],
            callback_data=[[button.get("callback_data") for button in row] for row in keyboard],
            protected=bool(data.get("has_protected_content")),
            kind=message.kind,
            edited="edit_date" in data,
            reply_to=None if reply_to == thread_id else reply_to,
            forwarded="forward_origin" in data,
            entities=[dict(entity) for entity in entities],
            deleted=message.deleted,
            thread_id=thread_id,
            media_group_id=data.get("media_group_id"),
        )


_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def _user_text(text: str, bot_username: str) -> Json:
    """Text a person typed, with the entities Telegram detects in it (bot commands)."""
    entities = [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]
    content: Json = {"text": text}
    if entities:
        content["entities"] = entities
    return content


class ChatView:
    """What the people in one chat see."""

    def __init__(self, world: FakeTelegram, chat_id: int) -> None:
        self.world = world
        self.id = chat_id

    @property
    def _state(self) -> _Chat:
        return self.world._chat_state(self.id)

    def all_messages(self) -> list[ViewMessage]:
        """Every message ever in the chat, deleted ones included (``deleted=True``)."""
        return [self.world._view(m) for m in self._state.messages.values()]

    def visible(self, thread_id: int | None = None) -> list[ViewMessage]:
        return [
            view
            for view in self.all_messages()
            if not view.deleted and (thread_id is None or view.thread_id == thread_id)
        ]

    def message(self, message_id: int) -> ViewMessage:
        return self.world._view(self._state.messages[message_id])

    def last_from_bot(self) -> ViewMessage | None:
        return next((view for view in reversed(self.visible()) if view.from_bot), None)

    def texts(self) -> list[str]:
        """Texts (or captions) of the bot's visible messages, oldest first."""
        return [view.text for view in self.visible() if view.from_bot]

    def deleted_ids(self) -> list[int]:
        return [view.message_id for view in self.all_messages() if view.deleted]

    def reply_keyboard(self) -> list[list[str]] | None:
        """The custom keyboard the bot last set in this chat, if any."""
        keyboard = self._state.reply_keyboard
        return [list(row) for row in keyboard] if keyboard else None


class FakeGroup(ChatView):
    """A supergroup with the bot in it."""

    @property
    def title(self) -> str:
        return str(self._state.title)

    @property
    def members(self) -> list[FakeUser]:
        return list(self._state.members.values())

    def add_member(self, user: FakeUser) -> None:
        self._state.members[user.id] = user

    def topics(self) -> dict[int, Topic]:
        return dict(self._state.topics)

    def delete_topic(self, message_thread_id: int) -> None:
        self.world.delete_topic(self.id, message_thread_id)


class _Actions:
    """What a person can do in a chat; each action returns the update Telegram sends the bot."""

    world: FakeTelegram

    def _where(self) -> tuple[FakeUser, _Chat, int | None]:
        raise NotImplementedError

    def send(self, text: str, *, entities: list[Entity] | None = None) -> Json:
        user, chat, thread_id = self._where()
        content = _user_text(text, self.world.bot_username)
        if entities is not None:
            content["entities"] = [*content.get("entities", []), *entities]
        return self.world._user_message(user, chat, content, thread_id=thread_id)

    def reply(self, to_message_id: int, text: str) -> Json:
        user, chat, thread_id = self._where()
        content = _user_text(text, self.world.bot_username)
        return self.world._user_message(user, chat, content, thread_id=thread_id, reply_to_id=to_message_id)

    def _send_file(self, kind: str, stored: StoredFile, caption: str | None, **extra: Any) -> Json:
        user, chat, thread_id = self._where()
        content: Json = {kind: stored.payload(), **extra}
        if caption:
            content["caption"] = caption
        return self.world._user_message(user, chat, content, thread_id=thread_id)

    def send_photo(self, caption: str | None = None) -> Json:
        stored = self.world._user_file("photo", b"\xff\xd8\xff fake jpeg", mime="image/jpeg")
        return self._send_file("photo", stored, caption)

    def send_document(
        self,
        file_name: str = "document.pdf",
        caption: str | None = None,
        mime_type: str = "application/pdf",
        data: bytes = b"%PDF-1.4 fake",
    ) -> Json:
        stored = self.world._user_file("document", data, file_name, mime_type)
        return self._send_file("document", stored, caption)

    def send_voice(self, duration: int = 3) -> Json:
        stored = self.world._user_file("voice", b"OggS fake voice", mime="audio/ogg", duration=duration)
        return self._send_file("voice", stored, None)

    def send_video_note(self, duration: int = 2) -> Json:
        stored = self.world._user_file("video_note", b"fake video note", duration=duration, width=240)
        return self._send_file("video_note", stored, None)

    def send_sticker(self, emoji: str = "🙂") -> Json:
        stored = self.world._user_file("sticker", b"RIFF fake webp", mime="image/webp", emoji=emoji)
        return self._send_file("sticker", stored, None)

    def send_album(self, n: int = 2, caption: str | None = None) -> list[Json]:
        """``n`` photos sent together: one update each, sharing a ``media_group_id``."""
        if not 2 <= n <= 10:
            raise ValueError("an album holds 2 to 10 items")
        group_id = str(next(self.world._file_numbers) * 7_919 + 14_000_000_000_000_000)
        updates = []
        for index in range(n):
            stored = self.world._user_file("photo", f"fake jpeg {index}".encode(), mime="image/jpeg")
            updates.append(self._send_file("photo", stored, caption if index == 0 else None, media_group_id=group_id))
        return updates

    def edit(self, message_id: int, new_text: str) -> Json:
        user, chat, _ = self._where()
        return self.world._user_edit(user, chat, message_id, new_text)

    def press(self, label: str, message_id: int | None = None) -> Json:
        """Press the button labelled ``label`` on the newest bot message showing one (or ``message_id``).

        An exact label wins over a label that merely contains ``label``. If no inline button matches but the
        chat's reply keyboard has ``label``, the person sends it as text, as a real client does.
        """
        user, chat, thread_id = self._where()
        candidates = [
            m
            for m in reversed(list(chat.messages.values()))
            if not m.deleted
            and m.from_bot
            and m.inline_keyboard
            and (message_id is None or m.message_id == message_id)
            and (thread_id is None or m.data.get("message_thread_id") == thread_id)
        ]
        hit = self._find_button(candidates, lambda text: text == label) or self._find_button(
            candidates, lambda text: label in text
        )
        if hit is None:
            if chat.reply_keyboard and any(label in row for row in chat.reply_keyboard):
                return self.send(label)
            visible = [b["text"] for m in candidates for row in m.inline_keyboard for b in row]
            raise NoSuchButton(f"no button {label!r} on screen; visible buttons: {visible}")
        message, button = hit
        if "callback_data" not in button:
            raise NoSuchButton(f"button {button['text']!r} sends no callback: {button}")
        return self.world._callback(user, chat, message, button["callback_data"])

    @staticmethod
    def _find_button(
        candidates: list[StoredMessage], match: Callable[[str], bool]
    ) -> tuple[StoredMessage, Json] | None:
        for message in candidates:
            hits = [button for row in message.inline_keyboard for button in row if match(button["text"])]
            if len(hits) > 1 and len({b["text"] for b in hits}) > 1:
                labels = [b["text"] for b in hits]
                raise NoSuchButton(f"ambiguous button: {labels} on message {message.message_id}")
            if hits:
                return message, hits[0]
        return None

    def press_data(self, message_id: int, data: str) -> Json:
        """Send a callback query with arbitrary ``data`` for a bot message: a forged or replayed press."""
        user, chat, _ = self._where()
        message = chat.find(message_id)
        if message is None or not message.from_bot:
            raise LookupError(f"no bot message {message_id} in chat {chat.id}")
        return self.world._callback(user, chat, message, data)


class ChatActor(_Actions):
    """A person acting in a group chat (``user.in_chat(group)``), optionally inside a forum topic."""

    def __init__(self, user: FakeUser, chat_id: int, thread_id: int | None = None) -> None:
        self.world = user.world
        self.user = user
        self.chat_id = chat_id
        self.thread_id = thread_id

    def _where(self) -> tuple[FakeUser, _Chat, int | None]:
        return self.user, self.world._chat_state(self.chat_id), self.thread_id


class FakeUser(_Actions):
    """A Telegram user. Their actions in the private chat with the bot are methods of this object."""

    def __init__(
        self,
        world: FakeTelegram,
        user_id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
        last_name: str | None = None,
    ) -> None:
        self.world = world
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self.last_name = last_name

    def __repr__(self) -> str:
        return f"FakeUser({self.id}, {self.first_name!r})"

    def _where(self) -> tuple[FakeUser, _Chat, int | None]:
        return self, self.world._chat_state(self.id), None

    def to_json(self) -> Json:
        user: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def chat(self) -> ChatView:
        return ChatView(self.world, self.id)

    @property
    def blocked_bot(self) -> bool:
        return self.world._chat_state(self.id).blocked

    @property
    def started(self) -> bool:
        return self.world._chat_state(self.id).started

    def start(self, payload: str | None = None) -> Json:
        return self.send(f"/start {payload}" if payload else "/start")

    def block_bot(self) -> Json:
        """Block the bot: later sends fail with 403, and the bot gets a ``my_chat_member`` update."""
        return self.world._membership(self, blocked=True)

    def unblock_bot(self) -> Json:
        return self.world._membership(self, blocked=False)

    def in_chat(self, group: ChatView | int, thread_id: int | None = None) -> ChatActor:
        return ChatActor(self, group if isinstance(group, int) else group.id, thread_id)

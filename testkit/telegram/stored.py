"""What the Bot API server keeps: accounts, chats, messages, files, callback queries, calls and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from testkit.telegram.errors import Json
from testkit.telegram.params import decode_param

MEDIA_KINDS = ("photo", "document", "voice", "video_note", "sticker", "video", "audio", "animation")
CAPTIONED_KINDS = frozenset({"photo", "document", "voice", "video", "audio", "animation"})
FILE_ID_PREFIXES = {
    "photo": "AgACAgIAAxkBAA",
    "document": "BQACAgIAAxkBAA",
    "voice": "AwACAgIAAxkBAA",
    "video_note": "DQACAgIAAxkBAA",
    "sticker": "CAACAgIAAxkBAA",
    "video": "BAACAgIAAxkBAA",
    "audio": "CQACAgIAAxkBAA",
    "animation": "CgACAgIAAxkBAA",
}


@dataclass
class Account:
    """A Telegram user as the server knows them."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    last_name: str | None = None

    def to_json(self) -> Json:
        user: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


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
    force_reply: Json | None = None  # sent with a forced reply: the client opens a reply to it (not in ``data``)

    @property
    def from_bot(self) -> bool:
        return self.sender == "bot"

    @property
    def kind(self) -> str:
        if "text" in self.data:
            return "text"
        return next((kind for kind in MEDIA_KINDS if kind in self.data), "other")

    @property
    def text(self) -> str:
        return str(self.data.get("text", self.data.get("caption", "")))

    @property
    def inline_keyboard(self) -> list[list[Json]]:
        markup = self.data.get("reply_markup") or {}
        return list(markup.get("inline_keyboard", []))


@dataclass
class StoredChat:
    """A private chat with one person (its id is theirs), or a supergroup the bot is in."""

    id: int
    type: Literal["private", "supergroup"]
    title: str | None = None
    account: Account | None = None
    members: dict[int, Account] = field(default_factory=dict)
    bot_is_admin: bool = True
    privacy_mode: bool = True
    bot_kicked: bool = False
    started: bool = False
    blocked: bool = False
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1

    def to_json(self) -> Json:
        if self.type == "private":
            assert self.account is not None
            chat: Json = {"id": self.id, "type": "private", "first_name": self.account.first_name}
            if self.account.last_name:
                chat["last_name"] = self.account.last_name
            if self.account.username:
                chat["username"] = self.account.username
            return chat
        return {"id": self.id, "type": self.type, "title": self.title}

    def find(self, message_id: int | None) -> StoredMessage | None:
        message = self.messages.get(message_id) if message_id is not None else None
        return None if message is None or message.deleted else message


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
class CallRecord:
    """One Bot API call: the parameters as received and what came of it."""

    method: str
    params: dict[str, Any]
    result: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def args(self) -> dict[str, Any]:
        """The parameters decoded: JSON strings parsed, numbers and booleans typed."""
        return {key: decode_param(key, value) for key, value in self.params.items()}


@dataclass
class WebhookConfig:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None

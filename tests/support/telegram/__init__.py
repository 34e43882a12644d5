"""A model of Telegram for tests: the Bot API server side, the people using the bot, and two ways in.

- :class:`FakeTelegram` (``world``) holds chats, messages, files and updates, and enforces the rules;
- :class:`FakeUser` / :class:`ChatActor` act (send, press, block...); :class:`ChatView` shows the chat;
- :class:`RecordingSession` lets a real ``aiogram.Bot`` call the world in-process;
  :class:`InProcessClient` feeds queued updates to a ``Dispatcher``;
- ``tests.e2e.emulator.BotApiEmulator`` serves the same world over HTTP.
"""

from tests.support.telegram.client import InProcessClient
from tests.support.telegram.html import (
    EntityParseError,
    FormattedText,
    parse_html,
    parse_markdown_v2,
    utf16_len,
)
from tests.support.telegram.session import RecordingSession
from tests.support.telegram.world import (
    ApiError,
    CallbackAnswer,
    CallRecord,
    ChatActor,
    ChatView,
    DroppedConnection,
    FakeGroup,
    FakeTelegram,
    FakeUser,
    NoSuchButton,
    StoredMessage,
    Upload,
    ViewMessage,
)

__all__ = [
    "ApiError",
    "CallRecord",
    "CallbackAnswer",
    "ChatActor",
    "ChatView",
    "DroppedConnection",
    "EntityParseError",
    "FakeGroup",
    "FakeTelegram",
    "FakeUser",
    "FormattedText",
    "InProcessClient",
    "NoSuchButton",
    "RecordingSession",
    "StoredMessage",
    "Upload",
    "ViewMessage",
    "parse_html",
    "parse_markdown_v2",
    "utf16_len",
]

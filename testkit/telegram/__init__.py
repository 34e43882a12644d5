"""A model of Telegram for tests and benchmarks: the Bot API server side, the people using the bot, and
two ways in.

- :class:`FakeTelegram` (``world``) holds chats, messages, files and updates, and enforces the rules, for
  the methods Tropa calls (see ``world.METHODS``); the modules around it hold one concern each:
  ``errors`` and ``faults`` (how the API says no), ``params`` (how parameters arrive), ``stored`` (what
  the server keeps), ``content`` and ``html`` (what a message may hold), ``state`` (what every method
  shares), and the methods by what they do: ``bot_settings``, ``updates``, ``sending``, ``editing``,
  ``deleting``, ``callbacks``;
- :class:`Person` acts (send, press, reply, edit, block...) and sees (``last``, ``texts``, ``buttons``,
  ``visible``), waiting for the world's :class:`Responder`; ``people`` is what their actions do on the
  server, ``views`` how a chat looks to them;
- :class:`RecordingSession` lets a real ``aiogram.Bot`` call the world in-process;
  :class:`InProcessClient` feeds queued updates to a ``Dispatcher``; :class:`BotApiEmulator` serves the
  same world over HTTP.
"""

from testkit.telegram.client import InProcessClient
from testkit.telegram.emulator import BotApiEmulator
from testkit.telegram.errors import ApiError, DroppedConnection, Json, NotModelled
from testkit.telegram.html import EntityParseError, FormattedText, parse_html, utf16_len
from testkit.telegram.person import Action, NoSuchButton, Person, Responder
from testkit.telegram.session import RecordingSession
from testkit.telegram.stored import CallbackAnswer, CallRecord, StoredMessage, Upload
from testkit.telegram.views import ChatView, ViewMessage
from testkit.telegram.world import FakeTelegram

__all__ = [
    "Action",
    "ApiError",
    "BotApiEmulator",
    "CallRecord",
    "CallbackAnswer",
    "ChatView",
    "DroppedConnection",
    "EntityParseError",
    "FakeTelegram",
    "FormattedText",
    "InProcessClient",
    "Json",
    "NoSuchButton",
    "NotModelled",
    "Person",
    "RecordingSession",
    "Responder",
    "StoredMessage",
    "Upload",
    "ViewMessage",
    "parse_html",
    "utf16_len",
]

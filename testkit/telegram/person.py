"""A person using the bot, for tests: acts the way people can and sees what they would see.

A :class:`Person` sends, presses, replies, edits and blocks; each action makes the update Telegram would
deliver and, unless ``wait=False``, waits for the bot the world is attached to (its :class:`Responder`):
the bot in this process settles (``tests.support.harness.Harness``), or a bot process over HTTP is waited
for (``tests.e2e.conftest.LiveBot``). A world with no responder (tests of the model itself, the load
driver, benchmarks) waits for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from testkit.telegram import callbacks, people
from testkit.telegram.errors import Json
from testkit.telegram.stored import Account, CallbackAnswer, StoredChat, StoredFile, StoredMessage
from testkit.telegram.views import ChatView, ViewMessage

if TYPE_CHECKING:
    from testkit.telegram.world import FakeTelegram

T = TypeVar("T")
Until = Callable[[], object]


class Responder(Protocol):
    """The bot that answers the people of a world, as people wait for it."""

    async def after(self, update: Json, until: Until | None) -> None:
        """Return once the bot is done with ``update`` and, when given, ``until()`` holds."""

    async def wait(self, predicate: Callable[[], T], timeout: float | None) -> T:  # noqa: ASYNC109
        """Return ``predicate()`` once it is truthy."""

    def translate(self, text: str, language: str) -> str:
        """``text`` (a msgid of the bot's catalogs) as the bot shows it in ``language``."""


class NoSuchButton(LookupError):
    """A person tried to press a button that is not on the screen."""


@dataclass(frozen=True)
class Action:
    """What a person did: the update Telegram sent the bot for it, and where its outcome shows."""

    world: FakeTelegram
    update: Json

    @property
    def delivered(self) -> bool:
        """Whether the bot was sent this update (a bot in privacy mode does not see group chatter)."""
        return "update_id" in self.update

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def message_id(self) -> int:
        """The id of the message sent or edited."""
        message = self.update.get("message") or self.update["edited_message"]
        return int(message["message_id"])

    @property
    def answer(self) -> CallbackAnswer:
        """The bot's answer to this press; a press must be answered (Telegram shows a spinner until it is)."""
        query = self.world.callback_queries[self.update["callback_query"]["id"]]
        assert query.answer is not None, f"the press {query.data!r} was not answered"
        return query.answer


class Person:
    """Someone in a chat with the bot: their own private chat, or a group (see :meth:`in_chat`)."""

    def __init__(self, world: FakeTelegram, account: Account, chat_id: int | None = None) -> None:
        self.world = world
        self.account = account
        self.chat = ChatView(world, account.id if chat_id is None else chat_id)
        self.language = account.language_code or "en"  # what they read the bot in; a switch in the bot changes it

    def __repr__(self) -> str:
        return f"Person({self.id}, {self.account.first_name!r}, chat {self.chat.id})"

    @property
    def id(self) -> int:
        return self.account.id

    def t(self, text: str) -> str:
        """``text`` as this person reads it: the bot's own catalogs, in their language."""
        responder = self.world.responder
        return responder.translate(text, self.language) if responder is not None else text

    def in_chat(self, group: ChatView | int) -> Person:
        """The same person acting in a group they are a member of."""
        acting = Person(self.world, self.account, group if isinstance(group, int) else group.id)
        acting.language = self.language
        return acting

    @property
    def blocked_bot(self) -> bool:
        return self.world.stored_chat(self.id).blocked

    # --- what they see -----------------------------------------------------------------------------------

    def visible(self) -> list[ViewMessage]:
        return self.chat.visible()

    def all_messages(self) -> list[ViewMessage]:
        """Every message ever in the chat, deleted ones included."""
        return self.chat.all_messages()

    def message(self, message_id: int) -> ViewMessage:
        return self.chat.message(message_id)

    def deleted_ids(self) -> list[int]:
        return self.chat.deleted_ids()

    def texts(self) -> list[str]:
        """Texts (or captions) of the bot's visible messages, oldest first."""
        return self.chat.texts()

    def last_from_bot(self) -> ViewMessage | None:
        return self.chat.last_from_bot()

    def last(self) -> str:
        """The text of the bot's newest visible message ("" when there is none)."""
        message = self.chat.last_from_bot()
        return message.text if message else ""

    def buttons(self) -> list[str]:
        """The labels on the bot's newest visible message, row by row."""
        message = self.chat.last_from_bot()
        return [label for row in (message.buttons if message else []) for label in row]

    def bot_messages_after(self, message_id: int) -> list[ViewMessage]:
        return [m for m in self.visible() if m.from_bot and m.message_id > message_id]

    def ever_received(self, fragment: str) -> list[ViewMessage]:
        """Bot messages containing ``fragment``, deleted ones included: what arrived, not what is left."""
        return [m for m in self.all_messages() if m.from_bot and fragment in m.text]

    def delivered(self, fragment: str) -> list[Json]:
        """Every text message Telegram accepted for this chat whose text (as sent) contains ``fragment``."""
        return [
            call.result
            for call in self.world.calls_of("sendMessage")
            if call.ok and call.result["chat"]["id"] == self.chat.id and fragment in call.result.get("text", "")
        ]

    def can_press(self, label: str, message_id: int | None = None) -> bool:
        """Whether a button ``label`` is on screen (on ``message_id`` when given)."""
        try:
            self._button(label, message_id)
        except NoSuchButton:
            return False
        return True

    # --- waiting -----------------------------------------------------------------------------------------

    async def after(self, action: Action, until: Until | None = None) -> Action:
        """Wait for the bot to be done with ``action`` (done with ``wait=False``), and for ``until``."""
        responder = self.world.responder
        if responder is not None:
            await responder.after(action.update, until)
        elif until is not None:
            await self.world.wait_for(until)
        return action

    async def wait(self, predicate: Callable[[], T], timeout: float | None = None) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy (what the bot does next, say) and return it."""
        responder = self.world.responder
        if responder is not None:
            return await responder.wait(predicate, timeout)
        value: T = await self.world.wait_for(predicate, timeout or 10)
        return value

    async def _acted(self, update: Json, until: Until | None, wait: bool) -> Action:
        action = Action(self.world, update)
        return await self.after(action, until) if wait else action

    # --- what they do ------------------------------------------------------------------------------------

    def _where(self) -> StoredChat:
        return self.world.stored_chat(self.chat.id)

    async def send(self, text: str, *, until: Until | None = None, wait: bool = True) -> Action:
        """Type and send ``text``; then wait for the bot (and for ``until``) unless ``wait=False``."""
        update = people.message(self.world, self.account, self._where(), people.typed(text))
        return await self._acted(update, until, wait)

    async def reply(self, to_message_id: int, text: str, *, until: Until | None = None, wait: bool = True) -> Action:
        """Reply to a message of the chat with ``text``."""
        content = people.typed(text)
        update = people.message(self.world, self.account, self._where(), content, reply_to_id=to_message_id)
        return await self._acted(update, until, wait)

    async def edit(self, message_id: int, text: str, *, until: Until | None = None, wait: bool = True) -> Action:
        """Edit one of their own text messages."""
        update = people.edit(self.world, self.account, self._where(), message_id, text)
        return await self._acted(update, until, wait)

    async def press(
        self,
        label: str,
        message_id: int | None = None,
        *,
        translate: bool = True,
        until: Until | None = None,
        wait: bool = True,
    ) -> Action:
        """Press the button ``label`` (in the person's language unless ``translate=False``) on the newest bot
        message showing one, or on ``message_id``. An exact label wins over one that merely contains it."""
        message, button = self._button(self.t(label) if translate else label, message_id)
        if "callback_data" not in button:
            raise NoSuchButton(f"button {button['text']!r} sends no callback: {button}")
        update = callbacks.press(self.world, self.account, self._where(), message, button["callback_data"])
        return await self._acted(update, until, wait)

    async def press_data(self, message_id: int, data: str, *, until: Until | None = None, wait: bool = True) -> Action:
        """A press with arbitrary ``data`` on a bot message: a forged or replayed press."""
        chat = self._where()
        message = chat.find(message_id)
        if message is None or not message.from_bot:
            raise LookupError(f"no bot message {message_id} in chat {chat.id}")
        update = callbacks.press(self.world, self.account, chat, message, data)
        return await self._acted(update, until, wait)

    async def block_bot(self, *, wait: bool = True) -> Action:
        """Block the bot: its sends fail with 403 from now on, and it gets a ``my_chat_member`` update."""
        return await self._acted(people.membership(self.world, self.account, blocked=True), None, wait)

    async def unblock_bot(self, *, wait: bool = True) -> Action:
        return await self._acted(people.membership(self.world, self.account, blocked=False), None, wait)

    async def send_photo(self, caption: str | None = None, *, wait: bool = True) -> Action:
        stored = people.upload(self.world, "photo", b"\xff\xd8\xff fake jpeg", mime="image/jpeg")
        return await self._send_file("photo", stored, caption, wait)

    async def send_document(
        self,
        file_name: str = "document.pdf",
        caption: str | None = None,
        mime_type: str = "application/pdf",
        data: bytes = b"%PDF-1.4 fake",
        *,
        wait: bool = True,
    ) -> Action:
        stored = people.upload(self.world, "document", data, file_name, mime_type)
        return await self._send_file("document", stored, caption, wait)

    async def send_voice(self, duration: int = 3, *, wait: bool = True) -> Action:
        stored = people.upload(self.world, "voice", b"OggS fake voice", mime="audio/ogg", duration=duration)
        return await self._send_file("voice", stored, None, wait)

    async def send_video_note(self, duration: int = 2, *, wait: bool = True) -> Action:
        stored = people.upload(self.world, "video_note", b"fake video note", duration=duration, width=240)
        return await self._send_file("video_note", stored, None, wait)

    async def send_sticker(self, emoji: str = "🙂", *, reply_to: int | None = None, wait: bool = True) -> Action:
        """A sticker, as a reply to ``reply_to`` when given."""
        stored = people.upload(self.world, "sticker", b"RIFF fake webp", mime="image/webp", emoji=emoji)
        return await self._send_file("sticker", stored, None, wait, reply_to=reply_to)

    async def send_album(self, n: int = 2, caption: str | None = None, *, wait: bool = True) -> list[Action]:
        """``n`` photos sent together: one update each, sharing a ``media_group_id``."""
        if not 2 <= n <= 10:
            raise ValueError("an album holds 2 to 10 items")
        group_id = str(next(self.world.file_numbers) * 7_919 + 14_000_000_000_000_000)
        actions = []
        for index in range(n):
            stored = people.upload(self.world, "photo", f"fake jpeg {index}".encode(), mime="image/jpeg")
            first = caption if index == 0 else None
            actions.append(await self._send_file("photo", stored, first, False, media_group_id=group_id))
        if wait:
            await self.after(actions[-1])
        return actions

    async def _send_file(
        self, kind: str, stored: StoredFile, caption: str | None, wait: bool, reply_to: int | None = None, **extra: Any
    ) -> Action:
        content: Json = {kind: stored.payload(), **extra}
        if caption:
            content["caption"] = caption
        update = people.message(self.world, self.account, self._where(), content, reply_to_id=reply_to)
        return await self._acted(update, None, wait)

    def _button(self, label: str, message_id: int | None) -> tuple[StoredMessage, Json]:
        candidates = [
            m
            for m in reversed(list(self._where().messages.values()))
            if not m.deleted and m.from_bot and m.inline_keyboard and (message_id is None or m.message_id == message_id)
        ]
        hit = _find_button(candidates, lambda text: text == label) or _find_button(
            candidates, lambda text: label in text
        )
        if hit is None:
            visible = [b["text"] for m in candidates for row in m.inline_keyboard for b in row]
            raise NoSuchButton(f"no button {label!r} on screen; visible buttons: {visible}")
        return hit


def _find_button(candidates: list[StoredMessage], match: Callable[[str], bool]) -> tuple[StoredMessage, Json] | None:
    for message in candidates:
        hits = [button for row in message.inline_keyboard for button in row if match(button["text"])]
        if len(hits) > 1 and len({b["text"] for b in hits}) > 1:
            labels = [b["text"] for b in hits]
            raise NoSuchButton(f"ambiguous button: {labels} on message {message.message_id}")
        if hits:
            return message, hits[0]
    return None

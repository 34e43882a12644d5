"""A chat as the people in it see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from testkit.telegram.html import Entity
from testkit.telegram.state import WorldState
from testkit.telegram.stored import StoredChat, StoredMessage


@dataclass(frozen=True)
class ViewMessage:
    """A message as the people in the chat see it."""

    message_id: int
    from_bot: bool
    text: str
    buttons: list[list[str]]
    protected: bool
    kind: str
    edited: bool
    reply_to: int | None
    entities: list[Entity] = field(default_factory=list)
    deleted: bool = False
    media_group_id: str | None = None
    forces_reply: bool = False  # the client opened a reply to it (a prompt)


def view_of(message: StoredMessage) -> ViewMessage:
    keyboard = message.inline_keyboard
    data = message.data
    entities: list[Entity] = data.get("entities") or data.get("caption_entities") or []
    return ViewMessage(
        message_id=message.message_id,
        from_bot=message.from_bot,
        text=message.text,
        buttons=[[button["text"] for button in row] for row in keyboard],
        protected=bool(data.get("has_protected_content")),
        kind=message.kind,
        edited="edit_date" in data,
        reply_to=data.get("reply_to_message", {}).get("message_id"),
        entities=[dict(entity) for entity in entities],
        deleted=message.deleted,
        media_group_id=data.get("media_group_id"),
        forces_reply=message.force_reply is not None,
    )


class ChatView:
    """What the people in one chat see."""

    def __init__(self, world: WorldState, chat_id: int) -> None:
        self.world = world
        self.id = chat_id

    @property
    def _state(self) -> StoredChat:
        return self.world.stored_chat(self.id)

    def all_messages(self) -> list[ViewMessage]:
        """Every message ever in the chat, deleted ones included (``deleted=True``)."""
        return [view_of(m) for m in self._state.messages.values()]

    def visible(self) -> list[ViewMessage]:
        return [view for view in self.all_messages() if not view.deleted]

    def message(self, message_id: int) -> ViewMessage:
        return view_of(self._state.messages[message_id])

    def last_from_bot(self) -> ViewMessage | None:
        return next((view for view in reversed(self.visible()) if view.from_bot), None)

    def texts(self) -> list[str]:
        """Texts (or captions) of the bot's visible messages, oldest first."""
        return [view.text for view in self.visible() if view.from_bot]

    def deleted_ids(self) -> list[int]:
        return [view.message_id for view in self.all_messages() if view.deleted]

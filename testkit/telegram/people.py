"""What people's actions do on the server: their messages and edits stored, blocking, and the updates the
bot gets for them (or does not, in a group where privacy mode hides them)."""

from __future__ import annotations

import re
from typing import Any

from testkit.telegram.copying import clone
from testkit.telegram.errors import Json
from testkit.telegram.html import utf16_len
from testkit.telegram.state import WorldState
from testkit.telegram.stored import Account, StoredChat, StoredFile, StoredMessage, Upload

_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def typed(text: str) -> Json:
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


def bot_receives(world: WorldState, chat: StoredChat, message: StoredMessage) -> bool:
    """A bot that is no admin in a group with privacy mode on sees only commands, mentions and replies."""
    if chat.type == "private" or chat.bot_is_admin or not chat.privacy_mode:
        return True
    replied = message.data.get("reply_to_message", {})
    return (
        message.text.startswith("/")
        or f"@{world.bot_username}".lower() in message.text.lower()
        or replied.get("from", {}).get("id") == world.bot_id
    )


def message(
    world: WorldState, account: Account, chat: StoredChat, content: Json, *, reply_to_id: int | None = None
) -> Json:
    """Store a message a person sends and queue its update. Returns the update, or ``{"message": ...}``
    without an ``update_id`` when Telegram would not show it to the bot (privacy mode in a group)."""
    if chat.type == "private":
        if chat.blocked:  # a blocked bot is unblocked by writing to it ("Restart")
            membership(world, account, blocked=False)
        chat.started = True
    elif account.id not in chat.members:
        raise LookupError(f"{account.first_name} is not a member of {chat.title!r}")
    reply_to = None
    if reply_to_id is not None:
        reply_to = chat.find(reply_to_id)
        if reply_to is None:
            raise LookupError(f"message {reply_to_id} is not in chat {chat.id}")
    stored = world.store(chat, content, sender=account, reply_to=reply_to)
    if bot_receives(world, chat, stored):
        return world.enqueue("message", stored.data)
    world.changed()
    return {"message": clone(stored.data)}


def edit(world: WorldState, account: Account, chat: StoredChat, message_id: int, text: str) -> Json:
    stored = chat.find(message_id)
    if stored is None or stored.sender_id != account.id or stored.from_bot:
        raise LookupError(f"{account.first_name} has no message {message_id} in chat {chat.id}")
    if "text" not in stored.data:
        raise LookupError(f"message {message_id} has no text to edit")
    stored.data.pop("entities", None)
    stored.data.update(typed(text))
    stored.data["edit_date"] = int(world.now().timestamp())
    if bot_receives(world, chat, stored):
        return world.enqueue("edited_message", stored.data)
    world.changed()
    return {"edited_message": clone(stored.data)}


def membership(world: WorldState, account: Account, *, blocked: bool) -> Json:
    """Block or unblock the bot: the bot gets a ``my_chat_member`` update, and a blocked bot's sends fail."""
    chat = world.stored_chat(account.id)
    chat.blocked = blocked
    bot = world.bot_json()
    member: Json = {"status": "member", "user": bot}
    kicked: Json = {"status": "kicked", "user": bot, "until_date": 0}
    return world.enqueue(
        "my_chat_member",
        {
            "chat": chat.to_json(),
            "from": account.to_json(),
            "date": int(world.now().timestamp()),
            "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member,
        },
    )


def upload(
    world: WorldState, kind: str, data: bytes, filename: str | None = None, mime: str | None = None, **details: Any
) -> StoredFile:
    """A file a person sends from their device."""
    return world.new_file(kind, Upload(data, filename, mime), **details)

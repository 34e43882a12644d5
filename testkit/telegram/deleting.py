"""Deleting: one message or up to 100, both sides of a private chat, only within 48 hours."""

from __future__ import annotations

from testkit.telegram.errors import DELETE_WINDOW, ApiError, bad_request
from testkit.telegram.params import Params
from testkit.telegram.state import WorldState
from testkit.telegram.stored import StoredChat


def _delete(world: WorldState, chat: StoredChat, message_id: int) -> None:
    message = chat.find(message_id)
    if message is None:
        raise bad_request("message to delete not found")
    if world.now() - message.created > DELETE_WINDOW:
        raise bad_request("message can't be deleted")
    if chat.type != "private" and not message.from_bot and not chat.bot_is_admin:
        raise bad_request("message can't be deleted")
    message.deleted = True


def delete_message(world: WorldState, p: Params) -> bool:
    chat = world.chat_param(p)
    _delete(world, chat, p.required_integer("message_id", "message identifier is not specified"))
    return True


def delete_messages(world: WorldState, p: Params) -> bool:
    """Deletes what it may and skips the rest silently, as Telegram does."""
    chat = world.chat_param(p)
    ids = p.decoded("message_ids")
    if not isinstance(ids, list) or not ids:
        raise bad_request("message identifiers are not specified")
    if len(ids) > 100:
        raise bad_request("too many message identifiers specified")
    try:
        numbers = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise bad_request("can't parse message_ids JSON object") from None
    for message_id in numbers:
        try:
            _delete(world, chat, message_id)
        except ApiError:
            continue
    return True

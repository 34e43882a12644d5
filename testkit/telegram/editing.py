"""Editing the bot's own messages: text, caption, keyboard; an edit that changes nothing is refused."""

from __future__ import annotations

from testkit.telegram.content import formatted, inline_markup
from testkit.telegram.copying import clone
from testkit.telegram.errors import NOT_MODIFIED, ApiError, Json, bad_request
from testkit.telegram.params import Params
from testkit.telegram.sending import caption
from testkit.telegram.state import WorldState
from testkit.telegram.stored import CAPTIONED_KINDS, StoredMessage


def _editable(world: WorldState, p: Params) -> StoredMessage:
    if p.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = world.chat_param(p)
    message = chat.find(p.integer("message_id", required="message identifier is not specified"))
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _apply(world: WorldState, message: StoredMessage, content: Json, markup: Json | None) -> Json:
    data = message.data
    same_content = all((data.get(key) or None) == (value or None) for key, value in content.items())
    if same_content and data.get("reply_markup") == markup:
        raise ApiError(400, NOT_MODIFIED)
    for key, value in content.items():
        if value:
            data[key] = clone(value)
        else:
            data.pop(key, None)
    if markup:
        data["reply_markup"] = clone(markup)
    else:
        data.pop("reply_markup", None)
    data["edit_date"] = int(world.now().timestamp())
    return data


def edit_message_text(world: WorldState, p: Params) -> Json:
    markup = inline_markup(p)
    text = formatted(p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False)
    assert text is not None
    message = _editable(world, p)
    if "text" not in message.data:
        raise bad_request("there is no text in the message to edit")
    return _apply(world, message, {"text": text.text, "entities": text.entities}, markup)


def edit_message_caption(world: WorldState, p: Params) -> Json:
    markup = inline_markup(p)
    described = caption(p)
    message = _editable(world, p)
    if message.kind not in CAPTIONED_KINDS:
        raise bad_request("there is no caption in the message to edit")
    content = {
        "caption": described.text if described else None,
        "caption_entities": described.entities if described else None,
    }
    return _apply(world, message, content, markup)


def edit_message_reply_markup(world: WorldState, p: Params) -> Json:
    markup = inline_markup(p)
    return _apply(world, _editable(world, p), {}, markup)

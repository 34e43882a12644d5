"""What a message may hold: its text after entity parsing, explicit entities, and an inline keyboard."""

from __future__ import annotations

import json
import re
from typing import Any

from testkit.telegram.errors import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_PLACEHOLDER,
    MAX_TEXT_LENGTH,
    ApiError,
    Json,
    NotModelled,
    bad_request,
)
from testkit.telegram.html import ENTITY_TYPES, Entity, EntityParseError, FormattedText, parse_html, trim, utf16_len
from testkit.telegram.params import Params

# fmt: off
_INLINE_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game",
    "pay",
)
# fmt: on


def formatted(raw: Any, parse_mode: Any, entities: Any, *, caption: bool) -> FormattedText | None:
    """Text (or caption) after entity parsing and trimming; ``None`` for an absent caption."""
    text = "" if raw is None else raw if isinstance(raw, str) else str(raw)
    if not text:
        if caption:
            return None
        raise bad_request("message text is empty")
    if parse_mode:
        if str(parse_mode) != "HTML":
            raise NotModelled(f"parse_mode {parse_mode!r}: the model parses HTML, the only mode Tropa uses")
        try:
            result = parse_html(text)
        except EntityParseError as error:
            raise ApiError(400, error.description) from None
    else:
        result = FormattedText(text, explicit_entities(text, entities))
    result = trim(result)
    if not result.text:
        if caption:
            return None
        raise bad_request("message text is empty")
    if caption and len(result.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    if not caption and len(result.text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return result


def explicit_entities(text: str, value: Any) -> list[Entity]:
    """Entities sent with the text (``entities=[...]``, as ``aiogram.utils.formatting`` computes them)."""
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


def inline_markup(p: Params) -> Json | None:
    """The message's inline keyboard from ``reply_markup`` (``None`` when there is none or it is empty)."""
    markup = p.decoded("reply_markup", error="can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        raise NotModelled(
            f"reply_markup {sorted(markup)}: the model knows inline keyboards and (sending) forced replies"
        )
    return _inline_keyboard(markup["inline_keyboard"])


def send_markup(p: Params) -> tuple[Json | None, Json | None]:
    """A sent message's markup: its inline keyboard, or a forced reply (``{"force_reply": True, ...}``), which
    the client acts on and the message itself does not show."""
    markup = p.decoded("reply_markup", error="can't parse reply keyboard markup JSON object")
    if isinstance(markup, dict) and "force_reply" in markup:
        return None, _force_reply(markup)
    return inline_markup(p), None


def _force_reply(markup: Json) -> Json:
    if markup.get("force_reply") is not True:
        raise bad_request("can't parse reply keyboard markup JSON object")
    placeholder = markup.get("input_field_placeholder")
    if placeholder is not None and not (isinstance(placeholder, str) and 1 <= len(placeholder) <= MAX_PLACEHOLDER):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return {key: markup[key] for key in ("force_reply", "input_field_placeholder", "selective") if key in markup}


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

"""Sending: text, every kind of media Tropa relays, and albums, each with its reply target and keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testkit.telegram.content import formatted, send_markup
from testkit.telegram.errors import Json, bad_request
from testkit.telegram.html import FormattedText
from testkit.telegram.params import Params
from testkit.telegram.state import WorldState
from testkit.telegram.stored import CAPTIONED_KINDS, StoredChat, StoredMessage

ALBUM_KINDS = ("photo", "video", "document", "audio")


def reply_target(chat: StoredChat, p: Params) -> StoredMessage | None:
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


def _post(
    world: WorldState, chat: StoredChat, p: Params, content: Json, markup: Json | None, forced: Json | None = None
) -> StoredMessage:
    content = dict(content)
    if p.flag("protect_content"):
        content["has_protected_content"] = True
    if markup:
        content["reply_markup"] = markup
    message = world.store(chat, content, reply_to=reply_target(chat, p))
    message.force_reply = forced
    return message


def caption_content(caption: FormattedText | None) -> Json:
    if caption is None:
        return {}
    content: Json = {"caption": caption.text}
    if caption.entities:
        content["caption_entities"] = caption.entities
    return content


def caption(p: Params) -> FormattedText | None:
    return formatted(p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True)


def send_message(world: WorldState, p: Params) -> Json:
    markup, forced = send_markup(p)
    text = formatted(p.get("text"), p.get("parse_mode"), p.get("entities"), caption=False)
    assert text is not None
    chat = world.writable_chat(p)
    content: Json = {"text": text.text}
    if text.entities:
        content["entities"] = text.entities
    return _post(world, chat, p, content, markup, forced).data


def send_media(world: WorldState, p: Params, kind: str) -> Json:
    """A file of ``kind`` (which names the file parameter too), with its caption if the kind has one."""
    markup, forced = send_markup(p)
    described = caption(p) if kind in CAPTIONED_KINDS else None
    details: dict[str, Any] = {
        key: p.integer(key) for key in ("duration", "width", "height") if p.integer(key) is not None
    }
    if kind == "video_note" and p.integer("length") is not None:
        details["width"] = p.integer("length")
    if kind == "sticker" and p.text("emoji"):
        details["emoji"] = p.text("emoji")
    stored = world.input_file(p.get(kind), kind, p, **details)
    chat = world.writable_chat(p)
    content: Json = {kind: stored.payload(), **caption_content(described)}
    if p.flag("has_spoiler"):
        content["has_media_spoiler"] = True
    return _post(world, chat, p, content, markup, forced).data


def media_sender(kind: str) -> Callable[[WorldState, Params], Json]:
    """The handler of ``sendPhoto`` (``kind="photo"``), ``sendVoice`` and the rest."""

    def send(world: WorldState, p: Params) -> Json:
        return send_media(world, p, kind)

    return send


def send_media_group(world: WorldState, p: Params) -> list[Json]:
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
        if kind not in ALBUM_KINDS:
            raise bad_request(f'can\'t parse InputMedia: unsupported media type "{kind}"')
        described = formatted(item.get("caption"), item.get("parse_mode"), item.get("caption_entities"), caption=True)
        stored = world.input_file(item.get("media"), kind, p)
        contents.append({kind: stored.payload(), **caption_content(described)})
    chat = world.writable_chat(p)
    group_id = str(next(world.file_numbers) * 7_919 + 13_000_000_000_000_000)
    return [_post(world, chat, p, {**content, "media_group_id": group_id}, None).data for content in contents]

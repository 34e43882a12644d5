"""Outbox payloads as Bot API calls: one each, in the recipient's language.

Payloads say what happened (``{"kind": "confirmation", "code": "R-..."}``); views/notices.py says it in
words, this module picks the method, the buttons and ``protect_content``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import methods
from aiogram.methods import (
    DeleteMessages,
    EditMessageCaption,
    EditMessageText,
    SendAnimation,
    SendAudio,
    SendDocument,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendSticker,
    SendVideo,
    SendVideoNote,
    SendVoice,
    TelegramMethod,
)
from aiogram.types import (
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
)
from aiogram.utils.formatting import Text
from aiogram.utils.i18n import I18n

from bot.settings import WorkingHours
from services.delivery import Target
from views import notices as views
from views.volunteer import card_markup, card_text, card_update_text, full_card_from_payload

Build = Callable[[dict[str, Any], Target], TelegramMethod[Any]]


class NoticeRenderer:
    def __init__(self, i18n: I18n, working_hours: WorkingHours) -> None:
        self.i18n = i18n
        self.working_hours = working_hours
        self._kinds: dict[str, Build] = {
            "confirmation": self._confirmation,
            "delete": self._delete,
            "undelivered": self._undelivered,
            "card": self._card,
            "card_update": self._card_update,
            "full_card": self._full_card,
            "claimed": self._claimed,
            "closed": self._closed,
            "relay_in": self._relay_in,
            "relay_out": self._relay_out,
            "relay_edit": self._relay_edit,
            "neutralize": self._neutralize,
            "method": self._method,
            "lease_expired": self._lease_expired,
            "erased_inactive": self._erased_inactive,
            "escalation": self._escalation,
            "flagged": self._flagged,
            "inspected": self._inspected,
            "blocked": self._blocked,
            "forgotten": self._forgotten,
            "scrub_failed": self._scrub_failed,
        }

    def register(self, kind: str, build: Build) -> None:
        self._kinds[kind] = build

    def render(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        build = self._kinds[str(payload["kind"])]
        with self.i18n.context(), self.i18n.use_locale(target.locale):
            return build(payload, target)

    @staticmethod
    def message(target: Target, content: Text, **extra: Any) -> SendMessage:
        return SendMessage(chat_id=target.chat_id, **content.as_kwargs(), **extra)

    def _confirmation(self, payload: dict[str, Any], target: Target) -> SendMessage:
        hours = self.working_hours
        content = views.confirmation(str(payload["code"]), start=hours.start, end=hours.end, zone=hours.zone.key)
        return self.message(target, content)

    @staticmethod
    def _delete(payload: dict[str, Any], target: Target) -> DeleteMessages:
        return DeleteMessages(chat_id=target.chat_id, message_ids=[int(m) for m in payload["message_ids"]][:100])

    def _undelivered(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.undelivered(str(payload["code"]), payload.get("reason")))

    # -- the queue -----------------------------------------------------------------------------------

    def _card(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(
            target, card_text(payload), reply_markup=card_markup(str(payload["code"])), protect_content=True
        )

    @staticmethod
    def _card_update(payload: dict[str, Any], target: Target) -> EditMessageText:
        content = card_update_text(str(payload["code"]), str(payload["state"]))
        return EditMessageText(
            chat_id=target.chat_id,
            message_id=int(payload["message_id"]),
            reply_markup=None,
            **content.as_kwargs(),
        )

    def _full_card(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, full_card_from_payload(payload), protect_content=True)

    def _claimed(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.claimed(str(payload["code"]), str(payload["pseudonym"])))

    def _closed(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.closed(str(payload["code"])))

    def _lease_expired(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.lease_expired(str(payload["code"]), int(payload["hours"])))

    def _erased_inactive(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.erased_inactive(str(payload["code"]), int(payload["days"])))

    def _escalation(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.escalation(str(payload["code"])))

    def _flagged(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.flagged(str(payload["code"]), str(payload["by"])))

    def _inspected(self, payload: dict[str, Any], target: Target) -> SendMessage:
        content = views.inspected(str(payload["code"]), str(payload["by"]), str(payload["reason"]))
        return self.message(target, content)

    def _blocked(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.blocked(str(payload["code"])))

    def _forgotten(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.forgotten(str(payload["code"])))

    def _scrub_failed(self, payload: dict[str, Any], target: Target) -> SendMessage:
        return self.message(target, views.scrub_failed(str(payload["name"]), payload.get("reason")))

    # -- the relay -----------------------------------------------------------------------------------

    def _relay_in(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        return self._relayed(str(payload["code"]), payload, target, protect=True)

    def _relay_out(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        return self._relayed(views.volunteer_label(str(payload["pseudonym"])), payload, target, protect=False)

    def _sender(self, payload: dict[str, Any]) -> str:
        if "pseudonym" in payload:
            return views.volunteer_label(str(payload["pseudonym"]))
        return str(payload.get("code") or payload.get("sender"))

    @staticmethod
    def _label(sender: str, content: dict[str, Any]) -> Text:
        return views.sender_label(sender, edited=bool(content.get("edited")))

    def _relayed(self, sender: str, payload: dict[str, Any], target: Target, *, protect: bool) -> TelegramMethod[Any]:
        content = payload["content"]
        kind = content["type"]
        common: dict[str, Any] = {"chat_id": target.chat_id, "protect_content": protect}
        if payload.get("reply_to"):
            common["reply_parameters"] = ReplyParameters(
                message_id=int(payload["reply_to"]), allow_sending_without_reply=True
            )
        label = self._label(sender, content)
        if kind == "text":
            return SendMessage(**common, **Text(label, "\n", content["text"]).as_kwargs())
        if kind == "label":
            return SendMessage(**common, **views.sent_this(sender).as_kwargs())
        if kind in CAPTIONLESS_METHODS:
            method: TelegramMethod[Any] = CAPTIONLESS_METHODS[kind](**common, **{kind: content["file_id"]})
            return method
        media: TelegramMethod[Any] = MEDIA_METHODS[kind](
            **common, **{kind: content["file_id"]}, **self._caption(label, content)
        )
        return media

    @staticmethod
    def _caption(label: Text, content: dict[str, Any]) -> dict[str, Any]:
        caption = Text(label, "\n", content["caption"]) if content.get("caption") else label
        return caption.as_kwargs(text_key="caption", entities_key="caption_entities")

    def _relay_edit(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        content = payload["content"]
        label = self._label(self._sender(payload), content)
        if content["type"] == "text":
            return EditMessageText(
                chat_id=target.chat_id,
                message_id=int(payload["message_id"]),
                **Text(label, "\n", content["text"]).as_kwargs(),
            )
        return EditMessageCaption(
            chat_id=target.chat_id, message_id=int(payload["message_id"]), **self._caption(label, content)
        )

    @staticmethod
    def _method(payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        """An edit or a deletion an update queued (see bot/middlewares/retry.py: AfterCommit)."""
        method_type = getattr(methods, str(payload["method"]))
        method: TelegramMethod[Any] = method_type.model_validate(payload["params"])
        return method

    def _neutralize(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        content = views.neutralized(str(payload["code"]), str(payload["reason"]))
        if payload.get("media"):
            return EditMessageCaption(
                chat_id=target.chat_id,
                message_id=int(payload["message_id"]),
                **content.as_kwargs(text_key="caption", entities_key="caption_entities"),
            )
        return EditMessageText(chat_id=target.chat_id, message_id=int(payload["message_id"]), **content.as_kwargs())

    def render_album(self, payloads: list[dict[str, Any]], target: Target) -> SendMediaGroup:
        """Album items, queued one by one as they arrived, sent as the one album they were."""
        with self.i18n.context(), self.i18n.use_locale(target.locale):
            first = payloads[0]
            outgoing = first["kind"] == "relay_out"
            label = self._label(self._sender(first), first["content"])
            media = []
            for index, payload in enumerate(payloads):
                content = payload["content"]
                if index == 0:
                    caption = self._caption(label, content)  # the label goes on the album's first item
                elif content.get("caption"):
                    caption = Text(content["caption"]).as_kwargs(text_key="caption", entities_key="caption_entities")
                else:
                    caption = {}
                media.append(ALBUM_TYPES[content["type"]](media=content["file_id"], **caption))
            return SendMediaGroup(chat_id=target.chat_id, media=media, protect_content=not outgoing)


ALBUM_TYPES: dict[str, Any] = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
    "audio": InputMediaAudio,
}
CAPTIONLESS_METHODS: dict[str, Any] = {"sticker": SendSticker, "video_note": SendVideoNote}
MEDIA_METHODS: dict[str, Any] = {
    "photo": SendPhoto,
    "voice": SendVoice,
    "document": SendDocument,
    "video": SendVideo,
    "audio": SendAudio,
    "animation": SendAnimation,
}

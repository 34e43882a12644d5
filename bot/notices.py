"""Outbox notices as Bot API calls: one each, in the recipient's language.

A stored payload is read back into its notice class (services/notices.py) and built by that class: views/
says it in words, this module picks the method, the buttons and ``protect_content``.
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
from services import notices as n
from services.hygiene import DELETE_BATCH
from services.recipients import Target
from storage import clock
from storage.conversation import KeptMessage
from views import case as case_views
from views import notices as views
from views.case import case_markup
from views.language import zone_words
from views.reconnect import key_view
from views.selfhelp import selfhelp_markup
from views.volunteer import card_markup, card_text, card_update_text, full_card_text

Build = Callable[[Any, Target], TelegramMethod[Any]]
RelayNotice = n.RelayIn | n.RelayOut | n.RelayEdit


class NoticeRenderer:
    def __init__(self, i18n: I18n, working_hours: WorkingHours) -> None:
        self.i18n = i18n
        self.working_hours = working_hours
        self._builders: dict[type[n.Notice], Build] = {
            n.Confirmation: self._confirmation,
            n.ReconnectKey: self._reconnect_key,
            n.Reconnected: self._reconnected,
            n.Delete: self._delete,
            n.Undelivered: self._undelivered,
            n.Card: self._card,
            n.CardUpdate: self._card_update,
            n.FullCard: self._full_card,
            n.Claimed: self._claimed,
            n.Closed: self._closed,
            n.RelayIn: self._relay_in,
            n.RelayOut: self._relay_out,
            n.RelayEdit: self._relay_edit,
            n.Neutralize: self._neutralize,
            n.Method: self._method,
            n.LeaseExpired: self._lease_expired,
            n.ErasedInactive: self._erased_inactive,
            n.Escalation: self._escalation,
            n.Flagged: self._flagged,
            n.Inspected: self._inspected,
            n.Blocked: self._blocked,
            n.Forgotten: self._forgotten,
            n.ScrubFailed: self._scrub_failed,
            n.HandedOver: self._handed_over,
            n.HandoverNote: self._handover_note,
            n.ConversationPage: self._conversation,
            n.Sent: self._sent,
        }
        assert set(self._builders) == set(n.NOTICES.values()), "every notice needs a way to be sent"

    def register(self, notice: type[n.Notice], build: Build) -> None:
        """Send ``notice`` with ``build`` from now on (a new kind, or another way of sending one)."""
        self._builders[notice] = build

    def render(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        notice = n.parse(payload)
        with self.i18n.context(), self.i18n.use_locale(target.locale):
            return self._builders[type(notice)](notice, target)

    @staticmethod
    def message(target: Target, content: Text, **extra: Any) -> SendMessage:
        return SendMessage(chat_id=target.chat_id, **content.as_kwargs(), **extra)

    def _confirmation(self, notice: n.Confirmation, target: Target) -> SendMessage:
        hours, now = self.working_hours, clock.now()
        on_shift = hours.covers(now)
        zone = zone_words(hours.zone.key, hours.offset(now))
        content = views.confirmation(notice.code, start=hours.start, end=hours.end, zone=zone, on_shift=on_shift)
        return self.message(target, content, reply_markup=None if on_shift else selfhelp_markup())

    def _reconnect_key(self, notice: n.ReconnectKey, target: Target) -> SendMessage:
        view = key_view(notice.code, notice.secret)
        return self.message(target, view.text, reply_markup=view.markup, protect_content=True)

    def _reconnected(self, notice: n.Reconnected, target: Target) -> SendMessage:
        return self.message(target, views.reconnected(notice.code))

    @staticmethod
    def _delete(notice: n.Delete, target: Target) -> DeleteMessages:
        return DeleteMessages(chat_id=target.chat_id, message_ids=[int(m) for m in notice.message_ids][:DELETE_BATCH])

    def _undelivered(self, notice: n.Undelivered, target: Target) -> SendMessage:
        return self.message(target, views.undelivered(notice.code, notice.reason))

    # -- the queue -----------------------------------------------------------------------------------

    def _card(self, notice: n.Card, target: Target) -> SendMessage:
        return self.message(target, card_text(notice), reply_markup=card_markup(notice.code), protect_content=True)

    @staticmethod
    def _card_update(notice: n.CardUpdate, target: Target) -> EditMessageText:
        content = card_update_text(notice.code, notice.state)
        return EditMessageText(
            chat_id=target.chat_id, message_id=int(notice.message_id), reply_markup=None, **content.as_kwargs()
        )

    def _full_card(self, notice: n.FullCard, target: Target) -> SendMessage:
        return self.message(target, full_card_text(notice), reply_markup=case_markup(notice.code), protect_content=True)

    def _handover_note(self, notice: n.HandoverNote, target: Target) -> SendMessage:
        content = case_views.handover_note(notice.code, notice.by, notice.at, notice.text)
        return self.message(target, content, protect_content=True)

    def _conversation(self, notice: n.ConversationPage, target: Target) -> SendMessage:
        messages = [KeptMessage.from_dict(message) for message in notice.messages]
        content, markup = case_views.conversation_view(notice.code, messages)
        return self.message(target, content, reply_markup=markup, protect_content=True)

    def _sent(self, notice: n.Sent, target: Target) -> SendMessage:
        reply = ReplyParameters(message_id=int(notice.reply_to), allow_sending_without_reply=True)
        return self.message(target, case_views.sent(notice.code, notice.language), reply_parameters=reply)

    def _claimed(self, notice: n.Claimed, target: Target) -> SendMessage:
        return self.message(target, views.claimed(notice.code, notice.pseudonym))

    def _handed_over(self, notice: n.HandedOver, target: Target) -> SendMessage:
        return self.message(target, views.handed_over(notice.pseudonym))

    def _closed(self, notice: n.Closed, target: Target) -> SendMessage:
        return self.message(target, views.closed(notice.code))

    def _lease_expired(self, notice: n.LeaseExpired, target: Target) -> SendMessage:
        return self.message(target, views.lease_expired(notice.code, int(notice.hours)))

    def _erased_inactive(self, notice: n.ErasedInactive, target: Target) -> SendMessage:
        return self.message(target, views.erased_inactive(notice.code, int(notice.days)))

    def _escalation(self, notice: n.Escalation, target: Target) -> SendMessage:
        # The same Claim button as a triage card: claiming from here is claiming from the queue.
        return self.message(target, views.escalation(notice.code), reply_markup=card_markup(notice.code))

    def _flagged(self, notice: n.Flagged, target: Target) -> SendMessage:
        return self.message(target, views.flagged(notice.code, notice.by))

    def _inspected(self, notice: n.Inspected, target: Target) -> SendMessage:
        return self.message(target, views.inspected(notice.code, notice.by, notice.reason))

    def _blocked(self, notice: n.Blocked, target: Target) -> SendMessage:
        return self.message(target, views.blocked(notice.code))

    def _forgotten(self, notice: n.Forgotten, target: Target) -> SendMessage:
        return self.message(target, views.forgotten(notice.code))

    def _scrub_failed(self, notice: n.ScrubFailed, target: Target) -> SendMessage:
        return self.message(target, views.scrub_failed(notice.name, notice.reason))

    # -- the relay -----------------------------------------------------------------------------------

    def _relay_in(self, notice: n.RelayIn, target: Target) -> TelegramMethod[Any]:
        return self._relayed(notice.code, notice, target, protect=True)

    def _relay_out(self, notice: n.RelayOut, target: Target) -> TelegramMethod[Any]:
        return self._relayed(views.volunteer_label(notice.pseudonym), notice, target, protect=False)

    @staticmethod
    def _sender(notice: RelayNotice) -> str:
        """Who a relayed message is from, as the other side reads it: a volunteer, or a request's code."""
        if isinstance(notice, n.RelayOut) or (isinstance(notice, n.RelayEdit) and notice.pseudonym is not None):
            assert notice.pseudonym is not None
            return views.volunteer_label(notice.pseudonym)
        return str(notice.code if isinstance(notice, n.RelayIn) else notice.sender)

    @staticmethod
    def _label(sender: str, content: dict[str, Any], *, code: bool = False) -> Text:
        return views.sender_label(sender, edited=bool(content.get("edited")), code=code)

    def _relayed(
        self, sender: str, notice: n.RelayIn | n.RelayOut, target: Target, *, protect: bool
    ) -> TelegramMethod[Any]:
        content = notice.content
        kind = content["type"]
        common: dict[str, Any] = {"chat_id": target.chat_id, "protect_content": protect}
        if notice.reply_to:
            common["reply_parameters"] = ReplyParameters(
                message_id=int(notice.reply_to), allow_sending_without_reply=True
            )
        label = self._label(sender, content, code=isinstance(notice, n.RelayIn))
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

    def _relay_edit(self, notice: n.RelayEdit, target: Target) -> TelegramMethod[Any]:
        content = notice.content
        label = self._label(self._sender(notice), content, code=notice.sender is not None)
        if content["type"] == "text":
            return EditMessageText(
                chat_id=target.chat_id,
                message_id=int(notice.message_id),
                **Text(label, "\n", content["text"]).as_kwargs(),
            )
        return EditMessageCaption(
            chat_id=target.chat_id, message_id=int(notice.message_id), **self._caption(label, content)
        )

    @staticmethod
    def _method(notice: n.Method, target: Target) -> TelegramMethod[Any]:
        """An edit or a deletion an update queued (see bot/middlewares/retry.py: AfterCommit)."""
        method_type = getattr(methods, notice.method)
        method: TelegramMethod[Any] = method_type.model_validate(notice.params)
        return method

    def _neutralize(self, notice: n.Neutralize, target: Target) -> TelegramMethod[Any]:
        content = views.neutralized(notice.code, notice.reason)
        if notice.media:
            return EditMessageCaption(
                chat_id=target.chat_id,
                message_id=int(notice.message_id),
                **content.as_kwargs(text_key="caption", entities_key="caption_entities"),
            )
        return EditMessageText(chat_id=target.chat_id, message_id=int(notice.message_id), **content.as_kwargs())

    def render_album(self, payloads: list[dict[str, Any]], target: Target) -> SendMediaGroup:
        """Album items, queued one by one as they arrived, sent as the one album they were."""
        relayed = [item for item in map(n.parse, payloads) if isinstance(item, n.RelayIn | n.RelayOut)]
        assert len(relayed) == len(payloads), "only relayed messages travel as albums"
        with self.i18n.context(), self.i18n.use_locale(target.locale):
            first = relayed[0]
            label = self._label(self._sender(first), first.content, code=isinstance(first, n.RelayIn))
            media = []
            for index, item in enumerate(relayed):
                content = item.content
                if index == 0:
                    caption = self._caption(label, content)  # the label goes on the album's first item
                elif content.get("caption"):
                    caption = Text(content["caption"]).as_kwargs(text_key="caption", entities_key="caption_entities")
                else:
                    caption = {}
                media.append(ALBUM_TYPES[content["type"]](media=content["file_id"], **caption))
            return SendMediaGroup(chat_id=target.chat_id, media=media, protect_content=isinstance(first, n.RelayIn))


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

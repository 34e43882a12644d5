"""How outbox payloads look in Telegram: one Bot API call each, in the recipient's language.

Payloads say what happened (``{"kind": "confirmation", "code": "R-..."}``); this module decides the
words, the buttons and ``protect_content``. Anything a person typed is placed with
aiogram.utils.formatting, so no character in it can break the message.
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
from aiogram.utils.formatting import Bold, Italic, Text, as_list
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _

from bot.settings import WorkingHours
from handlers.format import fill
from handlers.operator_views import (
    INSPECT_REASON_LABELS,
    card_markup,
    card_text,
    card_update_text,
    full_card_from_payload,
)
from services.recipients import Target

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
        content = as_list(
            Bold(_("Your request is sent.")),
            fill(_("Its code: {code}"), code=payload["code"]),
            "",
            _(
                "What happens next: a volunteer takes your request and writes to you here, through this "
                "bot. They will not see your Telegram account, and you will not see theirs."
            ),
            _("Volunteers usually answer between {start} and {end} ({zone} time); at night it can take longer.").format(
                start=f"{hours.start:%H:%M}", end=f"{hours.end:%H:%M}", zone=hours.zone.key
            ),
            "",
            _("/status shows where your request is. /wipe clears this chat. /forget erases everything."),
        )
        return self.message(target, content)

    @staticmethod
    def _delete(payload: dict[str, Any], target: Target) -> DeleteMessages:
        return DeleteMessages(chat_id=target.chat_id, message_ids=[int(m) for m in payload["message_ids"]][:100])

    def _undelivered(self, payload: dict[str, Any], target: Target) -> SendMessage:
        reasons = {
            "blocked": _("the person has blocked the bot or deleted the chat"),
            "chat_not_found": _("the person's chat no longer exists"),
        }
        reason = reasons.get(str(payload.get("reason")), _("Telegram refused it"))
        template = _("Your message for request {code} was not delivered: {reason}.")
        return self.message(target, fill(template, code=payload["code"], reason=Text(reason)))

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
        content = as_list(
            fill(_("A volunteer has taken your request {code}."), code=payload["code"]),
            fill(_("Their messages here are signed {name}."), name=self.volunteer_label(str(payload["pseudonym"]))),
            _("You can write to them here too: just send a message."),
        )
        return self.message(target, content)

    def _closed(self, payload: dict[str, Any], target: Target) -> SendMessage:
        content = as_list(
            fill(_("Your request {code} is closed."), code=payload["code"]),
            _(
                "If you need help again, send /start. /forget erases everything now; otherwise it is erased "
                "automatically later."
            ),
        )
        return self.message(target, content)

    def _lease_expired(self, payload: dict[str, Any], target: Target) -> SendMessage:
        hours = int(payload["hours"])
        template = ngettext(
            "{code} went back to the queue: no activity for {hours} hour.",
            "{code} went back to the queue: no activity for {hours} hours.",
            hours,
        )
        return self.message(target, fill(template, code=payload["code"], hours=Text(str(hours))))

    def _erased_inactive(self, payload: dict[str, Any], target: Target) -> SendMessage:
        days = int(payload["days"])
        template = ngettext(
            "{code} was erased: no activity for {days} day.",
            "{code} was erased: no activity for {days} days.",
            days,
        )
        return self.message(target, fill(template, code=payload["code"], days=Text(str(days))))

    def _escalation(self, payload: dict[str, Any], target: Target) -> SendMessage:
        template = _("{code} is urgent (danger within 48 hours) and nobody has taken it yet.")
        return self.message(target, Text("⚠️ ", fill(template, code=payload["code"])))

    def _flagged(self, payload: dict[str, Any], target: Target) -> SendMessage:
        template = _("{code} was flagged as suspicious by {name}.")
        return self.message(target, Text("🚩 ", fill(template, code=payload["code"], name=payload["by"])))

    def _inspected(self, payload: dict[str, Any], target: Target) -> SendMessage:
        """To the volunteer holding a case a coordinator opened: who, and why."""
        reason = INSPECT_REASON_LABELS.get(str(payload["reason"]))
        template = _("Coordinator {name} opened {code}, which you hold. Reason: {reason}.")
        return self.message(
            target, fill(template, name=payload["by"], code=payload["code"], reason=Text(str(reason or "—")))
        )

    def _blocked(self, payload: dict[str, Any], target: Target) -> SendMessage:
        template = _(
            "{code}: a coordinator blocked this person. Your messages no longer reach them, and theirs no longer "
            "reach you. Close the request when you are ready."
        )
        return self.message(target, fill(template, code=payload["code"]))

    def _forgotten(self, payload: dict[str, Any], target: Target) -> SendMessage:
        """To the volunteer who held a request its requester erased: its code, and nothing else."""
        template = _(
            "{code} was erased by the person who wrote it. Nothing of it is kept, and it is gone from your chat."
        )
        return self.message(target, fill(template, code=payload["code"]))

    def _scrub_failed(self, payload: dict[str, Any], target: Target) -> SendMessage:
        """To the admin who revoked someone whose chat the bot could not clean."""
        reasons = {
            "blocked": _("they blocked the bot"),
            "chat_not_found": _("their chat no longer exists"),
        }
        reason = reasons.get(str(payload.get("reason")), _("Telegram refused it"))
        template = _(
            "The bot could not remove from {name}'s chat what it showed them ({reason}). Ask them to delete "
            "their chat with the bot, and treat what it held as known to them."
        )
        return self.message(target, Text("⚠️ ", fill(template, name=payload["name"], reason=Text(reason))))

    # -- the relay -----------------------------------------------------------------------------------

    @staticmethod
    def volunteer_label(pseudonym: str) -> str:
        return _("Volunteer {pseudonym}").format(pseudonym=pseudonym)

    def _relay_in(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        return self._relayed(str(payload["code"]), payload, target, protect=True)

    def _relay_out(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        return self._relayed(self.volunteer_label(str(payload["pseudonym"])), payload, target, protect=False)

    def _sender(self, payload: dict[str, Any]) -> str:
        if "pseudonym" in payload:
            return self.volunteer_label(str(payload["pseudonym"]))
        return str(payload.get("code") or payload.get("sender"))

    @staticmethod
    def _label(sender: str, content: dict[str, Any]) -> Text:
        if content.get("edited"):
            return Text(Bold(sender, " ", _("(edited)"), ":"))
        return Text(Bold(sender, ":"))

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
            return SendMessage(**common, **Italic(fill(_("{sender} sent this:"), sender=sender)).as_kwargs())
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
        reasons = {
            "closed": _("Request {code} is closed."),
            "released": _("Request {code} went back to the queue."),
            "transferred": _("Request {code} is with another volunteer now."),
            "lease_expired": _("Request {code} went back to the queue."),
            # One line for both: which of the two it was would tell every volunteer what the person did.
            "forgotten": _("Request {code} was erased."),
            "purged": _("Request {code} was erased."),
            "revoked": _("Request {code} is no longer available to you."),
            "inspection_over": _("Request {code} is no longer available to you."),
        }
        template = reasons.get(str(payload["reason"]), reasons["closed"])
        content = Italic(fill(template, code=payload["code"]))
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

"""The reconnect key as people see it: shown once after Submit, asked for on another account
(services/reconnect.py, docs/decisions/0012)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Code, Text, as_list
from aiogram.utils.i18n import gettext as _

from services.questionnaire import Step
from services.reconnect import key_text
from views.callbacks import KeyNoted, Nav
from views.format import View, fill

EXAMPLE = key_text("R-7KQ3XM", "ABCDEFGHJKMNPQRS")


def reconnect_view() -> View:
    text = as_list(
        Bold(_("Attach your request to this account")),
        "",
        fill(
            _("Send the key you were shown after your request, as one message. It looks like this: {key}"),
            key=Code(EXAMPLE),
        ),
        _("I delete your message at once. Your request then moves here, and the other account loses it."),
    )
    back = InlineKeyboardButton(text=_("« Back"), callback_data=Nav(step=Step.RECONNECT, go="back").pack())
    return View(text, InlineKeyboardMarkup(inline_keyboard=[[back]]))


def key_view(code: str, secret: str) -> View:
    text = as_list(
        Bold(fill(_("Your key for request {code}"), code=code)),
        Code(key_text(code, secret)),
        "",
        _(
            "If you lose this phone or change your number, the key attaches your request to another Telegram "
            'account: send /start there, choose "I already have a request" and send the key.'
        ),
        _("It works once; after that you get a new one."),
        Bold(_("Write it down somewhere safe, not in this phone's notes.")),
        _("This message is deleted in 24 hours."),
    )
    noted = InlineKeyboardButton(text=_("I have written it down"), callback_data=KeyNoted().pack())
    return View(text, InlineKeyboardMarkup(inline_keyboard=[[noted]]))


def attached(code: str) -> Text:
    return fill(
        _(
            "Done: request {code} is now attached to this account. The other account no longer gets its "
            "messages. A new key follows; the one you sent works no more."
        ),
        code=code,
    )


def wrong_key() -> str:
    return _(
        "That key does not work. Check it and send it again as one message; after several wrong keys you have to wait."
    )


def too_many_keys() -> str:
    return _("Too many wrong keys from this account. Please try again in an hour.")

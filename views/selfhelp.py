"""Short notes for the hours when no volunteer is on shift (and for /selfhelp at any hour).

Careful by design: no legal promises, never "go there" or "sign this"; the one thing each note insists on is
to do nothing that cannot be undone before a volunteer answers. Partner organisations are named in words,
never linked: people find them themselves, through their official websites.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Text, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from views.callbacks import SelfHelp
from views.format import View

TOPICS: dict[str, Any] = {
    "summons": __("I got a summons"),
    "wounded": __("I am wounded or ill"),
    "away": __("I am already away from the unit"),
    "partners": __("Partner organisations"),
}


def selfhelp_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=str(label), callback_data=SelfHelp(topic=topic).pack())]
            for topic, label in TOPICS.items()
        ]
    )


def wait_safely() -> str:
    return _("Until a volunteer answers, do nothing you cannot undo.")


def selfhelp_menu() -> View:
    text = as_list(Bold(_("Short notes while you wait")), wait_safely(), _("Choose a topic:"))
    return View(text, selfhelp_markup())


def _note(title: Any, *points: str) -> Text:
    return as_list(Bold(str(title)), "", *(Text("• ", point) for point in points))


def topic_text(topic: str) -> Text | None:
    """One note; None for a topic there is no note about (an old or forged button)."""
    if topic == "summons":
        return _note(
            TOPICS[topic],
            _("Sign nothing and decide nothing you cannot undo before a volunteer has talked it through with you."),
            _(
                "Keep the summons, or a photo of it, somewhere safe: not in this chat, not in a phone that may be "
                "checked."
            ),
            _(
                "An electronic summons can come with a ban on leaving Russia: do not try to cross a border before a "
                "volunteer has looked at your situation with you."
            ),
            _("Note the dates and what you were told, without names."),
        )
    if topic == "wounded":
        return _note(
            TOPICS[topic],
            _("A wound, an injury or an illness can be grounds for a medical discharge. Tell the volunteer about it."),
            _(
                "Keep every medical paper you are given (discharge summaries, test results, certificates), or photos "
                "of them, somewhere safe."
            ),
            _("Do not sign anything you have not read and understood, least of all about your health or your service."),
            wait_safely(),
        )
    if topic == "away":
        return _note(
            TOPICS[topic],
            _("Stay where you are safe for now. Do not write where exactly you are: not here, not anywhere."),
            _(
                "Before a volunteer has talked it through with you, make no move you cannot undo: no journey, no "
                "border crossing, no signature, no call to the unit."
            ),
            _("Keep your phone charged. /wipe deletes this conversation (what is younger than 48 hours)."),
        )
    if topic == "partners":
        return _note(
            TOPICS[topic],
            _(
                "Other organisations help people in the same situation, among them «Идите лесом» (Get Lost) and "
                "«Призыв к совести» (Call to Conscience)."
            ),
            _(
                "Reach them only through their official websites, found by yourself: never through links, bots or "
                "phone numbers someone sends you. Fake ones exist."
            ),
        )
    return None

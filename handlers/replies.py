"""Texts shared by several handlers: errors a person can cause, and request status."""

from __future__ import annotations

from aiogram.utils.formatting import Bold, Text, as_list
from aiogram.utils.i18n import gettext as _

from handlers.access import requester_access
from handlers.format import fill
from services.questionnaire import DESCRIPTION_MAX
from storage.requests import RequestRecord


def answer_error(reason: str, *, length: int = 0) -> str:
    if reason == "too_long":
        return _("That is {length} characters; please keep it to {limit} at most. Shorter is safer, too.").format(
            length=length, limit=DESCRIPTION_MAX
        )
    if reason == "choose_at_least_one":
        return _("Choose at least one option, then press Done.")
    if reason == "incomplete":
        return _("Some answers are missing. Please answer this question first.")
    return _("That button belongs to an earlier message.")


def blocked_reply() -> str:
    """All a blocked person is ever told, whatever they do: the same as before the block."""
    return _("Thank you, we have received your message.")


def request_status_text(request: RequestRecord) -> Text:
    if request.status == "new":
        line = fill(
            _("Your request {code} is waiting for a volunteer. You will get a message here."), code=request.code
        )
    elif request.status == "claimed":
        line = fill(_("A volunteer is working on your request {code}. Write here to reach them."), code=request.code)
    else:
        line = fill(_("Your request {code} is closed. Send /start if you need help again."), code=request.code)
    return as_list(line, "", _("/wipe clears this chat. /forget erases everything about you."))


def help_text() -> Text:
    return as_list(
        Bold(_("How this bot works")),
        "",
        _(
            "Answer a few questions with the buttons. A volunteer outside the country reads your request "
            "and writes to you here, through the bot: they never see your Telegram account, "
            "you never see theirs."
        ),
        "",
        Bold(_("Who can see your request")),
        *requester_access(),
        "",
        _("/start: ask for help, or continue where you stopped"),
        _("/status: where your request is"),
        _("/wipe: delete this conversation from the chat now"),
        _("/forget: erase your request and everything about you"),
        _("/cancel: stop the questions and erase the answers"),
        _("/language: change the language"),
        _("/safety: how to stay safe while using this bot"),
    )


def safety_text() -> Text:
    return as_list(
        Bold(_("Staying safe")),
        "",
        _(
            "Telegram can see this chat: it is not end-to-end encrypted. If your phone may be checked, use "
            "another phone or number, and delete this chat after each conversation."
        ),
        _("Never write names, unit numbers, exact places or phone numbers, not even to a volunteer."),
        _("Send /wipe to delete this conversation at any moment. Send /forget to erase everything we keep."),
        _("Turn off chat backups and notifications that show message text on the lock screen."),
    )

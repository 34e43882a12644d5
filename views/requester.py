"""What a requester sees outside the questions: their request's status, help, safety, the commands that work
at any moment, the relay's answers, and the command menu."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Text, as_list
from aiogram.utils.i18n import gettext as _

from storage.kinds import Status
from storage.requests import RequestRecord
from views.access import requester_access
from views.callbacks import ForgetConfirm
from views.format import View, fill


def blocked_reply() -> str:
    """All a blocked person is ever told, whatever they do: the same as before the block."""
    return _("Thank you, we have received your message.")


def request_status_text(request: RequestRecord) -> Text:
    if request.status is Status.NEW:
        line = fill(
            _("Your request {code} is waiting for a volunteer. You will get a message here."), code=request.code
        )
    elif request.status is Status.CLAIMED:
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
        _("/start: ask for help, continue where you stopped, or attach your request here with its key"),
        _("/status: where your request is"),
        _("/wipe: delete this conversation from the chat (what is younger than 48 hours)"),
        _("/forget: erase your request and everything about you"),
        _("/cancel: stop the questions and erase the answers"),
        _("/language: change the language"),
        _("/safety: how to stay safe while using this bot"),
        _("/selfhelp: short notes while you wait for a volunteer"),
    )


def wipe_limits() -> str:
    """What /wipe can and cannot delete, said the same on the first screen and in /safety."""
    return _(
        "/wipe deletes this conversation at any time, but Telegram lets a bot delete messages only for 48 hours. "
        'Delete older ones yourself: open the chat menu and choose "Clear history", or delete the chat.'
    )


def check_the_bot(username: str) -> Text:
    return fill(_("Check that you are talking to {username}: fake helpline bots exist."), username=f"@{username}")


def never_asked() -> str:
    return _("We will never ask your name, passport data, money or photos of documents.")


def previews_off() -> str:
    return _("Turn off message previews in notifications: they show the text on the lock screen.")


def photo_advice() -> str:
    """The same advice wherever photos come up."""
    return _(
        "Send photos as photos, not as files: Telegram removes hidden data (such as location) from photos, "
        "not from files."
    )


def safety_text(username: str) -> Text:
    return as_list(
        Bold(_("Staying safe")),
        "",
        _(
            "Telegram can see this chat: it is not end-to-end encrypted. If your phone may be checked, use "
            "another phone or number, and delete this chat after each conversation."
        ),
        check_the_bot(username),
        never_asked(),
        _("Never write names, unit numbers, exact places or phone numbers, not even to a volunteer."),
        previews_off(),
        wipe_limits(),
        _("Send /forget to erase everything we keep."),
        photo_advice(),
    )


def no_request() -> str:
    return _("You have no request. Send /start to ask for help.")


def nothing_to_cancel() -> str:
    return _("There is nothing to cancel. Send /start to ask for help.")


def forget_view(command_message_id: int) -> View:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Yes, erase everything"),
                    callback_data=ForgetConfirm(sure=True, command=command_message_id).pack(),
                )
            ],
            [InlineKeyboardButton(text=_("No, keep it"), callback_data=ForgetConfirm(sure=False).pack())],
        ]
    )
    text = _(
        "Erase everything? This deletes your request, your answers and this conversation. "
        "Volunteers will no longer be able to reach you."
    )
    return View(Text(text), markup)


def nothing_erased() -> str:
    return _("Nothing was erased.")


def everything_erased() -> str:
    return _("Everything is erased. If you need help again, send /start.")


# -- what nobody else handled ------------------------------------------------------------------------


def how_to_start() -> str:
    return _("To ask for help, send /start.")


def edits_not_read(*, in_intake: bool) -> str:
    if in_intake:
        return _("I don't read edited messages. Before you send, you can change every answer with ✏️.")
    return _("I don't read edited messages. Please send a new message instead.")


def too_fast() -> str:
    return _("You are sending messages very fast. Please wait a minute, then go on.")


# -- the relay, the requester's side -----------------------------------------------------------------


def location_refused() -> str:
    return _(
        "For your safety, locations are never passed on, and I deleted yours from this chat. "
        "Please do not share your exact location."
    )


def cannot_pass_on() -> Text:
    return as_list(
        _("This kind of message cannot be passed on. Please send text, a photo or a voice message."), photo_advice()
    )


def saved_until_claimed() -> str:
    return _("Saved. A volunteer will see it as soon as they take your request.")


# -- the command menu --------------------------------------------------------------------------------

REQUESTER_COMMANDS = ("start", "status", "wipe", "forget", "cancel", "language", "help", "safety", "selfhelp")


def requester_command_descriptions() -> dict[str, str]:
    return {
        "start": _("Ask for help, or continue"),
        "status": _("Where my request is"),
        "wipe": _("Delete this conversation now"),
        "forget": _("Erase everything about me"),
        "cancel": _("Stop and erase the answers"),
        "language": _("Change the language"),
        "help": _("How this bot works"),
        "safety": _("How to stay safe"),
        "selfhelp": _("Short notes while you wait"),
    }

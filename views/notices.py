"""What the outbox's notices say: to requesters (confirmation, claimed, closed), to volunteers (undelivered
answers, leases, escalations, flags, inspections, blocks, erasures), the relay's labels, and the neutral line a
message is edited down to when it can no longer be deleted.

Anything a person typed is placed with aiogram.utils.formatting, so no character in it can break the message.
bot/notices.py turns these into Bot API calls.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from aiogram.utils.formatting import Bold, Italic, Text, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from views.coordinator import inspect_reason_label
from views.format import code_of, fill
from views.selfhelp import wait_safely

# -- to the requester --------------------------------------------------------------------------------


def confirmation(code: str, *, start: time, end: time, zone: str, on_shift: bool) -> Text:
    """``zone``: in words (``zone_words``). Off shift, it says so, and the self-help menu comes with it."""
    hours = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "zone": zone}
    if start == end:  # round the clock
        when: list[Any] = [_("Volunteers answer at any hour, though it can take a while.")]
    elif on_shift:
        when = [
            _("Volunteers usually answer from {start} to {end} {zone}; at night it can take longer.").format(**hours)
        ]
    else:
        when = [
            _(
                "Volunteers are not on shift now: they answer from {start} to {end} {zone}. Your request waits "
                "for them."
            ).format(**hours),
            wait_safely(),
            _("These short notes may help meanwhile (also with /selfhelp):"),
        ]
    return as_list(
        Bold(_("Your request is sent.")),
        fill(_("Its code: {code}"), code=code),
        "",
        _(
            "What happens next: a volunteer takes your request and writes to you here, through this "
            "bot. They will not see your Telegram account, and you will not see theirs."
        ),
        *when,
        "",
        _("/status shows where your request is. /wipe clears this chat. /forget erases everything."),
    )


def claimed(code: str, pseudonym: str) -> Text:
    return as_list(
        fill(_("A volunteer has taken your request {code}."), code=code),
        fill(_("Their messages here are signed {name}."), name=volunteer_label(pseudonym)),
        _("You can write to them here too: just send a message."),
    )


def handed_over(pseudonym: str) -> Text:
    """The request went to another volunteer: who writes from now on."""
    return as_list(
        fill(_("Your request is now with another volunteer, {name}."), name=volunteer_label(pseudonym)),
        _("You can go on writing here."),
    )


def closed(code: str) -> Text:
    return as_list(
        fill(_("Your request {code} is closed."), code=code),
        _(
            "If you need help again, send /start. /forget erases everything now; otherwise it is erased "
            "automatically later."
        ),
    )


# -- to volunteers -----------------------------------------------------------------------------------


def undelivered(code: str, reason: str | None) -> Text:
    reasons = {
        "blocked": _("the person has blocked the bot or deleted the chat"),
        "chat_not_found": _("the person's chat no longer exists"),
    }
    said = reasons.get(str(reason), _("Telegram refused it"))
    template = _("Your message for request {code} was not delivered: {reason}.")
    return fill(template, code=code_of(code), reason=Text(said))


def lease_expired(code: str, hours: int) -> Text:
    template = ngettext(
        "{code} went back to the queue: no activity for {hours} hour.",
        "{code} went back to the queue: no activity for {hours} hours.",
        hours,
    )
    return fill(template, code=code_of(code), hours=Text(str(hours)))


def erased_inactive(code: str, days: int) -> Text:
    template = ngettext(
        "{code} was erased: no activity for {days} day.",
        "{code} was erased: no activity for {days} days.",
        days,
    )
    return fill(template, code=code_of(code), days=Text(str(days)))


def escalation(code: str) -> Text:
    template = _("{code} is urgent (danger within 48 hours) and nobody has taken it yet.")
    return Text("⚠️ ", fill(template, code=code_of(code)))


def flagged(code: str, by: str) -> Text:
    template = _("{code} was flagged as suspicious by {name}.")
    return Text("🚩 ", fill(template, code=code_of(code), name=by))


def inspected(code: str, by: str, reason: str) -> Text:
    """To the volunteer holding a case a coordinator opened: who, and why."""
    template = _("Coordinator {name} opened {code}, which you hold. Reason: {reason}.")
    return fill(template, name=by, code=code_of(code), reason=Text(inspect_reason_label(reason)))


def blocked(code: str) -> Text:
    template = _(
        "{code}: a coordinator blocked this person. Your messages no longer reach them, and theirs no longer "
        "reach you. Close the request when you are ready."
    )
    return fill(template, code=code_of(code))


def forgotten(code: str) -> Text:
    """To the volunteer who held a request its requester erased: its code, and nothing else."""
    template = _("{code} was erased by the person who wrote it. Nothing of it is kept, and it is gone from your chat.")
    return fill(template, code=code_of(code))


def reconnected(code: str) -> Text:
    """To the volunteer holding a request: nothing but that the person writes from another device now."""
    return fill(_("{code}: the person now writes from another device."), code=code)


def scrub_failed(name: str, reason: str | None) -> Text:
    """To the admin who revoked someone whose chat the bot could not clean."""
    reasons = {
        "blocked": _("they blocked the bot"),
        "chat_not_found": _("their chat no longer exists"),
    }
    said = reasons.get(str(reason), _("Telegram refused it"))
    template = _(
        "The bot could not remove from {name}'s chat what it showed them ({reason}). Ask them to delete "
        "their chat with the bot, and treat what it held as known to them."
    )
    return Text("⚠️ ", fill(template, name=name, reason=Text(said)))


def neutralized(code: str, reason: str) -> Text:
    """The one line a message is edited down to when it is too old to delete."""
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
        "key_expired": _("The key for request {code} is no longer shown here."),
    }
    template = reasons.get(reason, reasons["closed"])
    return Italic(fill(template, code=code_of(code)))


# -- the relay ---------------------------------------------------------------------------------------


def volunteer_label(pseudonym: str) -> str:
    return _("Volunteer {pseudonym}").format(pseudonym=pseudonym)


def sender_label(sender: str, *, edited: bool, code: bool = False) -> Text:
    """What stands before a relayed message: who it is from (a volunteer's pseudonym, or a request's code,
    ``code``: monospace, so the volunteer copies it with a tap)."""
    name: Text = code_of(sender) if code else Bold(sender)
    if edited:
        return Text(name, Bold(" ", _("(edited)"), ":"))
    return Text(name, Bold(":"))


def sent_this(sender: str) -> Text:
    """Ahead of what takes no caption (a sticker, a round video): who sent it."""
    return Italic(fill(_("{sender} sent this:"), sender=sender))

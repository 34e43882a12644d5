"""Refusals and failures, as people read them: a use case's error, a command without its argument, an old
button, an unknown command, a failure on our side."""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

# Why a use case refused (QueueError, TeamError: services/queue.py, services/team.py), as people read it.
ERRORS: dict[str, Any] = {
    "not_found": __("There is no request with that code."),
    "taken": __("Someone else has already taken this request."),
    "mine": __("You already hold this request."),
    "closed": __("This request is closed."),
    "not_yours": __("This request is not in your hands."),
    "not_yours_coordinator": __(
        "This request is not in your hands. To open it anyway, use /inspect CODE: you give a reason, it is "
        "recorded, and the volunteer holding it is told."
    ),
    "blocked": __(
        "A coordinator blocked this person: their request can no longer be taken, answered, handed on or reopened."
    ),
    "requester_has_open": __("The person has another open request now, so this one cannot be reopened."),
    "unknown_reason": __("That reason is not known."),
    "not_closed": __("This request is not closed."),
    "no_such_volunteer": __("That person is not an active volunteer."),
    "unknown_outcome": __("That outcome is not known."),
    "empty": __("The text is empty."),
    "too_long": __("That is too long: at most 3000 characters."),
    "forbidden": __("Only an admin can do that."),
    "unknown_role": __("Roles are: volunteer, coordinator, admin."),
    "already": __("You are already on the team."),
    "bad_code": __("This invite code is not valid, already used, or expired."),
    "self": __("You cannot revoke yourself."),
    "bad_pseudonym": __("A pseudonym is 2 to 32 letters, digits, spaces or dashes."),
    "mixed_script": __("A pseudonym uses the letters of one alphabet only: mixed ones can imitate another name."),
    "pseudonym_taken": __("Someone on the team already has that pseudonym, or one that looks the same."),
    "bad_canned_key": __("A canned reply key is 1 to 32 lowercase Latin letters, digits, dashes or underscores."),
    "no_canned": __("There is no canned reply with that key. /canned lists them."),
}


def error_text(reason: str) -> str:
    return str(ERRORS.get(reason, ERRORS["not_found"]))


def usage(text: str) -> str:
    """How a command is written, when it came without what it needs: ``usage("/claim CODE")``."""
    return _("Usage: {usage}").format(usage=text)


def stale_button() -> str:
    return _("That button belongs to an earlier message.")


def unknown_command() -> str:
    return _("I don't know that command. /help lists what I can do.")


def something_went_wrong() -> str:
    return _("Something went wrong on our side. Please try again in a minute; your answers are kept.")

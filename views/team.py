"""Joining the team and managing it: the welcome, invites, the roster, revocation, pseudonyms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Code, Text, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext

from storage.kinds import Role
from storage.volunteers import IssuedInvite, VolunteerRecord
from views.callbacks import Revoke
from views.format import keyboard, rows_of

ROLE_LABELS: dict[Role, Any] = {
    Role.VOLUNTEER: __("volunteer"),
    Role.COORDINATOR: __("coordinator"),
    Role.ADMIN: __("admin"),
}
assert list(ROLE_LABELS) == list(Role)


def welcome(volunteer: VolunteerRecord) -> Text:
    return as_list(
        Bold(_("Welcome to the team.")),
        _("Your role: {role}.").format(role=ROLE_LABELS[volunteer.role]),
        _("Requesters will see you as {name}. Change it with /pseudonym NAME.").format(name=volunteer.pseudonym),
        _("/help lists your commands."),
    )


def invite_text(issued: IssuedInvite) -> Text:
    return as_list(
        Text(_("One-time invite for a {role}:").format(role=ROLE_LABELS[issued.role])),
        Code(f"/join {issued.code}"),
        _("Valid until {moment} UTC. Pass it on privately; it works once.").format(moment=_minute(issued.expires_at)),
    )


def _minute(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def roster_view(roster: list[tuple[VolunteerRecord, int]]) -> Text:
    return as_list(
        Bold(_("Team")),
        *[
            Text(
                volunteer.pseudonym,
                " · ",
                str(ROLE_LABELS[volunteer.role]),
                " · ",
                ngettext("holds {n} request", "holds {n} requests", held).format(n=held),
            )
            for volunteer, held in roster
        ],
    )


def nobody_else() -> str:
    return _("There is nobody else on the team.")


def revoke_prompt() -> str:
    return _("Whom to remove from the team?")


def revoke_markup(roster: list[VolunteerRecord]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=f"✖ {volunteer.pseudonym}", callback_data=Revoke(volunteer=volunteer.id).pack())
        for volunteer in roster
    ]
    return keyboard(*rows_of(2, buttons))


def revoked(target: VolunteerRecord, *, has_group: bool) -> str:
    lines = [
        _(
            "{name} is no longer on the team. Their requests went back to the queue, and the bot is removing "
            "from their chat everything it showed them; you will be told if it cannot."
        ).format(name=target.pseudonym)
    ]
    if has_group:
        lines.append(_("If they are in the volunteers' group, remove them there yourself: the bot cannot."))
    return "\n".join(lines)


def pseudonym_now(name: str) -> str:
    return _("Requesters see you as {name}. Change it with /pseudonym NAME.").format(name=name)


def pseudonym_changed(name: str) -> str:
    return _("Requesters will now see you as {name}.").format(name=name)

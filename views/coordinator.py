"""What coordinators see beyond a volunteer: a case opened for a reason, audit trails, blocks, reopening."""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Code, Text, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from services.queue import INSPECT_REASONS
from storage.audit import AuditEntry
from views.callbacks import InspectReason
from views.format import fill, keyboard, rows_of
from views.volunteer import OUTCOME_LABELS

INSPECT_REASON_LABELS: dict[str, Any] = {
    "safety": __("A safety concern about the person"),
    "provocation": __("A suspected provocation or infiltration"),
    "unavailable": __("The volunteer holding it cannot be reached"),
    "complaint": __("A complaint about how it is handled"),
    "supervision": __("Supervision of the team's work"),
}
assert tuple(INSPECT_REASON_LABELS) == INSPECT_REASONS


def inspect_reason_label(reason: str) -> str:
    """A reason as the holder reads it; one no longer offered shows as a dash."""
    label = INSPECT_REASON_LABELS.get(reason)
    return str(label or "—")


def inspect_prompt(code: str) -> Text:
    return fill(
        _(
            "You do not hold {code}. To open it, choose why: the reason is recorded in the audit, and the "
            "volunteer holding it is told that you opened it."
        ),
        code=code,
    )


def inspect_markup(code: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=str(INSPECT_REASON_LABELS[reason]), callback_data=InspectReason(code=code, reason=reason).pack()
        )
        for reason in INSPECT_REASONS
    ]
    return keyboard(*rows_of(1, buttons))


def inspected_text(code: str, reason: str) -> Text:
    return fill(
        _("You opened {code} ({reason}). This is recorded in its audit trail."),
        code=code,
        reason=Text(str(INSPECT_REASON_LABELS[reason])),
    )


def partly_refused() -> str:
    return _("Telegram refused part of it. Try again in a minute.")


def audit_line(entry: AuditEntry, actor: str) -> Text:
    parts: list[Any] = [Code(f"{entry.at:%Y-%m-%d %H:%M}"), " ", entry.action, " · ", actor]
    if entry.action == "closed" and entry.detail in OUTCOME_LABELS:
        parts += [" · ", str(OUTCOME_LABELS[entry.detail])]
    if entry.action == "inspected" and entry.detail in INSPECT_REASON_LABELS:
        parts += [" · ", str(INSPECT_REASON_LABELS[entry.detail])]
    return Text(*parts)


def audit_view(code: str, entries: list[tuple[AuditEntry, str]]) -> Text:
    return as_list(
        Bold(_("Audit trail of {code}").format(code=code)),
        *[audit_line(entry, actor) for entry, actor in entries],
    )


def reopened(code: str) -> str:
    return _("{code} is open again and back in the queue; the volunteer who closed it has no access to it.").format(
        code=code
    )


def blocked(code: str) -> str:
    return _(
        "{code}: the person is blocked. Their requests can no longer be taken, answered, handed on or "
        "reopened, their messages reach nobody and /start opens nothing. They are told nothing."
    ).format(code=code)


def unblocked(code: str) -> str:
    return _("{code}: the person is no longer blocked.").format(code=code)

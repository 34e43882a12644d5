"""What volunteers see: triage cards, full requests, queue pages, notes, audit trails, errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Code, Italic, Text, as_line, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.access import team_access
from handlers.callbacks import Claim, CloseOutcome, InspectReason, NotesPage, QueuePageCb, Revoke, TransferTo
from handlers.format import fill
from handlers.views import LANGUAGE_NAMES, answers_summary, option_label
from services.queue import INSPECT_REASONS, OUTCOMES, NoteView, QueuePage
from storage import clock
from storage.audit import AuditEntry
from storage.requests import RequestDetails, RequestRecord
from storage.volunteers import VolunteerRecord

OUTCOME_LABELS: dict[str, Any] = {
    "left": __("Helped to leave"),
    "legal": __("Legal consultation"),
    "psych": __("Psychological support"),
    "stays": __("Advised, stays"),
    "no_response": __("No response"),
    "duplicate": __("Duplicate"),
    "suspicious": __("Suspicious"),
}

INSPECT_REASON_LABELS: dict[str, Any] = {
    "safety": __("A safety concern about the person"),
    "provocation": __("A suspected provocation or infiltration"),
    "unavailable": __("The volunteer holding it cannot be reached"),
    "complaint": __("A complaint about how it is handled"),
    "supervision": __("Supervision of the team's work"),
}

ROLE_LABELS: dict[str, Any] = {
    "volunteer": __("volunteer"),
    "coordinator": __("coordinator"),
    "admin": __("admin"),
}


def age(since: datetime) -> str:
    minutes = int((clock.now() - since).total_seconds() // 60)
    if minutes < 2:
        return _("just now")
    if minutes < 120:
        return ngettext("{n} minute ago", "{n} minutes ago", minutes).format(n=minutes)
    if minutes < 48 * 60:
        return ngettext("{n} hour ago", "{n} hours ago", minutes // 60).format(n=minutes // 60)
    return ngettext("{n} day ago", "{n} days ago", minutes // 1440).format(n=minutes // 1440)


def urgency_label(urgency: str) -> str:
    return option_label("urgency", urgency)


def card_text(payload: Mapping[str, Any]) -> Text:
    created = datetime.fromisoformat(str(payload["created_at"]))
    return as_list(
        Text("🆕 ", fill(_("New request {code}"), code=payload["code"])),
        as_line(Bold(_("Urgency"), ": "), urgency_label(str(payload["urgency"])), end=""),
        as_line(Bold(_("Situation"), ": "), option_label("status", str(payload["status"])), end=""),
        as_line(Bold(_("Where now"), ": "), option_label("location", str(payload["location"])), end=""),
        as_line(
            Bold(_("Language"), ": "),
            LANGUAGE_NAMES.get(str(payload["language"]), str(payload["language"])),
            end="",
        ),
        as_line(Bold(_("Submitted"), ": "), age(created), end=""),
    )


def card_markup(code: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Claim"), callback_data=Claim(code=code).pack())]]
    )


def card_update_text(code: str, state: str) -> Text:
    if state == "claimed":
        return fill(_("{code} has been claimed by a volunteer."), code=code)
    return fill(_("{code} is no longer in the queue."), code=code)


def full_card_text(details: RequestDetails, *, heading: str | None = None) -> Text:
    record = details.record
    return as_list(
        fill(heading or _("Request {code}"), code=record.code),
        Text(
            LANGUAGE_NAMES.get(record.language, record.language),
            " · ",
            urgency_label(record.urgency),
            " · ",
            _("submitted {age}").format(age=age(record.created_at)),
        ),
        "",
        *answers_summary(details.answers),
        "",
        Italic(
            _(
                "Answer with /reply {code} text, or reply to any message of this request. /note, /notes, /close, "
                "/release and /transfer take the code too."
            ).format(code=record.code)
        ),
    )


def full_card_from_payload(payload: Mapping[str, Any]) -> Text:
    heading = _("Transferred to you: request {code}") if payload.get("reason") == "transferred" else None
    created = datetime.fromisoformat(str(payload["created_at"]))
    record = RequestRecord(
        id="",
        code=str(payload["code"]),
        status="claimed",
        urgency=str(payload["urgency"]),
        language=str(payload["language"]),
        created_at=created,
        updated_at=created,
        claimed_at=None,
        closed_at=None,
        last_activity_at=created,
        escalated_at=None,
        assignee_id=None,
        outcome=None,
        flagged=False,
        requester_blocked=False,
    )
    return full_card_text(RequestDetails(record, dict(payload["answers"])), heading=heading)


def queue_view(page: QueuePage) -> tuple[Text, InlineKeyboardMarkup | None]:
    if page.total == 0:
        return Text(_("The queue is empty.")), None
    lines = [
        Text(
            Bold(record.code),
            " · ",
            urgency_label(record.urgency),
            " · ",
            LANGUAGE_NAMES.get(record.language, record.language),
            " · ",
            age(record.created_at),
        )
        for record in page.requests
    ]
    heading = Bold(
        _("Waiting: {total}. Page {page} of {pages}.").format(total=page.total, page=page.page + 1, pages=page.pages)
    )
    builder = InlineKeyboardBuilder()
    for record in page.requests:
        builder.row(
            InlineKeyboardButton(
                text=_("Claim {code}").format(code=record.code), callback_data=Claim(code=record.code).pack()
            )
        )
    navigation = []
    if page.page > 0:
        navigation.append(InlineKeyboardButton(text="«", callback_data=QueuePageCb(page=page.page - 1).pack()))
    if page.page + 1 < page.pages:
        navigation.append(InlineKeyboardButton(text="»", callback_data=QueuePageCb(page=page.page + 1).pack()))
    if navigation:
        builder.row(*navigation)
    return as_list(heading, "", *lines), builder.as_markup()


def mine_view(requests: list[RequestRecord]) -> Text:
    if not requests:
        return Text(_("You hold no requests. /queue shows what is waiting."))
    return as_list(
        Bold(_("Your requests")),
        *[
            Text(
                Bold(record.code),
                " · ",
                urgency_label(record.urgency),
                " · ",
                _("claimed {age}").format(age=age(record.claimed_at or record.created_at)),
            )
            for record in requests
        ],
    )


def outcome_markup(code: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for outcome in OUTCOMES:
        builder.button(text=str(OUTCOME_LABELS[outcome]), callback_data=CloseOutcome(code=code, outcome=outcome).pack())
    builder.adjust(2)
    return builder.as_markup()


def transfer_markup(code: str, candidates: list[VolunteerRecord]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for volunteer in candidates:
        builder.button(text=volunteer.pseudonym, callback_data=TransferTo(code=code, to=volunteer.id).pack())
    builder.adjust(2)
    return builder.as_markup()


# Room for one page of notes: Telegram takes 4096 characters (counted in UTF-16 units, as here); the rest
# is for the heading.
NOTES_PAGE_ROOM = 3900


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _note_block(note: NoteView) -> Text:
    return as_list("", Text(Italic(note.at, " · ", note.author)), Text(note.text))


def notes_pages(notes: list[NoteView]) -> list[list[NoteView]]:
    """Notes in pages that each fit one message, in order; a note is never split (one is at most 3000)."""
    pages: list[list[NoteView]] = [[]]
    used = 0
    for note in notes:
        size = _utf16(_note_block(note).as_kwargs()["text"]) + 1
        if pages[-1] and used + size > NOTES_PAGE_ROOM:
            pages.append([])
            used = 0
        pages[-1].append(note)
        used += size
    return pages


def notes_view(code: str, notes: list[NoteView], page: int = 0) -> tuple[Text, InlineKeyboardMarkup | None]:
    """One page of a request's notes, with buttons to the others."""
    if not notes:
        return Text(_("No notes on {code} yet.").format(code=code)), None
    pages = notes_pages(notes)
    page = min(max(page, 0), len(pages) - 1)
    heading = _("Notes on {code}").format(code=code)
    if len(pages) > 1:
        heading = _("Notes on {code}, page {page} of {pages}").format(code=code, page=page + 1, pages=len(pages))
    text = as_list(Bold(heading), *[_note_block(note) for note in pages[page]])
    navigation = []
    if page > 0:
        navigation.append(InlineKeyboardButton(text="«", callback_data=NotesPage(code=code, page=page - 1).pack()))
    if page + 1 < len(pages):
        navigation.append(InlineKeyboardButton(text="»", callback_data=NotesPage(code=code, page=page + 1).pack()))
    return text, InlineKeyboardMarkup(inline_keyboard=[navigation]) if navigation else None


def inspect_prompt(code: str) -> Text:
    return fill(
        _(
            "You do not hold {code}. To open it, choose why: the reason is recorded in the audit, and the "
            "volunteer holding it is told that you opened it."
        ),
        code=code,
    )


def inspect_markup(code: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason in INSPECT_REASONS:
        label = str(INSPECT_REASON_LABELS[reason])
        builder.button(text=label, callback_data=InspectReason(code=code, reason=reason).pack())
    builder.adjust(1)
    return builder.as_markup()


def inspected_text(code: str, reason: str) -> Text:
    return fill(
        _("You opened {code} ({reason}). This is recorded in its audit trail."),
        code=code,
        reason=Text(str(INSPECT_REASON_LABELS[reason])),
    )


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


def canned_view(listing: dict[str, list[str]]) -> Text:
    if not listing:
        return Text(_("No canned replies yet. Coordinators add them with /canned add KEY."))
    return as_list(
        Bold(_("Canned replies")),
        *[Text(Code(f"#{key}"), " · ", ", ".join(languages)) for key, languages in listing.items()],
        "",
        _("Send one with /reply CODE #KEY: it goes out in the requester's language."),
    )


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


def revoke_markup(roster: list[VolunteerRecord]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for volunteer in roster:
        builder.button(text=f"✖ {volunteer.pseudonym}", callback_data=Revoke(volunteer=volunteer.id).pack())
    builder.adjust(2)
    return builder.as_markup()


QUEUE_ERRORS: dict[str, Any] = {
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
    return str(QUEUE_ERRORS.get(reason, QUEUE_ERRORS["not_found"]))


def volunteer_help(volunteer: VolunteerRecord) -> Text:
    lines = [
        Bold(_("Volunteer commands")),
        _("Your pseudonym, which requesters see: {name}").format(name=volunteer.pseudonym),
        "",
        _("/queue: requests waiting, urgent first"),
        _("/mine: requests you hold"),
        _("/claim CODE: take a request"),
        _("/show CODE: the full request again"),
        _("/reply CODE text: write to the requester (or reply to their message)"),
        _("/note CODE text, /notes CODE: private notes on a request"),
        _("/close CODE: close with an outcome"),
        _("/release CODE: give a request back to the queue"),
        _("/transfer CODE: hand a request to another volunteer"),
        _("/flag CODE: mark a request as suspicious"),
        _("/pseudonym NAME: change your pseudonym"),
        _("/canned: canned replies (/reply CODE #KEY sends one)"),
        _("/language: change your language"),
        "",
        Bold(_("Who sees what")),
        *team_access(),
    ]
    if volunteer.is_coordinator:
        lines += [
            "",
            Bold(_("Coordinators")),
            _(
                "You see triage cards, statistics and audit trails like this; a request you do not hold only "
                "through /inspect."
            ),
            _("/inspect CODE: open a request you do not hold, for a reason (recorded; its volunteer is told)"),
            _("/reopen CODE: put a closed request back in the queue"),
            _("/audit CODE: who saw and did what"),
            _("/volunteers: the team"),
            _("/stats: statistics"),
            _("/block CODE, /unblock CODE: stop or restore a provocateur's access"),
            _("/canned add KEY, /canned del KEY: add or delete canned replies"),
        ]
    if volunteer.is_admin:
        lines += [
            "",
            Bold(_("Admins")),
            _("/invite ROLE: a one-time invite (volunteer, coordinator, admin)"),
            _("/revoke: remove someone from the team; the bot first removes from their chat what it showed them"),
        ]
    return as_list(*lines)

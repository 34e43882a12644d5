"""What volunteers see of the cases: triage cards, full requests, queue pages, notes, canned replies, help."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Italic, Text, as_line, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext

from services.canned import CannedText
from services.notes import NoteView
from services.notices import Card, FullCard
from services.questionnaire import Step
from services.queue import OUTCOMES, QueuePage
from services.upgrade import upgrade_answers
from storage import clock
from storage.conversation import KEPT_MESSAGES
from storage.volunteers import VolunteerRecord
from views.access import team_access
from views.callbacks import CannedPage, Claim, CloseOutcome, NotesPage, QueuePageCb, TransferTo
from views.format import code_of, fill, keyboard, rows_of
from views.language import LANGUAGE_NAMES, language_name
from views.pages import PAGE_ROOM, page_markup, paginate, rendered_length
from views.questions import answer_text, option_label, summary_lines

OUTCOME_LABELS: dict[str, Any] = {
    "left": __("Helped to leave"),
    "legal": __("Legal consultation"),
    "psych": __("Psychological support"),
    "referred": __("Referred to a partner organisation"),
    "stays": __("Advised; decided to stay"),
    "no_response": __("No response"),
    "duplicate": __("Duplicate"),
    "suspicious": __("Suspicious"),
}
assert tuple(OUTCOME_LABELS) == OUTCOMES


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


def _coarse(step: Step, value: str | list[str] | None) -> Text | str:
    if not value:
        return Italic(_("not asked"))
    return answer_text(step, {step: value}, for_team=True)


def card_text(card: Card) -> Text:
    """The triage card every volunteer sees: coarse answers, urgency first, never the person's own words."""
    # A card queued before issue 18 names one situation and an old place: read in today's words.
    known = upgrade_answers({"status": card.status, "location": card.location} if card.status else {})
    situation, location = card.situation or known.get(Step.SITUATION), known.get(Step.LOCATION, card.location)
    return as_list(
        Text("🆕 ", fill(_("New request {code}"), code=code_of(card.code))),
        as_line(Bold(_("Urgency"), ": "), urgency_label(card.urgency), end=""),
        as_line(Bold(_("Situation"), ": "), _coarse(Step.SITUATION, situation), end=""),
        as_line(Bold(_("Where now"), ": "), _coarse(Step.LOCATION, location), end=""),
        as_line(Bold(_("Language"), ": "), language_name(card.language), end=""),
        as_line(Bold(_("Submitted"), ": "), age(datetime.fromisoformat(card.created_at)), end=""),
    )


def card_markup(code: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Claim"), callback_data=Claim(code=code).pack())]]
    )


def card_update_text(code: str, state: str) -> Text:
    if state == "claimed":
        return fill(_("{code} has been claimed by a volunteer."), code=code_of(code))
    return fill(_("{code} is no longer in the queue."), code=code_of(code))


def full_card_text(card: FullCard) -> Text:
    """The whole request, for the volunteer who holds it."""
    heading = _("Transferred to you: request {code}") if card.reason == "transferred" else _("Request {code}")
    return as_list(
        fill(heading, code=code_of(card.code)),
        Text(
            language_name(card.language),
            " · ",
            urgency_label(card.urgency),
            " · ",
            _("submitted {age}").format(age=age(datetime.fromisoformat(card.created_at))),
        ),
        "",
        *summary_lines(upgrade_answers(card.answers), for_team=True),
        "",
        Italic(
            _(
                "The buttons below act on this request. A reply to any of its messages goes to the person; "
                "the commands (/reply {code} text, /note, /close…) work too."
            ).format(code=card.code)
        ),
    )


def queue_view(page: QueuePage) -> tuple[Text, InlineKeyboardMarkup | None]:
    if page.total == 0:
        return Text(_("The queue is empty.")), None
    lines = [
        Text(
            code_of(record.code),
            " · ",
            urgency_label(record.urgency),
            " · ",
            language_name(record.language),
            " · ",
            age(record.created_at),
        )
        for record in page.requests
    ]
    heading = Bold(
        _("Waiting: {total}. Page {page} of {pages}.").format(total=page.total, page=page.page + 1, pages=page.pages)
    )
    claims = [
        [
            InlineKeyboardButton(
                text=_("Claim {code}").format(code=record.code), callback_data=Claim(code=record.code).pack()
            )
        ]
        for record in page.requests
    ]
    navigation = []
    if page.page > 0:
        navigation.append(InlineKeyboardButton(text="«", callback_data=QueuePageCb(page=page.page - 1).pack()))
    if page.page + 1 < page.pages:
        navigation.append(InlineKeyboardButton(text="»", callback_data=QueuePageCb(page=page.page + 1).pack()))
    return as_list(heading, "", *lines), keyboard(*claims, navigation)


def outcome_markup(code: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=str(OUTCOME_LABELS[outcome]), callback_data=CloseOutcome(code=code, outcome=outcome).pack()
        )
        for outcome in OUTCOMES
    ]
    return keyboard(*rows_of(2, buttons))


def transfer_markup(code: str, candidates: list[VolunteerRecord]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=volunteer.pseudonym, callback_data=TransferTo(code=code, to=volunteer.id).pack())
        for volunteer in candidates
    ]
    return keyboard(*rows_of(2, buttons))


def _note_block(note: NoteView) -> Text:
    heading: list[Any] = [note.at, " · ", note.author]
    if note.handover:
        heading += [" · ", _("handover note")]
    return as_list("", Text(Italic(*heading)), Text(note.text))


def notes_pages(notes: list[NoteView]) -> list[list[NoteView]]:
    """Notes in pages that each fit one message, in order; a note is never split (one is at most 3000)."""
    return paginate(notes, _note_block)


def notes_view(code: str, notes: list[NoteView], page: int = 0) -> tuple[Text, InlineKeyboardMarkup | None]:
    """One page of a request's notes, with buttons to the others."""
    if not notes:
        return fill(_("No notes on {code} yet."), code=code_of(code)), None
    pages = notes_pages(notes)
    page = min(max(page, 0), len(pages) - 1)
    heading = fill(_("Notes on {code}"), code=code_of(code))
    if len(pages) > 1:
        template = _("Notes on {code}, page {page} of {pages}")
        heading = fill(template, code=code_of(code), page=Text(str(page + 1)), pages=Text(str(len(pages))))
    text = as_list(heading, *[_note_block(note) for note in pages[page]])
    return text, page_markup(page, len(pages), lambda n: NotesPage(code=code, page=n).pack())


def _canned_block(text: CannedText) -> Text:
    languages = ", ".join(language_name(code) for code in text.languages)
    return as_list("", Text(Bold(f"#{text.key}"), " · ", Italic(languages)), Text(text.text))


def canned_view(texts: list[CannedText], page: int = 0) -> tuple[Text, InlineKeyboardMarkup | None]:
    """Every canned reply with its text, in the reader's language where there is one, and the languages it
    exists in; in pages that fit a message."""
    if not texts:
        return Text(_("No canned replies yet. Coordinators add them with /canned add KEY.")), None
    heading = as_list(
        Bold(_("Canned replies")),
        Italic(
            _(
                "On a case, the Canned button sends one in the person's language (or the nearest: Russian and "
                "Ukrainian before English). Typed: #KEY at the start of a reply, then a line of your own if you like."
            )
        ),
    )
    pages = paginate(texts, _canned_block, PAGE_ROOM - rendered_length(heading))
    page = min(max(page, 0), len(pages) - 1)
    text = as_list(heading, *[_canned_block(entry) for entry in pages[page]])
    return text, page_markup(page, len(pages), lambda n: CannedPage(page=n).pack())


def volunteer_help(volunteer: VolunteerRecord) -> Text:
    lines = [
        Bold(_("Volunteer commands")),
        _("Your pseudonym, which requesters see: {name}").format(name=volunteer.pseudonym),
        "",
        _("/queue: requests waiting, urgent first"),
        _("/mine: requests you hold, the person waiting longest first, each with its buttons"),
        _("/claim CODE: take a request"),
        _("/show CODE: the full request again"),
        _("/reply CODE text: write to the requester (or reply to their message)"),
        _("/note CODE text, /notes CODE: private notes on a request"),
        _("/close CODE: close with an outcome"),
        _("/release CODE: give a request back to the queue"),
        _("/transfer CODE: hand a request to another volunteer"),
        _("/flag CODE: mark a request as suspicious"),
        _("/pseudonym NAME: change your pseudonym"),
        _("/canned: canned replies and their texts (#KEY at the start of a reply sends one)"),
        _("/language: change your language"),
        "",
        Bold(_("Working a case")),
        _(
            "Every case comes with buttons: Reply and Note ask you to reply to the bot's message, so what you write "
            "goes to the right case; Canned sends a canned reply; Notes shows your notes; Transfer and Release ask "
            "for a handover note for the next volunteer; Close asks how it ended, then offers a goodbye to the "
            "person."
        ),
        _(
            "Each message you send is confirmed under it with → and the code it went to. The next volunteer sees "
            "your handover note and the last {n} messages of the conversation; they are encrypted and erased with "
            "the request."
        ).format(n=KEPT_MESSAGES),
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


# -- answers to the volunteer's commands -------------------------------------------------------------


def claimed() -> str:
    return _("It is yours: the details are in your private chat with the bot.")


def released(code: str) -> str:
    return _("{code} is back in the queue.").format(code=code)


def text_only() -> str:
    return _("Please write it as text: a note, a handover note or a goodbye cannot be a file or a sticker.")


def nobody_to_hand_to() -> str:
    return _("There is nobody else on the team to hand it to.")


def transfer_prompt(code: str) -> str:
    return _("Hand {code} to whom?").format(code=code)


def transferred(code: str, name: str) -> Text:
    return Text(_("{code} is now with {name}.").format(code=code, name=name))


def close_prompt(code: str) -> str:
    return _("How did {code} end?").format(code=code)


def closed(code: str) -> str:
    return _("{code} is closed. Thank you.").format(code=code)


def flagged(code: str) -> str:
    return _("{code} is flagged; coordinators have been told.").format(code=code)


def note_saved() -> str:
    return _("Note saved (encrypted).")


def canned_deleted(key: str, count: int) -> str:
    text = ngettext("Deleted #{key} ({count} language).", "Deleted #{key} ({count} languages).", count)
    return text.format(key=key, count=count)


def canned_ask(key: str, language: str) -> str:
    return _("Send the text of #{key} in {language}, or /skip.").format(key=key, language=LANGUAGE_NAMES[language])


def canned_ready(key: str, languages: list[str]) -> str:
    return _("#{key} is ready in: {languages}. Volunteers send it with the Canned button or #{key}.").format(
        key=key, languages=", ".join(LANGUAGE_NAMES[code] for code in languages) or "—"
    )


def canned_stopped() -> str:
    return _("Stopped. The texts you already typed in are saved.")


def not_about_a_request() -> str:
    return _(
        "This reply is not about a request. Reply to a message from a requester or to a prompt of the bot, or use "
        "the buttons of a case."
    )


def edit_not_passed_on() -> str:
    return _("Only edits of messages you sent to a requester are passed on.")


def how_to_write() -> str:
    return _(
        "To write to a requester, press Reply on their case, or reply to one of their messages. /mine lists your "
        "cases; /help lists commands."
    )

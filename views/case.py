"""What a volunteer sees while working a case on a phone: the buttons on every case, the prompts bound to a case,
/mine's rows, the confirmation of each message sent, the handover note and the kept conversation, the canned
replies for a case, and the goodbye.

Codes are monospace everywhere (one tap copies them); nothing here reads or decides anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiogram.types import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Italic, Text, as_list
from aiogram.utils.i18n import get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from services.canned import CannedText
from storage import clock
from storage.conversation import KEPT_MESSAGES, KeptMessage
from storage.kinds import Language
from storage.requests import RequestRecord
from views.callbacks import (
    CannedSend,
    CaseAction,
    CaseDo,
    ConversationPageCb,
    Farewell,
    GoodbyeChoice,
    Handover,
)
from views.format import View, code_of, fill, keyboard, rows_of
from views.notices import volunteer_label
from views.pages import PAGE_ROOM, cut, page_markup, paginate, rendered_length
from views.volunteer import OUTCOME_LABELS, urgency_label

CASE_BUTTONS: tuple[tuple[tuple[CaseDo, Any], ...], ...] = (
    (
        (CaseDo.REPLY, __("Reply")),
        (CaseDo.CANNED, __("Canned")),
        (CaseDo.NOTE, __("Note")),
        (CaseDo.NOTES, __("Notes")),
    ),
    ((CaseDo.TRANSFER, __("Transfer")), (CaseDo.RELEASE, __("Release")), (CaseDo.CLOSE, __("Close"))),
)
assert {do for row in CASE_BUTTONS for do, _label in row} == set(CaseDo)

IN_LANGUAGE: dict[str, Any] = {
    Language.RU: __("in Russian"),
    Language.UK: __("in Ukrainian"),
    Language.EN: __("in English"),
}
assert list(IN_LANGUAGE) == list(Language)

MEDIA_LABELS: dict[str, Any] = {
    "photo": __("[photo]"),
    "voice": __("[voice message]"),
    "document": __("[file]"),
    "video": __("[video]"),
    "audio": __("[audio]"),
    "video_note": __("[round video]"),
    "sticker": __("[sticker]"),
    "animation": __("[animation]"),
}

# A goodbye per outcome, in the person's language; an outcome without one of its own gets the generic one. The
# bot's own "Your request … is closed" line follows every goodbye (services/goodbye.py): none repeats it.
GOODBYES: dict[str, Any] = {
    "left": __("We are glad we could help you get out. Take care of yourself."),
    "legal": __("We hope the legal advice helps. Take care of yourself."),
    "psych": __("Thank you for trusting us with this. Take care of yourself."),
    "stays": __("Thank you for writing to us. I hope what we talked about helps. Take care."),
    "no_response": __("We have not heard from you for a while, so I am closing this conversation. Take care."),
}
GENERIC_GOODBYE = __("Thank you for writing to us. I am closing this conversation now. Take care.")
PLACEHOLDER_LIMIT = 64  # Telegram's limit on a forced reply's placeholder
CANNED_PREVIEW = 400  # characters of each canned reply shown on a case's list, when they all fit
CANNED_PREVIEW_LEAST = 20  # below this, the list shows the keys alone
CANNED_BUTTONS = 60  # a keyboard holds 100 buttons; a phone shows far fewer
MINE_ROWS = 10  # cases /mine shows with their buttons; more would flood the chat
MINE_MORE_CODES = 100  # the codes of the others, at most (a message holds 4096 characters)


def in_language(code: str) -> str:
    return str(IN_LANGUAGE[code]) if code in IN_LANGUAGE else code


def case_markup(code: str) -> InlineKeyboardMarkup:
    """Reply · Canned · Note · Notes / Transfer · Release · Close, for one case."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=str(label), callback_data=CaseAction(do=do, code=code).pack())
                for do, label in row
            ]
            for row in CASE_BUTTONS
        ]
    )


# -- prompts: the volunteer's reply to them is bound to the case (services/prompts.py) -------------------


def force_reply(code: str) -> ForceReply:
    """Telegram opens the reply to the prompt at once; the field says which case it is for."""
    placeholder = _("For {code}").format(code=code)
    return ForceReply(force_reply=True, input_field_placeholder=cut(placeholder, PLACEHOLDER_LIMIT))


def reply_prompt(code: str) -> Text:
    return fill(_("Write to {code}: reply to this message."), code=code_of(code))


def note_prompt(code: str) -> Text:
    return fill(
        _("A private note on {code}: reply to this message. Only whoever holds it reads it."), code=code_of(code)
    )


def handover_prompt(code: str, name: str | None) -> Text:
    if name is None:
        return fill(_("A note on {code} for whoever takes it next: reply to this message."), code=code_of(code))
    template = _("A handover note on {code} for {name}: reply to this message.")
    return fill(template, code=code_of(code), name=name)


def handover_choice(code: str, to: str | None, name: str | None) -> View:
    """Above the handover prompt: what happens, and the way to go on without a note."""
    if name is None:
        text = fill(
            _("{code} goes back to the queue once you write a note for the next volunteer below, or skip it."),
            code=code_of(code),
        )
        label = _("Release without a note")
    else:
        text = fill(
            _("{code} goes to {name} once you write them a handover note below, or skip it."),
            code=code_of(code),
            name=name,
        )
        label = _("Hand over without a note")
    button = InlineKeyboardButton(text=label, callback_data=Handover(code=code, to=to or "").pack())
    return View(text, InlineKeyboardMarkup(inline_keyboard=[[button]]))


def goodbye_prompt(code: str) -> Text:
    return fill(
        _("Your own goodbye to {code}: reply to this message. It is sent, then the request closes."),
        code=code_of(code),
    )


# -- /mine ---------------------------------------------------------------------------------------------


def waiting_for(since: datetime) -> str:
    minutes = max(0, int((clock.now() - since).total_seconds() // 60))
    if minutes < 60:
        return _("waiting {n} min").format(n=minutes)
    if minutes < 48 * 60:
        return _("waiting {n} h").format(n=minutes // 60)
    return _("waiting {n} d").format(n=minutes // 1440)


def mine_heading(total: int) -> Text:
    if not total:
        return Text(_("You hold no requests. /queue shows what is waiting."))
    heading = ngettext(
        "You hold {n} request. The person waiting longest for an answer comes first.",
        "You hold {n} requests. The people waiting longest for an answer come first.",
        total,
    )
    return Bold(heading.format(n=total))


def mine_row(record: RequestRecord) -> View:
    parts: list[Any] = [code_of(record.code), " · ", urgency_label(record.urgency), " · "]
    if record.unanswered and record.waiting_since is not None:
        unanswered = ngettext("{n} unanswered", "{n} unanswered", record.unanswered).format(n=record.unanswered)
        parts += [Bold(waiting_for(record.waiting_since)), " · ", unanswered]
    else:
        parts.append(_("nothing unanswered"))
    return View(Text(*parts), case_markup(record.code))


def mine_more(others: list[str]) -> Text:
    """The codes of the cases held beyond /mine's rows."""
    codes: list[Any] = []
    for index, code in enumerate(others[:MINE_MORE_CODES]):
        codes += [", "] if index else []
        codes.append(code_of(code))
    if len(others) > MINE_MORE_CODES:
        codes.append(", …")
    template = ngettext(
        "And {n} more, waiting less: {codes}. /show CODE brings one up with its buttons.",
        "And {n} more, waiting less: {codes}. /show CODE brings one up with its buttons.",
        len(others),
    )
    return fill(template, n=Text(str(len(others))), codes=Text(*codes))


# -- what was sent -------------------------------------------------------------------------------------


def sent(code: str, language: str | None) -> Text:
    """ "→ R-7KQ3XM ✓", as a reply to what the volunteer wrote, once Telegram took the person's copy."""
    if language is None:
        return Text("→ ", code_of(code), " ✓")
    return Text(
        "→ ", code_of(code), " ✓ · ", Italic(_("canned reply, sent {language}").format(language=in_language(language)))
    )


# -- the case changes hands ----------------------------------------------------------------------------


def handover_note(code: str, by: str, at: str, text: str) -> Text:
    return as_list(
        Text("📌 ", fill(_("Handover note on {code} from {name}"), code=code_of(code), name=by)),
        Italic(at),
        "",
        Text(text),
    )


def _kept_block(message: KeptMessage) -> Text:
    who: Any = volunteer_label(message.name or "—") if message.sender == "volunteer" else _("the person")
    head: list[Any] = [f"{message.at:%Y-%m-%d %H:%M} UTC · ", who]
    if message.edited:
        head.append(" " + _("(edited)"))
    body: list[Any] = []
    if message.media:
        body.append(Italic(str(MEDIA_LABELS.get(message.media, message.media))))
        body.append(" " if message.text else "")
    body.append(cut(message.text, 3000))
    return as_list("", Italic(*head), Text(*body))


def conversation_pages(messages: list[KeptMessage]) -> list[list[KeptMessage]]:
    return paginate(messages, _kept_block, PAGE_ROOM)


def conversation_view(
    code: str, messages: list[KeptMessage], page: int | None = None
) -> tuple[Text, InlineKeyboardMarkup | None]:
    """One page of the kept conversation, the newest unless ``page`` says otherwise."""
    pages = conversation_pages(messages)
    page = len(pages) - 1 if page is None else min(max(page, 0), len(pages) - 1)
    heading = fill(_("The conversation so far on {code}"), code=code_of(code))
    if len(pages) > 1:
        heading = fill(
            _("The conversation so far on {code}, page {page} of {pages}"),
            code=code_of(code),
            page=Text(str(page + 1)),
            pages=Text(str(len(pages))),
        )
    note = Italic(_("At most the last {n} messages are kept.").format(n=KEPT_MESSAGES))
    text = as_list(heading, note, *[_kept_block(message) for message in pages[page]])
    return text, page_markup(page, len(pages), lambda n: ConversationPageCb(code=code, page=n).pack())


# -- canned replies for a case -------------------------------------------------------------------------


def canned_for_case(code: str, language: str, texts: list[CannedText]) -> View:
    """Each canned reply with the start of its text (as much as one message holds) and a button sending it."""
    if not texts:
        return View(Text(_("No canned replies yet. Coordinators add them with /canned add KEY.")))
    texts = texts[:CANNED_BUTTONS]
    heading = fill(
        _("Canned replies for {code}, {language} where there is one. A button sends it."),
        code=code_of(code),
        language=Text(in_language(language)),
    )
    labels = [_canned_label(text, language) for text in texts]
    room = PAGE_ROOM - rendered_length(heading) - sum(rendered_length(label) + 2 for label in labels)
    preview = min(CANNED_PREVIEW, room // len(texts) - 1)
    lines: list[Any] = [heading]
    buttons = []
    for text, label in zip(texts, labels, strict=True):
        lines += ["", label, *([cut(text.text, preview)] if preview >= CANNED_PREVIEW_LEAST else [])]
        buttons.append(
            InlineKeyboardButton(text=f"#{text.key}", callback_data=CannedSend(code=code, key=text.key).pack())
        )
    return View(as_list(*lines), keyboard(*rows_of(3, buttons)))


def _canned_label(text: CannedText, reader: str) -> Text:
    if text.language == reader:
        return Bold(f"#{text.key}")
    return Text(Bold(f"#{text.key}"), " · ", Italic(in_language(text.language)))


# -- closing -------------------------------------------------------------------------------------------


def goodbye_text(outcome: str, language: str) -> str:
    """The goodbye for ``outcome`` as the person reads it, in their language."""
    with get_i18n().use_locale(language):
        return str(GOODBYES.get(outcome, GENERIC_GOODBYE))


def goodbye_preview(code: str, outcome: str, language: str) -> View:
    text = as_list(
        Text(code_of(code), " · ", str(OUTCOME_LABELS.get(outcome, outcome))),
        _("This goodbye goes to the person {language}, then the request closes:").format(
            language=in_language(language)
        ),
        "",
        Italic(goodbye_text(outcome, language)),
    )
    send, own, none = (
        InlineKeyboardButton(text=label, callback_data=GoodbyeChoice(code=code, outcome=outcome, how=how).pack())
        for how, label in (
            (Farewell.SEND, _("Send and close")),
            (Farewell.OWN, _("Write my own")),
            (Farewell.NONE, _("Close without a message")),
        )
    )
    return View(text, keyboard([send, own], [none]))


def closed_after_goodbye(code: str, language: str) -> str:
    return "\n".join(
        (
            _("{code} is closed. Thank you.").format(code=code),
            _("Your goodbye goes to the person {language}.").format(language=in_language(language)),
        )
    )

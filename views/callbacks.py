"""Callback data of every inline button. Short prefixes and codes: Telegram allows 64 bytes."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from services.stats import Period


class LanguageChoice(CallbackData, prefix="lang"):
    code: str
    switch: bool = False  # True: /language in the middle of something, re-render it afterwards


class OptionChoice(CallbackData, prefix="opt"):
    step: str
    value: str


class Nav(CallbackData, prefix="nav"):
    step: str
    go: str  # back, next, reconnect, done, skip, agree, decline, submit, cancel, erase, keep, details


class EditAnswer(CallbackData, prefix="edit"):
    step: str


class KeepText(CallbackData, prefix="keep"):
    """Keep a message typed at a button step (held in the intake's sealed state) as the description."""


class KeyNoted(CallbackData, prefix="keyok"):
    """The reconnect key is written down: the message showing it goes."""


class SelfHelp(CallbackData, prefix="selfhelp"):
    topic: str  # summons, wounded, away, partners


class ForgetConfirm(CallbackData, prefix="forget"):
    sure: bool
    command: int = 0  # the /forget message, deleted with everything else


class Claim(CallbackData, prefix="claim"):
    code: str


class QueuePageCb(CallbackData, prefix="qp"):
    page: int


class CloseOutcome(CallbackData, prefix="close"):
    code: str
    outcome: str


class TransferTo(CallbackData, prefix="xfer"):
    code: str
    to: str


class Revoke(CallbackData, prefix="revoke"):
    volunteer: str


class InspectReason(CallbackData, prefix="insp"):
    code: str
    reason: str


class NotesPage(CallbackData, prefix="np"):
    code: str
    page: int


class StatsPeriod(CallbackData, prefix="stats"):
    period: Period


class CaseDo(StrEnum):
    """What a button on a case (its card, its row of /mine) does."""

    REPLY = "reply"
    CANNED = "canned"
    NOTE = "note"
    NOTES = "notes"
    TRANSFER = "xfer"
    RELEASE = "release"
    CLOSE = "close"


class CaseAction(CallbackData, prefix="c"):
    do: CaseDo
    code: str


class CannedSend(CallbackData, prefix="cs"):
    """Send canned reply ``key`` to the person of request ``code``."""

    code: str
    key: str


class CannedPage(CallbackData, prefix="cp"):
    page: int


class Handover(CallbackData, prefix="ho"):
    """Let a case go without a handover note: back to the queue, or to volunteer ``to``."""

    code: str
    to: str = ""


class Farewell(StrEnum):
    SEND = "send"  # the goodbye shown, then close
    OWN = "own"  # ask for the volunteer's own goodbye
    NONE = "none"  # close without a message


class GoodbyeChoice(CallbackData, prefix="gb"):
    code: str
    outcome: str
    how: Farewell


class ConversationPageCb(CallbackData, prefix="cv"):
    code: str
    page: int

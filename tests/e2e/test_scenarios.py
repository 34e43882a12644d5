"""The real bot process, end to end: people act on the Telegram model, the bot answers over HTTP.

Every scenario starts ``tropa run`` on a fresh data directory against the emulator (see conftest.py),
acts only the way people can (send, press, reply), and waits for what they would then see. Each plants
canaries in what people type; the last test proves none reached the data files or the bot's log.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from bot.i18n import create_i18n
from tests.e2e.conftest import CanaryLedger, LiveBot, find_canaries
from tests.e2e.process import ADMIN_ID, tropa_executable
from tests.support.telegram import CallbackAnswer, FakeUser, ViewMessage

pytestmark = pytest.mark.e2e

I18N = create_i18n()
UNKNOWN = "I don't know that command. /help lists what I can do."
STALE = "That button belongs to an earlier message."
ERASED = "Everything is erased. If you need help again, send /start."
CODE = re.compile(r"R-[0-9A-Z]{6}")
WAIT = 20.0  # seconds: generous for a loaded 2-core machine; waits end as soon as the bot has answered


class Person:
    """Someone using the live bot. Every action waits until the bot has committed what the action changed
    and the person sees the answer: people are slower than a commit (for a person who is not, see
    ``test_a_quick_second_press_is_not_lost``)."""

    def __init__(self, live: LiveBot, user: FakeUser, language: str = "en") -> None:
        self.live = live
        self.world = live.world
        self.user = user
        self.language = language

    def t(self, label: str) -> str:
        """``label`` as this person sees it, from the bot's own catalogs."""
        return I18N.gettext(label, locale=self.language)

    # -- what they see --------------------------------------------------------------------------------

    def visible(self) -> list[ViewMessage]:
        return self.user.chat.visible()

    def last(self) -> str:
        message = self.user.chat.last_from_bot()
        return message.text if message else ""

    def bot_messages_after(self, message_id: int) -> list[ViewMessage]:
        return [m for m in self.visible() if m.from_bot and m.message_id > message_id]

    def ever_received(self, fragment: str) -> list[ViewMessage]:
        """Bot messages containing ``fragment``, deleted ones included: what arrived, not what is left."""
        return [m for m in self.user.chat.all_messages() if m.from_bot and fragment in m.text]

    def delivered(self, fragment: str) -> list[dict[str, Any]]:
        """Every message Telegram accepted for this chat whose text (as sent) contains ``fragment``."""
        return [
            call.result
            for call in self.world.calls_of("sendMessage")
            if call.ok and call.result["chat"]["id"] == self.user.id and fragment in call.result.get("text", "")
        ]

    def buttons(self) -> list[str]:
        message = self.user.chat.last_from_bot()
        return [label for row in (message.buttons if message else []) for label in row]

    # -- what they do ---------------------------------------------------------------------------------

    async def wait(self, predicate: Callable[[], Any], timeout: float = WAIT) -> Any:  # noqa: ASYNC109
        try:
            return await self.world.wait_for(predicate, timeout=timeout)
        except TimeoutError as error:
            chats = {
                f"{user.id} ({user.language_code})": [(m.message_id, m.text[:120]) for m in user.chat.visible()]
                for user in self.world.users.values()
            }
            answers = [(q.id[-4:], q.data, q.answer) for q in list(self.world.callback_queries.values())[-3:]]
            raise AssertionError(
                f"{error}\nchats: {chats}\nlast callback answers: {answers}\nbot log:\n{self.live.process.tail(25)}"
            ) from None

    async def send(self, text: str, until: Callable[[], Any] | None = None) -> int:
        """Send ``text``; wait until the bot is done with it and ``until`` holds (default: any new message
        from the bot). Returns the message id."""
        update = self.user.send(text)
        sent = int(update["message"]["message_id"])
        await self.live.wait_handled(update["update_id"])
        await self.wait(until or (lambda: self.bot_messages_after(sent)))
        return sent

    async def reply(self, message_id: int, text: str, until: Callable[[], Any]) -> int:
        update = self.user.reply(message_id, text)
        await self.live.wait_handled(update["update_id"])
        await self.wait(until)
        return int(update["message"]["message_id"])

    async def press(
        self,
        label: str,
        *,
        translate: bool = True,
        message_id: int | None = None,
        until: Callable[[], Any] | None = None,
    ) -> CallbackAnswer:
        """Press a button by its (translated) label; wait until the bot answered the press (and ``until``)."""
        update = self.user.press(self.t(label) if translate else label, message_id)
        return await self.answered(update, until)

    async def press_data(self, message_id: int, data: str) -> CallbackAnswer:
        return await self.answered(self.user.press_data(message_id, data), None)

    async def answered(self, update: dict[str, Any], until: Callable[[], Any] | None) -> CallbackAnswer:
        query_id = update["callback_query"]["id"]
        answer: CallbackAnswer = await self.wait(lambda: self.world.callback_queries[query_id].answer)
        await self.live.wait_handled(update["update_id"])
        if until is not None:
            await self.wait(until)
        return answer


P = TypeVar("P", bound=Person)


class Requester(Person):
    async def walk_to_review(self, description: str) -> None:
        await self.send("/start", until=lambda: "Choose your language" in self.last())
        await self.press(
            {"ru": "Русский", "uk": "Українська", "en": "English"}[self.language],
            translate=False,
            until=lambda: self.t("Before we start: your safety") in self.last(),
        )
        await self.press("I understand, continue")
        await self.press("I agree")
        assert self.last() == self.t("Who is asking for help?")
        for label in ("I am asking for myself", "Mobilised", "Belarus", "Internal passport", "Done", "No"):
            await self.press(label)
        await self.press("This week")
        await self.press("Leaving the country")
        await self.press("Done")
        assert self.t("Skip") in self.buttons()  # the description question
        await self.send(description, until=lambda: self.t("Please check your answers") in self.last())

    async def walk_to_documents(self) -> None:
        """In English, up to the documents question (the first multi-select)."""
        await self.send("/start", until=lambda: "Choose your language" in self.last())
        await self.press("English", until=lambda: "I understand, continue" in self.buttons())
        for label in ("I understand, continue", "I agree", "I am asking for myself", "Mobilised", "Belarus"):
            await self.press(label)

    async def submit(self) -> str:
        answer = await self.press("Submit", until=lambda: self.confirmations())
        assert answer.text == self.t("Sent.")
        (confirmation,) = self.confirmations()
        match = CODE.search(confirmation.text)
        assert match, confirmation.text
        return match.group(0)

    def confirmations(self) -> list[ViewMessage]:
        return self.ever_received(self.t("Your request is sent."))

    async def hygiene_done(self) -> None:
        """After submitting, the chat is cleaned through the outbox: wait until only the confirmation is left."""
        await self.wait(lambda: [m.text for m in self.visible()] == [m.text for m in self.confirmations()])


class Member(Person):
    """Someone on the team. The admin in settings must send /start before the bot can write to them."""

    async def invite(self, role: str) -> str:
        sent = await self.send(f"/invite {role}")
        (invite,) = self.bot_messages_after(sent)
        match = re.search(r"/join (\S+)", invite.text)
        assert match and invite.protected, invite
        return match.group(1)

    def card(self, code: str) -> ViewMessage | None:
        """The triage card for ``code`` with its Claim button, if it is on screen."""
        return next((m for m in self.visible() if code in m.text and m.buttons), None)


def person(live: LiveBot, cls: type[P], user_id: int, language: str, ledger: CanaryLedger) -> P:
    """A new Telegram user whose names are canaries (the bot must never store or log them)."""
    first_name = ledger.plant("cyrillic" if language == "ru" else "text")
    user = live.world.user(user_id, first_name=first_name, username=ledger.plant("username"), language_code=language)
    return cls(live, user, language)


async def team(live: LiveBot, ledger: CanaryLedger, *roles: str) -> tuple[Member, list[Member]]:
    """The admin from settings, and one new member per role in ``roles``, each joined by invite."""
    admin = person(live, Member, ADMIN_ID, "en", ledger)
    await admin.send("/start")
    members = []
    for index, role in enumerate(roles):
        code = await admin.invite(role)
        member = person(live, Member, 2001 + index, "en", ledger)
        await member.send(f"/join {code}", until=lambda m=member: m.t("Welcome to the team.") in m.last())
        # The spent code is deleted once the join has committed (deletions go out after the commit).
        await member.wait(lambda m=member, c=code: f"/join {c}" not in [v.text for v in m.visible()])
        members.append(member)
    return admin, members


def no_errors_logged(live: LiveBot, *expected: str) -> None:
    """The bot logged no error, apart from ``expected`` events (e.g. aiogram's failed polls under faults)."""
    errors = [event for event in live.errors() if event.get("event") not in expected]
    assert not errors, errors


# -- 1. the whole journey ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_request_from_intake_in_russian_to_close(live: LiveBot, canaries: CanaryLedger) -> None:
    _admin, (vera, coordinator) = await team(live, canaries, "volunteer", "coordinator")
    pseudonym = canaries.plant("pseudonym")
    await vera.send(f"/pseudonym {pseudonym}", until=lambda: pseudonym in vera.last())

    olga = person(live, Requester, 1001, "ru", canaries)
    description = f"{canaries.plant('cyrillic')} <b>нас</b> & {canaries.plant()}"
    await olga.walk_to_review(description)
    review = olga.last()
    assert f"{olga.t('Urgency')}: {olga.t('This week')}" in review and description in review

    # Change one answer from the review screen: back to the question, then straight back to review.
    await olga.press(f"✏️ {olga.t('Urgency')}", translate=False)
    assert olga.last() == olga.t("How urgent is it?")
    await olga.press("Danger within 48 hours", until=lambda: olga.t("Please check your answers") in olga.last())
    assert f"{olga.t('Urgency')}: {olga.t('Danger within 48 hours')}" in olga.last()
    code = await olga.submit()
    await olga.hygiene_done()

    # Every member of the team gets a triage card; the volunteer takes the request by command.
    await vera.wait(lambda: vera.card(code))
    card = vera.card(code)
    assert card is not None and card.buttons == [[vera.t("Claim")]] and description not in card.text
    full_heading = vera.t("Request {code}").format(code=code)
    await vera.send(f"/claim {code}", until=lambda: vera.ever_received(full_heading))
    (full,) = vera.ever_received(full_heading)
    assert description in full.text and full.protected
    taken = olga.t("A volunteer has taken your request {code}.").format(code=code)
    await olga.wait(lambda: olga.ever_received(taken))
    await vera.wait(lambda: vera.card(code) is None)  # the card lost its Claim button

    question = f"{canaries.plant()} — are you safe right now?"
    await vera.send(f"/reply {code} {question}", until=lambda: olga.ever_received(question))
    (asked,) = olga.ever_received(question)
    assert asked.text == olga.t("Volunteer {pseudonym}").format(pseudonym=pseudonym) + f":\n{question}"

    answer = f"{canaries.plant('cyrillic')}, да, пока в безопасности"
    await olga.send(answer, until=lambda: vera.ever_received(answer))
    (relayed,) = vera.ever_received(answer)
    assert relayed.text == f"{code}:\n{answer}" and relayed.protected and not relayed.forwarded

    follow_up = f"{canaries.plant()} keep your phone charged"
    await vera.reply(relayed.message_id, follow_up, until=lambda: olga.ever_received(follow_up))
    note = canaries.plant()
    await vera.send(f"/note {code} {note}", until=lambda: vera.last() == vera.t("Note saved (encrypted)."))

    await vera.send(f"/close {code}", until=lambda: vera.t("Helped to leave") in vera.buttons())
    thanks = vera.t("{code} is closed. Thank you.").format(code=code)
    await vera.press("Helped to leave", until=lambda: vera.last() == thanks)
    closed = olga.t("Your request {code} is closed.").format(code=code)
    await olga.wait(lambda: olga.ever_received(closed))

    # Statistics: a period choice, then a chart and the summary. What the numbers say is covered by
    # tests/test_stats.py; here it is enough that the real process draws and sends them.
    await coordinator.send("/stats", until=lambda: coordinator.t("Last 4 weeks") in coordinator.buttons())
    await coordinator.press(
        "Last 4 weeks",
        until=lambda: (
            coordinator.ever_received(coordinator.t("Statistics for the last 4 weeks"))
            and any(m.kind == "photo" for m in coordinator.visible())
        ),
    )

    assert len(olga.confirmations()) == 1
    assert len(olga.ever_received(question)) == len(olga.ever_received(follow_up)) == 1
    assert not live.world.forwarded_messages()
    no_errors_logged(live)


@pytest.mark.parametrize(
    ("backend", "postgres_settings"),
    [
        pytest.param("sqlite", {}, id="sqlite"),
        pytest.param(
            "postgres",
            # Commits take 0.1 s longer at the server: what a busy database does, made certain.
            {"commit_delay": "100000", "commit_siblings": "0"},
            id="postgres",
            marks=[pytest.mark.postgres],
        ),
    ],
)
async def test_a_quick_second_press_is_not_lost(live: LiveBot, canaries: CanaryLedger) -> None:
    """People tick a multi-select quickly: the next tap comes as soon as the first tick shows."""
    kim = person(live, Requester, 1006, "en", canaries)
    await kim.walk_to_documents()
    first = kim.user.press("Internal passport")
    await kim.wait(lambda: "✅ Internal passport" in kim.buttons())
    second = kim.user.press("Valid foreign passport")
    for update in (first, second):
        await live.wait_handled(update["update_id"])
    await kim.wait(lambda: live.world.callback_queries[second["callback_query"]["id"]].answer)
    assert {"✅ Internal passport", "✅ Valid foreign passport"} <= set(kim.buttons()), kim.buttons()


# -- 2. chat hygiene and /forget ---------------------------------------------------------------------


async def submit_then_forget(live: LiveBot, canaries: CanaryLedger) -> Requester:
    """A requester submits, writes once more before anyone claimed the request, then erases everything."""
    sam = person(live, Requester, 1002, "en", canaries)
    await sam.walk_to_review(canaries.plant())
    code = await sam.submit()
    await sam.hygiene_done()
    (confirmation,) = sam.visible()
    assert confirmation.from_bot and code in confirmation.text
    own = [m.message_id for m in sam.user.chat.all_messages() if not m.from_bot]
    assert set(own) <= set(sam.user.chat.deleted_ids())  # /start and the description went too

    # A message before anyone claimed the request waits, sealed, for the volunteer who will take it.
    saved = sam.t("Saved. A volunteer will see it as soon as they take your request.")
    await sam.send(canaries.plant(), until=lambda: sam.last() == saved)
    await live.wait_db(lambda: live.count("outbox", "recipient = 'assignee'") == 1)
    assert live.count("shown_messages") >= 1

    await sam.send("/forget", until=lambda: sam.t("Yes, erase everything") in sam.buttons())
    await sam.press("Yes, erase everything", until=lambda: sam.last() == sam.t(ERASED))
    return sam


async def test_the_chat_is_cleaned_and_forget_leaves_no_row(live: LiveBot, canaries: CanaryLedger) -> None:
    await submit_then_forget(live, canaries)
    await live.wait_db(lambda: live.count("requests") == 0 and live.count("outbox") == 0)
    for table in ("requests", "fsm_state", "shown_messages", "outbox"):
        assert live.count(table) == 0, table
    # Only the system key and the ephemeral one are left; the shred is noted (a moment and an HMAC, no id)
    # for the key roll to come and for restores.
    owners = sorted(owner for (owner,) in live.query("SELECT owner_id FROM data_keys"))
    assert owners[-1] == "system" and len(owners) == 2 and owners[0].startswith("ephemeral-")
    assert live.count("shred_ledger") == 1 and live.count("meta", "key = 'shred.first_at'") == 1
    no_errors_logged(live)


async def test_forget_leaves_only_its_own_goodbye_in_the_chat(live: LiveBot, canaries: CanaryLedger) -> None:
    sam = await submit_then_forget(live, canaries)
    await sam.wait(lambda: len(sam.visible()) <= 2)
    assert [m.text for m in sam.visible()] == [sam.t(ERASED)]


# -- 3. a crash in the middle of an intake -----------------------------------------------------------


def long_poll_waiting(live: LiveBot) -> bool:
    """The bot's getUpdates is waiting in the emulator right now (started, not answered)."""
    calls = live.world.calls_of("getUpdates")
    return bool(calls) and calls[-1].result is None and calls[-1].error is None


async def test_a_killed_bot_continues_the_intake_where_it_stopped(live: LiveBot, canaries: CanaryLedger) -> None:
    kim = person(live, Requester, 1003, "en", canaries)
    await kim.walk_to_documents()
    assert "Internal passport" in kim.buttons()  # the documents question

    # The bot handles a press but never confirms it: every getUpdates after it fails, then SIGKILL.
    await kim.wait(lambda: long_poll_waiting(live))
    toggled = kim.user.press("Internal passport")  # a multi-select toggle: handled twice, it would undo itself
    live.world.inject("getUpdates", "drop", times=1_000_000)
    await kim.answered(toggled, until=lambda: "✅ Internal passport" in kim.buttons())
    await live.wait_db(lambda: live.count("processed_updates", "update_id = ?", toggled["update_id"]))
    await live.process.kill()
    live.snapshot()  # the files exactly as a crash leaves them (WAL included), for the canary scan
    live.world.clear_faults()
    assert toggled["update_id"] in [update["update_id"] for update in live.world.pending_updates()]

    # While the bot is down the person presses the live button again; then the bot comes back.
    second = kim.user.press("Military ID is held by the unit")
    await live.process.start()
    await kim.answered(second, until=lambda: "✅ Military ID is held by the unit" in kim.buttons())
    assert "✅ Internal passport" in kim.buttons()  # the re-delivered toggle changed nothing
    assert any(event["event"] == "update.duplicate" for event in live.log_events())

    # /start resumes at the same step (a fresh copy of the question), it does not start over.
    prompt = kim.user.chat.last_from_bot()
    assert prompt is not None
    await kim.send(
        "/start",
        until=lambda: (
            kim.bot_messages_after(prompt.message_id) and prompt.message_id in kim.user.chat.deleted_ids()
        ),  # the old copy goes: one live question
    )
    assert {"✅ Internal passport", "✅ Military ID is held by the unit"} <= set(kim.buttons())

    for label in ("Done", "No", "This week", "Leaving the country", "Done"):
        await kim.press(label)
    await kim.send(canaries.plant(), until=lambda: "Please check your answers" in kim.last())
    assert "Documents: Internal passport, Military ID is held by the unit" in kim.last()
    code = await kim.submit()
    await kim.hygiene_done()

    assert live.query("SELECT code FROM requests") == [(code,)]
    assert [m.text for m in kim.visible()] == [m.text for m in kim.confirmations()]
    assert len(kim.confirmations()) == 1
    assert len(kim.delivered("Choose your language")) == 1  # never started over
    no_errors_logged(live, "Failed to fetch updates - %s: %s")


# -- 4. Telegram misbehaves ---------------------------------------------------------------------------


def misbehave(live: LiveBot, method: str) -> None:
    """The next calls of ``method`` fail: flood control (retry after 1 s), a server error, a dropped
    connection. Each fault fires before the call takes effect, as when Telegram refuses it."""
    live.world.inject(method, "429", times=1, retry_after=1)
    live.world.inject(method, "500", times=1)
    live.world.inject(method, "drop", times=1)


def failures(live: LiveBot, method: str) -> list[str]:
    return sorted(
        type(call.error).__name__ if call.error else "" for call in live.world.calls_of(method) if not call.ok
    )


async def test_every_message_arrives_once_through_flood_control_errors_and_drops(
    live: LiveBot, canaries: CanaryLedger
) -> None:
    _admin, (vera,) = await team(live, canaries, "volunteer")
    rita = person(live, Requester, 1004, "en", canaries)
    await rita.walk_to_review(canaries.plant())

    # Submitting sends the confirmation, cleans the chat and sends the triage cards, all by the outbox.
    misbehave(live, "sendMessage")
    misbehave(live, "getUpdates")
    code = await rita.submit()
    await rita.hygiene_done()
    await vera.wait(lambda: vera.card(code))
    await vera.wait(lambda: not live.world.faults)  # every fault fired (polling ones included)
    assert failures(live, "sendMessage") == ["ApiError", "ApiError", "DroppedConnection"]

    # Claiming edits every card down to one line: through the same trouble on editMessageText.
    misbehave(live, "editMessageText")
    await vera.send(f"/claim {code}", until=lambda: vera.ever_received(vera.t("Request {code}").format(code=code)))
    taken = rita.t("A volunteer has taken your request {code}.").format(code=code)
    claimed = vera.t("{code} has been claimed by a volunteer.").format(code=code)
    await rita.wait(lambda: rita.ever_received(taken))
    await vera.wait(lambda: vera.ever_received(claimed))
    await vera.wait(lambda: not live.world.faults)
    assert failures(live, "editMessageText") == ["ApiError", "ApiError", "DroppedConnection"]

    # Three answers typed quickly while Telegram throttles, fails and drops: each arrives once.
    misbehave(live, "sendMessage")
    misbehave(live, "getUpdates")
    answers = [f"{canaries.plant()} answer {n}" for n in (1, 2, 3)]
    for text in answers:
        vera.user.send(f"/reply {code} {text}")
    await rita.wait(lambda: all(rita.ever_received(text) for text in answers))
    await vera.wait(lambda: not live.world.faults)

    for text in [*answers, rita.t("Your request is sent."), taken]:
        assert len(rita.delivered(text)) == 1, text
    assert len(vera.delivered(vera.t("New request {code}").format(code=code))) == 1
    assert len(vera.delivered(vera.t("Request {code}").format(code=code))) == 1
    assert len(vera.ever_received(claimed)) == 1
    no_errors_logged(live, "Failed to fetch updates - %s: %s")


# -- 5. a stranger tries the operators' commands -------------------------------------------------------


async def test_a_stranger_gets_nothing_from_operator_commands(live: LiveBot, canaries: CanaryLedger) -> None:
    olga = person(live, Requester, 1005, "en", canaries)
    description = canaries.plant()
    await olga.walk_to_review(description)
    code = await olga.submit()

    mallory = person(live, Person, 3001, "en", canaries)
    commands = [
        "/queue",
        "/mine",
        f"/claim {code}",
        f"/show {code}",
        f"/release {code}",
        f"/reply {code} {canaries.plant()}",
        f"/note {code} {canaries.plant()}",
        f"/notes {code}",
        f"/close {code}",
        f"/reopen {code}",
        f"/inspect {code}",
        f"/block {code}",
        f"/transfer {code}",
        f"/flag {code}",
        f"/audit {code}",
        "/volunteers",
        "/invite volunteer",
        "/revoke",
        "/stats",
        f"/pseudonym {canaries.plant('pseudonym')}",
    ]
    for command in commands:
        sent = await mallory.send(command)
        assert [m.text for m in mallory.bot_messages_after(sent)] == [mallory.t(UNKNOWN)], command

    # A Claim button forged onto one of the bot's messages in the stranger's chat.
    some_message = mallory.user.chat.last_from_bot()
    assert some_message is not None
    forged = await mallory.press_data(some_message.message_id, f"claim:{code}")
    assert forged.text == mallory.t(STALE)
    forged_close = await mallory.press_data(some_message.message_id, f"close:{code}:left")
    assert forged_close.text == mallory.t(STALE)

    await live.wait_db(lambda: live.count("outbox", "failed_reason IS NULL") == 0)  # nothing left to send
    assert live.query("SELECT status, assignee_id FROM requests WHERE code = ?", code) == [("new", None)]
    assert olga.ever_received(olga.t("A volunteer has taken your request {code}.").format(code=code)) == []
    seen = [m.text for m in mallory.user.chat.all_messages() if m.from_bot]
    assert seen == [mallory.t(UNKNOWN)] * len(commands)
    for text in [*seen, forged.text, forged_close.text]:
        for secret in (code, description, "Mobilised", "Belarus", "Internal passport", "This week"):
            assert secret not in (text or ""), (secret, text)
    no_errors_logged(live)


# -- 6. keys change while the bot runs ---------------------------------------------------------------


async def tropa_command(live: LiveBot, *args: str) -> tuple[int, str, str]:
    """``tropa`` in a second shell, on the same data and keyring as the running bot."""
    process = await asyncio.create_subprocess_exec(
        tropa_executable(),
        *args,
        env=live.process.env,
        cwd=live.process.cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), out.decode(), err.decode()


async def test_keys_rotated_and_retired_from_a_second_shell_lose_nothing(live: LiveBot, canaries: CanaryLedger) -> None:
    """The operator rotates and retires keys while `tropa run` runs: the bot wraps the next request with the
    new key (never with the old one), and after a restart every request still opens."""
    _admin, (vera,) = await team(live, canaries, "volunteer")
    first, second = person(live, Requester, 1011, "en", canaries), person(live, Requester, 1012, "en", canaries)
    before, after = canaries.plant(), canaries.plant()
    await first.walk_to_review(before)
    first_code = await first.submit()

    ((old,),) = live.query("SELECT value FROM meta WHERE key = 'kek.active'")
    status, out, err = await tropa_command(live, "keys", "rotate")
    assert status == 0 and f"Destroyed {old}" in out, (out, err)
    new = re.search(r"Active key is now ([0-9a-f]{8})", out)
    assert new is not None
    status, _, err = await tropa_command(live, "keys", "retire", old)
    assert status == 2 and "no key" in err  # rotate destroyed it already: nothing can be retired twice

    await second.walk_to_review(after)
    second_code = await second.submit()
    wrapped_with = live.query(
        "SELECT data_keys.kek_id FROM data_keys JOIN requests ON requests.id = data_keys.owner_id WHERE code = ?",
        second_code,
    )
    assert wrapped_with == [(new.group(1),)]  # the running bot learned of the new key

    await live.process.stop()
    await live.process.start()  # it starts: the keyring holds every key that wraps data
    for code, description in ((first_code, before), (second_code, after)):
        heading = vera.t("Request {code}").format(code=code)
        await vera.send(f"/claim {code}", until=lambda h=heading: vera.ever_received(h))
        (full,) = vera.ever_received(heading)
        assert description in full.text
    no_errors_logged(live)


# -- the canary scan ------------------------------------------------------------------------------------


def test_the_scanner_finds_canaries_in_every_form() -> None:
    """The scan below is only as good as its search: prove it sees each encoding it claims to."""
    latin, cyrillic = "canary-0123abcd", "Канарейка-0123abcd-щит"
    for text in (latin, cyrillic):
        for data in (
            text.encode(),
            text.upper().encode(),
            text.encode("utf-16-le"),
            b"\x00" + text.encode("utf-16-be"),
            json.dumps(text).encode(),  # \u041a\u0430... as a JSON log line writes it
            json.dumps(text.upper()).encode(),
        ):
            assert find_canaries(b"\x01junk" + data + b"junk\xff", [text]) == [text], data
    assert find_canaries("nothing here".encode("utf-16-le"), [latin, cyrillic]) == []


def test_no_canary_reached_the_data_files_or_the_log(canaries: CanaryLedger) -> None:
    """Runs last: every scenario above planted canaries; none may appear in any data file, database dump
    or captured log of any run."""
    if not canaries.scenarios:
        pytest.skip("no scenario ran in this session; the scan needs their data and logs")
    files = canaries.files()
    logs = [path for path in files if path.suffix == ".err"]
    assert logs and all(path.stat().st_size > 0 for path in logs), "the bot's log was not captured"
    assert any(path.name == "tropa.db" for path in files), "no SQLite file to scan"
    assert canaries.canaries, "no scenario planted a canary"
    leaks = canaries.scan()
    assert not leaks, leaks

"""A volunteer works cases on a phone by buttons only (issue 19): Reply and Note answer the bot's prompts, each
message sent is confirmed with its case, handovers carry a note and the conversation, closing offers a goodbye;
and nobody but the holder gets anything from a case's buttons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.i18n import create_i18n
from services.canned import CannedText
from storage import clock
from storage.conversation import KEPT_MESSAGES, KeptMessage
from storage.kinds import Role
from storage.volunteers import VolunteerRecord
from testkit.telegram import Person, ViewMessage, utf16_len
from tests.support.harness import Harness, harness_with, restart
from tests.support.inspect import count_rows, request_field
from tests.support.intake import DANGER, IntakeAnswers, submit
from tests.support.team import admin, card, claimed_case, join, mentioning, prompt, pseudonym_of, team
from views import case as case_views
from views import volunteer as volunteer_views
from views.callbacks import (
    CannedSend,
    CaseAction,
    CaseDo,
    CloseOutcome,
    ConversationPageCb,
    Farewell,
    GoodbyeChoice,
    Handover,
    TransferTo,
)
from views.case import CANNED_BUTTONS

NOT_YOURS = "This request is not in your hands."
LONGEST_CODE = "R-" + "Z" * 6


def full_card(member: Person, code: str) -> ViewMessage:
    """The case as its holder sees it: the whole request, protected, with its buttons."""
    found = [m for m in member.visible() if m.from_bot and m.text.startswith((f"Request {code}", "Transferred to"))]
    assert found, member.texts()
    return found[-1]


def buttons_of(message: ViewMessage) -> list[str]:
    return [label for row in message.buttons for label in row]


def confirmations(member: Person, code: str) -> list[ViewMessage]:
    """The bot's "→ R-… ✓" under each message the volunteer sent."""
    return [m for m in member.visible() if m.from_bot and m.text.startswith(f"→ {code} ✓")]


@dataclass
class Desk:
    """A team of two volunteers (and the admin), and a person's request Vera took by its Claim button."""

    boss: Person
    vera: Person
    ivan: Person
    person: Person
    code: str
    case: ViewMessage


async def desk(h: Harness, **answers: Any) -> Desk:
    boss = await admin(h)
    vera, ivan = await join(h, boss, 2001), await join(h, boss, 2002)
    person = h.person(1001)
    code = await submit(person, IntakeAnswers(**answers))
    return Desk(boss, vera, ivan, person, code, await claimed_by_button(h, vera, code))


async def claimed_by_button(h: Harness, member: Person, code: str) -> ViewMessage:
    triage = card(member, code)
    assert triage is not None
    await member.press("Claim", triage.message_id)
    return full_card(member, code)


async def test_a_case_from_claim_to_goodbye_by_buttons_only(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    person = h.person(1001, language_code="uk")
    code = await submit(person)
    await person.send("Ви тут?")  # before the claim: it waits, and counts as unanswered

    case = await claimed_by_button(h, vera, code)
    assert case.protected and buttons_of(case) == ["Reply", "Canned", "Note", "Notes", "Transfer", "Release", "Close"]
    assert {"type": "code", "offset": len("Request "), "length": len(code)} in case.entities  # one tap copies it

    # Reply: a prompt bound to the case; the reply to it reaches the person, and its case is confirmed under it.
    await vera.press("Reply", case.message_id)
    asked = vera.last_from_bot()
    assert asked is not None and asked.forces_reply and asked.text == f"Write to {code}: reply to this message."
    sent = await vera.reply(asked.message_id, "Yes. Are you safe right now?")
    assert person.last().endswith(":\nYes. Are you safe right now?")
    (confirmed,) = confirmations(vera, code)
    assert confirmed.text == f"→ {code} ✓" and confirmed.reply_to == sent.message_id
    assert {"type": "code", "offset": 2, "length": len(code)} in confirmed.entities

    # Note: a prompt too; what is written is kept as a note, and a sticker is not a note.
    await vera.press("Note", case.message_id)
    note_prompt = prompt(vera, "A private note on")
    await vera.send_sticker(reply_to=note_prompt.message_id)
    assert vera.last() == "Please write it as text: a note, a handover note or a goodbye cannot be a file or a sticker."
    await vera.reply(note_prompt.message_id, "calls back after six")
    assert vera.last() == "Note saved (encrypted)."
    await vera.press("Notes", case.message_id)
    assert vera.last().startswith(f"Notes on {code}") and "calls back after six" in vera.last()

    # Close: the outcome, then the goodbye in the person's language, said so, and sent before the close.
    await vera.press("Close", case.message_id)
    await vera.press("Helped to leave")
    preview = vera.last()
    goodbye = h.translate("We are glad we could help you get out. Take care of yourself.", "uk")
    assert preview == (
        f"{code} · Helped to leave\nThis goodbye goes to the person in Ukrainian, then the request closes:\n\n{goodbye}"
    )
    assert vera.buttons() == ["Send and close", "Write my own", "Close without a message"]
    await vera.press("Send and close")
    assert vera.last() == f"{code} is closed. Thank you.\nYour goodbye goes to the person in Ukrainian."
    said = [m.text for m in person.visible() if m.from_bot][-2:]
    assert said[0].endswith(f":\n{goodbye}")  # the goodbye, signed by the volunteer, then the bot's one line
    assert said[1].startswith(h.translate("Your request {code} is closed.", "uk").format(code=code))
    assert await request_field(h, code, "outcome") == "left"
    # The case left the volunteer's chat: its card, prompts, notes, what they wrote, the confirmation.
    assert mentioning(vera, "Are you safe", "calls back after six", "Ви тут") == []
    assert not [m for m in vera.visible() if m.forces_reply or m.text.startswith(f"→ {code}")]


async def test_a_transfer_with_a_handover_note_brings_the_conversation_along(harness: Harness) -> None:
    h = harness
    d = await desk(h, description="we are near the border")
    vera, ivan, person, code, case = d.vera, d.ivan, d.person, d.code, d.case
    await person.send("I am at the station")
    await person.send_photo(caption="the ticket")
    await vera.press("Reply", case.message_id)
    await vera.reply(prompt(vera, "Write to").message_id, "Stay there, someone will write.")

    ivan_name = await pseudonym_of(h, 2002)
    await vera.press("Transfer", case.message_id)
    await vera.press(ivan_name, translate=False)
    assert vera.last().startswith(f"A handover note on {code} for {ivan_name}")
    assert vera.can_press("Hand over without a note")
    await vera.reply(prompt(vera, "A handover note on").message_id, "Needs a ticket to Almaty; calm, careful.")
    assert vera.last() == f"{code} is now with {ivan_name}."

    # The transferee: the note on top, the card with its buttons, then the conversation so far; all protected.
    note, card_, talk = [m for m in ivan.visible() if m.from_bot and code in m.text][-3:]
    assert note.text.startswith(f"📌 Handover note on {code} from {await pseudonym_of(h, 2001)}")
    assert "Needs a ticket to Almaty" in note.text
    assert card_.text.startswith(f"Transferred to you: request {code}") and "near the border" in card_.text
    assert buttons_of(card_)[:2] == ["Reply", "Canned"]
    assert talk.text.startswith(f"The conversation so far on {code}")
    assert "I am at the station" in talk.text and "[photo] the ticket" in talk.text
    assert "Stay there, someone will write." in talk.text
    assert all(m.protected for m in (note, card_, talk))
    # The person is told, in their words, who writes from now on.
    assert person.last() == (
        f"Your request is now with another volunteer, Volunteer {ivan_name}.\nYou can go on writing here."
    )
    # The former holder's chat keeps nothing of it: not the conversation, not the note, not the prompts.
    assert mentioning(vera, "station", "ticket", "Stay there", "Almaty", "near the border") == []
    assert not [m for m in vera.visible() if m.forces_reply]
    # The new holder answers from the relayed card as from anything else of the case.
    await ivan.press("Reply", card_.message_id)
    await ivan.reply(prompt(ivan, "Write to").message_id, "Hello, I am taking over.")
    assert person.last().endswith(":\nHello, I am taking over.") and ivan_name in person.last()


async def test_a_release_with_a_note_reaches_whoever_claims_it_next(harness: Harness) -> None:
    h = harness
    d = await desk(h)
    vera, ivan, person, code, case = d.vera, d.ivan, d.person, d.code, d.case
    await person.send("hello?")
    await vera.press("Release", case.message_id)
    assert vera.can_press("Release without a note")
    await vera.reply(prompt(vera, "for whoever takes it next").message_id, "Answered once; prefers evenings.")
    assert vera.last() == f"{code} is back in the queue."
    assert mentioning(vera, "prefers evenings", "hello?") == []

    await claimed_by_button(h, ivan, code)
    note, card_, talk = [m for m in ivan.visible() if m.from_bot and code in m.text][-3:]
    assert "prefers evenings" in note.text and card_.text.startswith(f"Request {code}")
    assert "hello?" in talk.text
    assert person.last().startswith("Your request is now with another volunteer")
    # /show brings the note up again with the card; a case with no note shows none.
    await ivan.send(f"/show {code}")
    assert "prefers evenings" in [m.text for m in ivan.visible()][-2]


async def test_a_lease_expiry_still_hands_on_the_conversation(harness: Harness) -> None:
    h = harness
    d = await desk(h)
    ivan, person, code = d.ivan, d.person, d.code
    await person.send("first words")
    clock.travel(h.app.policy.claim_lease + timedelta(minutes=11))
    await h.run_jobs()
    assert await request_field(h, code, "status") == "new"
    await claimed_by_button(h, ivan, code)
    talk = [m for m in ivan.visible() if m.text.startswith(f"The conversation so far on {code}")]
    assert talk and "first words" in talk[-1].text
    assert not [m for m in ivan.visible() if "Handover note" in m.text]


async def test_closing_with_an_own_goodbye_or_none(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    first, second = h.person(1001), h.person(1002, language_code="ru")
    one, two = await submit(first), await submit(second)
    for code in (one, two):
        await claimed_by_button(h, vera, code)

    await vera.press("Close", full_card(vera, one).message_id)
    await vera.press("No response")
    await vera.press("Write my own")
    asked = prompt(vera, "Your own goodbye to")
    assert asked.forces_reply
    await vera.reply(asked.message_id, "Write again whenever you need to.")
    assert vera.last() == f"{one} is closed. Thank you.\nYour goodbye goes to the person in English."
    assert [m.text for m in first.visible()][-2].endswith(":\nWrite again whenever you need to.")

    await vera.press("Close", full_card(vera, two).message_id)
    await vera.press("Duplicate")
    assert "на русском" not in vera.last() and "in Russian" in vera.last()  # told in the volunteer's language
    await vera.press("Close without a message")
    assert vera.last() == f"{two} is closed. Thank you."
    assert second.last().startswith(h.translate("Your request {code} is closed.", "ru").format(code=two))
    assert not [t for t in second.texts() if ":\n" in t]  # nothing signed by the volunteer: no goodbye


async def test_a_blocked_persons_case_closes_without_a_goodbye(harness: Harness) -> None:
    h = harness
    d = await desk(h)
    vera, person, code, case = d.vera, d.person, d.code, d.case
    await d.boss.send(f"/block {code}")
    seen = person.texts()
    await vera.press("Close", case.message_id)
    await vera.press("Suspicious")
    assert vera.last() == f"{code} is closed. Thank you."
    assert person.texts() == seen


async def test_nobody_but_the_holder_gets_anything_from_a_cases_buttons(harness: Harness) -> None:
    h = harness
    d = await desk(h)
    vera, ivan, person, code, case = d.vera, d.ivan, d.person, d.code, d.case
    await person.send("only for vera")
    ivan_id = "0" * 32
    forged = [
        *(CaseAction(do=do, code=code).pack() for do in CaseDo),
        CannedSend(code=code, key="safety").pack(),
        Handover(code=code).pack(),
        Handover(code=code, to=ivan_id).pack(),
        CloseOutcome(code=code, outcome="left").pack(),
        GoodbyeChoice(code=code, outcome="left", how=Farewell.SEND).pack(),
        GoodbyeChoice(code=code, outcome="left", how=Farewell.NONE).pack(),
        ConversationPageCb(code=code, page=0).pack(),
        TransferTo(code=code, to=ivan_id).pack(),
    ]
    anchor = ivan.last_from_bot()
    assert anchor is not None
    before = len(ivan.all_messages())
    for data in forged:
        pressed = await ivan.press_data(anchor.message_id, data)
        assert pressed.answer.text == NOT_YOURS and pressed.answer.show_alert, data
    assert len(ivan.all_messages()) == before  # not one message more: no prompt, no list, no note
    assert await request_field(h, code, "status") == "claimed"
    assert mentioning(ivan, "only for vera") == []
    # The holder's own buttons, once the case left her, are anyone's buttons.
    await vera.press("Release", case.message_id)
    await vera.press("Release without a note")
    for data in (CaseAction(do=CaseDo.REPLY, code=code).pack(), CaseAction(do=CaseDo.CLOSE, code=code).pack()):
        anchor = vera.last_from_bot()
        assert anchor is not None
        pressed = await vera.press_data(anchor.message_id, data)
        assert pressed.answer.text == NOT_YOURS


def test_every_callback_fits_telegrams_64_bytes() -> None:
    longest = [
        *(CaseAction(do=do, code=LONGEST_CODE).pack() for do in CaseDo),
        CannedSend(code=LONGEST_CODE, key="k" * 32).pack(),
        Handover(code=LONGEST_CODE, to="f" * 32).pack(),
        TransferTo(code=LONGEST_CODE, to="f" * 32).pack(),
        GoodbyeChoice(code=LONGEST_CODE, outcome="no_response", how=Farewell.NONE).pack(),
        CloseOutcome(code=LONGEST_CODE, outcome="no_response").pack(),
        ConversationPageCb(code=LONGEST_CODE, page=99).pack(),
    ]
    assert max(len(data.encode()) for data in longest) <= 64, longest


async def test_mine_puts_the_longest_waiting_first_with_its_count(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    people = [h.person(1001 + n) for n in range(3)]
    codes = [await submit(person) for person in people]
    await people[1].send("first, before anyone took it")  # waits from now, claimed or not
    clock.travel(timedelta(hours=2))
    for code in codes:
        await vera.send(f"/claim {code}")
    await people[0].send("one")
    await people[0].send("two")
    clock.travel(timedelta(hours=1))
    await people[1].send("again")

    await vera.send("/mine")
    rows = [m for m in vera.visible() if m.from_bot][-4:]
    assert rows[0].text == "You hold 3 requests. The people waiting longest for an answer come first."
    assert [m.text for m in rows[1:]] == [
        f"{codes[1]} · It has to be solved this week · waiting 3 h · 2 unanswered",
        f"{codes[0]} · It has to be solved this week · waiting 1 h · 2 unanswered",
        f"{codes[2]} · It has to be solved this week · nothing unanswered",
    ]
    assert all(buttons_of(row) == buttons_of(rows[1]) and "Reply" in buttons_of(row) for row in rows[1:])
    # Answering the person clears their count; the row's buttons act on that row's case.
    await vera.press("Reply", rows[1].message_id)
    await vera.reply(prompt(vera, f"Write to {codes[1]}").message_id, "Here, reading you.")
    assert people[1].last().endswith("Here, reading you.")
    assert await request_field(h, codes[1], "unanswered") == 0
    await vera.send("/mine")
    assert [m.text for m in vera.visible() if m.from_bot][
        -3
    ] == f"{codes[0]} · It has to be solved this week · waiting 1 h · 2 unanswered"


async def test_canned_replies_show_their_texts_and_fall_back_russian_and_ukrainian_first(harness: Harness) -> None:
    h = harness
    boss, vera = await team(h, 2001)
    await boss.send("/canned add safety")
    await boss.send("Удалите эту переписку после прочтения.")
    await boss.send("/skip")  # no Ukrainian text
    await boss.send("Delete this conversation after reading.")
    await vera.send("/canned")
    listing = vera.last()
    assert "#safety · Русский, English" in listing and "Delete this conversation after reading." in listing

    person = h.person(1001, language_code="uk")
    code = await submit(person)
    case = await claimed_by_button(h, vera, code)
    await vera.press("Canned", case.message_id)
    offer = vera.last()
    assert offer.startswith(f"Canned replies for {code}, in Ukrainian where there is one.")
    assert "#safety · in Russian\nУдалите эту переписку после прочтения." in offer  # a Ukrainian reader: Russian
    await vera.press("#safety", translate=False)
    assert person.last().endswith(":\nУдалите эту переписку после прочтения.")
    assert vera.last() == f"→ {code} ✓ · canned reply, sent in Russian"

    # Typed: "#key" and a personal line of one's own.
    await vera.send(f"/reply {code} #safety Я на связи до вечера.")
    assert person.last().endswith(":\nУдалите эту переписку после прочтения.\n\nЯ на связи до вечера.")
    await vera.send(f"/reply {code} #nope")
    assert vera.last() == "There is no canned reply with that key. /canned lists them."


async def test_the_kept_conversation_is_bounded(tmp_path: Path) -> None:
    async with harness_with(tmp_path / "data", throttle_per_minute=500) as h:  # a person who writes a lot, quickly
        await _bounded(h)


async def _bounded(h: Harness) -> None:
    boss, vera = await team(h, 2001)
    person = h.person(1001)
    code = await claimed_case(vera, person)
    for n in range(KEPT_MESSAGES + 5):
        await person.send(f"message {n}: " + "по дороге " * 12, wait=False)  # 50 of them take three pages
    await h.settle()
    assert await count_rows(h, "case_messages") == KEPT_MESSAGES  # the five oldest went
    await vera.send(f"/release {code}")
    await vera.press("Release without a note")
    ivan = await join(h, boss, 2002)
    await ivan.send(f"/claim {code}")
    talk = [m for m in ivan.visible() if m.text.startswith(f"The conversation so far on {code}")][-1]
    assert "message 54:" in talk.text and "message 4:" not in talk.text and utf16_len(talk.text) <= 4096
    assert talk.buttons == [["«"]]  # the newest page first; older ones a press away
    await ivan.press("«", talk.message_id)
    assert "message 54:" not in ivan.message(talk.message_id).text


async def test_an_escalation_carries_a_claim_button(harness: Harness) -> None:
    h = harness
    boss = await admin(h)
    cora = await join(h, boss, 3001, "coordinator")
    person = h.person(1001)
    code = await submit(person, IntakeAnswers(urgency=DANGER))
    clock.travel(timedelta(minutes=61))
    await h.run_jobs()
    escalation = next(m for m in cora.visible() if m.text.startswith(f"⚠️ {code} is urgent"))
    assert buttons_of(escalation) == ["Claim"]
    await cora.press("Claim", escalation.message_id)
    assert full_card(cora, code).text.startswith(f"Request {code}")
    assert cora.message(escalation.message_id).text == f"{code} has been claimed by a volunteer."
    assert person.last().startswith("A volunteer has taken your request")


async def test_what_a_volunteer_writes_wrong_gets_a_clear_answer_and_nothing_is_lost(harness: Harness) -> None:
    """Too long a note or handover note is refused and the case stays; a long message goes out in parts; a prompt
    outlives a restart; the same reply delivered twice by Telegram is one note."""
    h = harness
    d = await desk(h)
    vera, person, code, case = d.vera, d.person, d.code, d.case

    await vera.press("Note", case.message_id)
    await vera.reply(prompt(vera, "A private note on").message_id, "n" * 10_000)
    assert vera.last() == "That is too long: at most 3000 characters."
    await vera.press("Release", case.message_id)
    await vera.reply(prompt(vera, "for whoever takes it next").message_id, "h" * 3_001)
    assert vera.last() == "That is too long: at most 3000 characters."
    assert await request_field(h, code, "status") == "claimed"

    await vera.press("Reply", case.message_id)
    await vera.reply(prompt(vera, "Write to").message_id, "ж" * 10_000)
    parts = [t for t in person.texts() if "жжж" in t]
    assert len(parts) == 3 and sum(t.count("ж") for t in parts) == 10_000
    assert all(utf16_len(t) <= 4096 for t in parts)
    assert len(confirmations(vera, code)) == 1  # one message, one "→ ✓"

    # A prompt is remembered with the case: a new process binds the reply to it all the same.
    await vera.press("Note", case.message_id)
    asked = prompt(vera, "A private note on")
    h = await restart(h)
    answered = await vera.reply(asked.message_id, "after the restart")
    assert vera.last() == "Note saved (encrypted)."
    await h.client.deliver_again(answered.update)  # Telegram delivers it once more: still one note
    await h.settle()
    await vera.send(f"/notes {code}")
    assert vera.last().count("after the restart") == 1
    await h.close()


def test_every_screen_fits_one_telegram_message() -> None:
    """The longest of each, in every language: what Telegram would refuse must not be built."""
    long_texts = [
        CannedText(("k" * 31) + str(n % 10), "ru", "я" * 3000, ("ru", "uk", "en")) for n in range(CANNED_BUTTONS + 5)
    ]
    kept = [
        KeptMessage(clock.now(), "requester", None, "ё" * 4096, None, False),
        KeptMessage(clock.now(), "volunteer", "V" * 32, "ё" * 4096, "photo", True),
    ] * 25
    mine = [LONGEST_CODE] * 500
    i18n = create_i18n()
    for language in ("ru", "uk", "en"):
        with i18n.context(), i18n.use_locale(language):
            view = case_views.canned_for_case(LONGEST_CODE, "uk", long_texts)
            assert utf16_len(view.text.as_kwargs()["text"]) <= 4096
            assert view.markup is not None and sum(map(len, view.markup.inline_keyboard)) <= 100
            for page in range(len(long_texts)):
                text, _ = volunteer_views.canned_view(long_texts, page)
                assert utf16_len(text.as_kwargs()["text"]) <= 4096
            for page in range(len(case_views.conversation_pages(kept))):
                text, _ = case_views.conversation_view(LONGEST_CODE, kept, page)
                assert utf16_len(text.as_kwargs()["text"]) <= 4096
            note = case_views.handover_note(LONGEST_CODE, "V" * 32, "2026-12-08 18:00 UTC", "ю" * 3000)
            assert utf16_len(note.as_kwargs()["text"]) <= 4096
            assert utf16_len(case_views.mine_more(mine).as_kwargs()["text"]) <= 4096
            assert len(case_views.force_reply(LONGEST_CODE).input_field_placeholder or "") <= 64
            admin = VolunteerRecord("0" * 32, Role.ADMIN, language, True, "V" * 32, clock.now())
            assert utf16_len(volunteer_views.volunteer_help(admin).as_kwargs()["text"]) <= 4096  # the longest /help

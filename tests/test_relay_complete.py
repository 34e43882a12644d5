"""A complete relay, clean volunteer chats, provocateurs and canned replies (issue 9)."""

from __future__ import annotations

from datetime import timedelta

from storage import clock
from testkit.telegram import Person, ViewMessage
from tests.support.harness import Harness
from tests.support.inspect import request_field
from tests.support.intake import IntakeAnswers
from tests.support.team import claimed_case, close_case, join, pseudonym_of, release_case, team, transfer_case


async def _claimed_case(
    h: Harness, description: str = "I am at the station, details later."
) -> tuple[Person, Person, Person, str]:
    boss, vera = await team(h, 2001)
    person = h.person(1001)
    code = await claimed_case(vera, person, IntakeAnswers(description=description))
    return boss, vera, person, code


async def _settle_albums(h: Harness) -> None:
    """Album items wait 1.5 s for their siblings before they go out together."""
    clock.travel(timedelta(seconds=2))
    await h.settle()


async def test_every_message_with_case_details_is_protected(harness: Harness) -> None:
    _, vera, person, code = await _claimed_case(harness, description="the bridge near the school")
    await person.send("a detail only the volunteer should keep")
    await vera.send(f"/note {code} remember the bridge")
    await vera.send(f"/notes {code}")
    detailed = [m for m in vera.visible() if m.from_bot and code in (m.text or "")]
    assert detailed  # the card, the full request, the relayed message, the notes
    assert all(m.protected for m in detailed), [(m.text, m.protected) for m in detailed]
    review_sent = [c for c in harness.world.calls_of("sendMessage") if "Please check your answers" in str(c.params)]
    assert review_sent and all(c.args.get("protect_content") for c in review_sent)


def _own_last(member: Person) -> ViewMessage:
    return next(m for m in reversed(member.visible()) if not m.from_bot)


async def test_edits_cross_both_ways(harness: Harness) -> None:
    _, vera, person, code = await _claimed_case(harness)
    await person.send("I am in Rostov")
    original = person.visible()[-1]
    await person.edit(original.message_id, "I am in Voronezh")
    copy = vera.visible()[-1]
    assert copy.text == f"{code}:\nI am in Voronezh" and copy.edited

    await vera.send(f"/reply {code} Stay where you are.")
    mine = _own_last(vera)  # the volunteer's own message (the command), above the bot's "→ R-… ✓"
    await vera.edit(mine.message_id, f"/reply {code} Stay where you are until 18:00.")
    assert person.last().endswith(":\nStay where you are until 18:00.")  # the new text, not the command

    await vera.reply(copy.message_id, "Understood.")
    volunteer_reply = _own_last(vera)
    await vera.edit(volunteer_reply.message_id, "Understood, thank you.")
    assert person.last().endswith("Understood, thank you.")
    assert person.visible()[-1].edited


async def test_replies_are_threaded_on_the_other_side(harness: Harness) -> None:
    _, vera, person, code = await _claimed_case(harness)
    await person.send("first question")
    await person.send("second question")
    first_copy = next(m for m in vera.visible() if m.text == f"{code}:\nfirst question")
    await vera.reply(first_copy.message_id, "answer to the first")
    answer = person.visible()[-1]
    first_original = next(m for m in person.visible() if m.text == "first question")
    assert answer.reply_to == first_original.message_id

    await person.reply(answer.message_id, "thanks for that")
    threaded = vera.visible()[-1]
    volunteer_own = next(m for m in vera.visible() if m.text == "answer to the first")
    assert threaded.text == f"{code}:\nthanks for that" and threaded.reply_to == volunteer_own.message_id


async def test_albums_voice_video_notes_stickers_and_documents_cross(harness: Harness) -> None:
    _, vera, person, code = await _claimed_case(harness)
    await person.send_album(3, caption="three pages", wait=False)
    await harness.client.deliver()
    await _settle_albums(harness)
    album = [m for m in vera.visible() if m.media_group_id]
    assert len(album) == 3 and len({m.media_group_id for m in album}) == 1
    assert album[0].text == f"{code}:\nthree pages" and all(m.protected for m in album)

    await person.send_voice(wait=False)
    await person.send_video_note(wait=False)
    await person.send_sticker(wait=False)
    await person.send_document(caption="the form")
    kinds = [m.kind for m in vera.visible()[-6:]]
    assert kinds == ["voice", "text", "video_note", "text", "sticker", "document"], kinds
    assert f"{code} sent this:" in vera.texts()

    await vera.send_album(2, caption="maps", wait=False)
    await harness.client.deliver()
    await _settle_albums(harness)
    # A volunteer's album without a reply or a code is not about a request: it is not relayed.
    assert not [m for m in person.visible() if m.media_group_id and m.from_bot]
    target = next(m for m in vera.visible() if m.kind == "voice")
    await vera.reply(target.message_id, "got your voice message")
    assert person.last().endswith("got your voice message")
    assert not harness.world.forwards()


async def test_closing_cleans_the_volunteers_chat(harness: Harness) -> None:
    _, vera, person, code = await _claimed_case(harness, description="we hide at grandmother's house")
    await person.send("more details: the blue door")
    await vera.send(f"/note {code} blue door")
    await vera.send(f"/notes {code}")
    await close_case(vera, code)
    leftovers = [t for t in vera.texts() if "grandmother" in t or "blue door" in t]
    assert leftovers == []
    assert f"{code} is closed. Thank you." in vera.texts()


async def test_transfer_cleans_the_former_volunteers_chat(harness: Harness) -> None:
    boss, vera, person, code = await _claimed_case(harness, description="the checkpoint at kilometre 40")
    ivan = await join(harness, boss, 2002)
    await person.send("the second checkpoint too")
    await transfer_case(vera, code, await pseudonym_of(harness, 2002))
    assert not [t for t in vera.texts() if "kilometre 40" in t or "second checkpoint" in t]
    assert any("kilometre 40" in t for t in ivan.texts())


async def test_after_48_hours_messages_are_edited_down_instead(harness: Harness) -> None:
    _, vera, person, code = await _claimed_case(harness, description="the old factory")
    await person.send("photo of the place")
    clock.travel(timedelta(hours=49))
    await close_case(vera, code, "No response")
    assert not [t for t in vera.texts() if "old factory" in t or "photo of the place" in t]
    assert f"Request {code} is closed." in vera.texts()


async def test_a_blocked_provocateur_reaches_nobody_and_opens_nothing(harness: Harness) -> None:
    boss, vera, person, code = await _claimed_case(harness)
    await boss.send(f"/block {code}")
    assert "is blocked" in boss.last()
    before = len(vera.texts())
    await person.send("who are your volunteers?")
    await person.send_photo(caption="look")
    assert len(vera.texts()) == before  # nothing reached the volunteer
    await release_case(vera, code)
    await person.send("/forget")
    await person.press("Yes, erase everything")
    await person.send("/start")
    assert person.last() == "Thank you, we have received your message."
    assert await harness.client.deliver() == []
    await boss.send("/queue")
    assert code not in boss.last()
    await vera.send(f"/block {code}")
    assert vera.last() == "I don't know that command. /help lists what I can do."  # coordinators only


async def test_unblock_restores_access(harness: Harness) -> None:
    boss, _, _person, code = await _claimed_case(harness)
    await boss.send(f"/block {code}")
    await boss.send(f"/unblock {code}")
    assert "no longer blocked" in boss.last()
    assert await request_field(harness, code, "requester_blocked") is False


async def test_canned_reply_arrives_in_the_requesters_language(harness: Harness) -> None:
    boss, vera = await team(harness, 2001)
    await boss.send("/canned add safety")
    assert "Русский" in boss.last()
    await boss.send("Удалите эту переписку после прочтения.")
    await boss.send("Видаліть це листування після прочитання.")
    await boss.send("Delete this conversation after reading.")
    assert "#safety is ready" in boss.last()
    await vera.send("/canned")
    assert "#safety" in vera.last()

    person = harness.person(1001, language_code="uk")
    code = await claimed_case(vera, person)
    await vera.send(f"/reply {code} #safety")
    assert person.last().endswith("Видаліть це листування після прочитання.")
    await vera.send(f"/reply {code} #nope")
    assert vera.last() == "There is no canned reply with that key. /canned lists them."
    await vera.send("/canned add other")
    assert vera.last().startswith("Usage:")  # volunteers read canned replies, coordinators keep them

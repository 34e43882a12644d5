"""A block is total: nobody can take, answer, hand on or reopen a blocked person's requests, an intake they
are in ends at their next step, and nothing tells them anything new (issue 16, point 2)."""

from __future__ import annotations

from testkit.telegram import Person
from tests.support.harness import Harness
from tests.support.inspect import count_rows, request_field
from tests.support.intake import MYSELF, THIS_WEEK, reach_review, submit, through_consent
from tests.support.team import admin, claimed_case, close_case, join, pseudonym_of, release_case, team

POLITE = "Thank you, we have received your message."
BLOCKED = "A coordinator blocked this person: their request can no longer be taken, answered, handed on or reopened."


def _seen_by(person: Person) -> list[tuple[int, str]]:
    """What the bot shows the person: every message of theirs from the bot, by id."""
    return [(m.message_id, m.text) for m in person.visible() if m.from_bot]


async def test_nobody_can_claim_answer_hand_on_or_reopen_a_blocked_persons_request(harness_any_db: Harness) -> None:
    h = harness_any_db
    boss = await admin(h)
    cora = await join(h, boss, 3001, "coordinator")
    vera = await join(h, boss, 2001)
    ivan = await join(h, boss, 2002)
    person = h.person(1001)
    code = await claimed_case(vera, person)
    seen = _seen_by(person)

    await cora.send(f"/block {code}")
    assert cora.last().startswith(f"{code}: the person is blocked.")
    assert (
        f"{code}: a coordinator blocked this person. Your messages no longer reach them, and theirs no longer "
        "reach you. Close the request when you are ready."
    ) in vera.texts()

    await vera.send(f"/reply {code} Are you still there?")
    assert vera.last() == BLOCKED
    await vera.send(f"/transfer {code}")
    assert vera.last() == BLOCKED
    await person.send("hello? who is reading this?")
    assert not [t for t in vera.texts() if "who is reading this" in t]
    await vera.send(f"/close {code}")
    await vera.press("Suspicious")
    assert vera.last() == f"{code} is closed. Thank you."
    await cora.send(f"/reopen {code}")
    assert cora.last() == BLOCKED
    await ivan.send(f"/claim {code}")
    assert ivan.last() == BLOCKED
    assert await request_field(h, code, "status") == "closed"

    # The person was told nothing new: not the volunteer's attempt, not the close.
    assert _seen_by(person) == seen
    await person.send("/start")
    assert person.last() == POLITE


async def test_a_held_request_released_after_a_block_stays_out_of_the_queue(harness: Harness) -> None:
    h = harness
    boss, vera, ivan = await team(h, 2001, 2002)
    code = await claimed_case(vera, h.person(1001))
    await boss.send(f"/block {code}")
    cards_before = [t for t in ivan.texts() if code in t]
    await release_case(vera, code)
    assert [t for t in ivan.texts() if code in t] == cards_before  # no new card offers it
    await ivan.send("/queue")
    assert ivan.last() == "The queue is empty."
    await ivan.send(f"/claim {code}")
    assert ivan.last() == BLOCKED

    await boss.send(f"/unblock {code}")
    assert any(t.startswith(f"🆕 New request {code}") for t in ivan.texts())  # back in the queue, announced
    await ivan.send(f"/claim {code}")
    assert any(t.startswith(f"Request {code}\n") for t in ivan.texts())


async def test_messages_queued_for_a_person_are_never_sent_once_they_are_blocked(harness: Harness) -> None:
    h = harness
    boss, vera = await team(h, 2001)
    person = h.person(1001)
    code = await submit(person)
    h.world.inject(method="sendMessage", kind="500", times=1)  # the "claimed" notice waits for a retry
    await vera.send(f"/claim {code}")
    seen = _seen_by(person)
    await boss.send(f"/block {code}")
    await h.settle()
    assert _seen_by(person) == seen  # not told a volunteer took it, nor the volunteer's pseudonym
    name = await pseudonym_of(h, 2001)
    assert not any(name in text for _, text in _seen_by(person))
    assert await count_rows(h, "outbox") == 0


async def _closed_before(h: Harness) -> tuple[Person, Person, Person, str]:
    """The admin, a volunteer, and a person whose earlier request that volunteer closed: its code last."""
    boss, vera = await team(h, 2001)
    person = h.person(1001)
    old = await claimed_case(vera, person)
    await close_case(vera, old, "No response")
    return boss, vera, person, old


async def test_an_intake_open_when_the_block_lands_ends_quietly(harness: Harness) -> None:
    h = harness
    boss, vera, person, old = await _closed_before(h)
    cards_before = len(vera.texts())

    await through_consent(person)  # a new intake, while their earlier request is closed
    await person.press(MYSELF)
    await boss.send(f"/block {old}")
    await person.press(THIS_WEEK)  # their next step

    visible = [m for m in person.visible() if m.from_bot]
    assert visible[-1].text == POLITE
    assert not any(m.text.startswith(("How urgent is it?", "What is your situation")) for m in visible)
    assert await count_rows(h, "fsm_state") == 0
    assert await count_rows(h, "requests") == 1
    await person.send("/start")
    assert person.last() == POLITE
    assert len(vera.texts()) == cards_before  # no card went out


async def test_a_blocked_persons_review_submit_ends_the_intake(harness: Harness) -> None:
    h = harness
    boss, vera, person, old = await _closed_before(h)
    await reach_review(person)
    await boss.send(f"/block {old}")
    await person.press("Submit")
    assert person.last() == POLITE
    assert not [m for m in person.visible() if (m.text or "").startswith("Please check your answers")]
    assert await count_rows(h, "requests") == 1
    assert not [t for t in vera.texts() if t.startswith("🆕")]  # no card went out

"""When a case leaves a volunteer, and when a volunteer leaves the team, the bot takes back what it showed.

An admin revoking an infiltrator, a volunteer letting a case go, a lease running out: each time the
volunteer's chat is scrubbed in the transaction that ends the access, and what cannot be delivered ends
as a recorded dead letter after bounded retries, never a row retried forever (issue 16, point 1).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.delivery import MAX_ATTEMPTS
from services.context import Services
from storage import clock
from storage.models import OutboxMessage
from testkit.telegram import Person
from tests.support.canary import canary
from tests.support.harness import Harness, harness_with, start_harness
from tests.support.inspect import count_rows, request_field
from tests.support.intake import IntakeAnswers, reach_review, submit
from tests.support.team import (
    claimed_case,
    close_case,
    mentioning,
    pseudonym_of,
    release_case,
    revoke,
    team,
    transfer_case,
)

UNKNOWN = "I don't know that command. /help lists what I can do."


def _card(member: Person, code: str) -> int:
    for message in reversed(member.visible()):
        if code in (message.text or "") and message.buttons:
            return message.message_id
    raise AssertionError(f"no card for {code} in {member.texts()}")


def _bot_lines_about(member: Person, *codes: str) -> list[str]:
    return [m.text for m in member.visible() if m.from_bot and any(code in m.text for code in codes)]


async def _outbox(h: Harness) -> list[tuple[str, str | None]]:
    async with h.runtime.db.transaction() as session:
        rows = await session.execute(select(OutboxMessage.purpose, OutboxMessage.failed_reason))
        return [(purpose, reason) for purpose, reason in rows]


async def test_revoking_an_infiltrator_scrubs_their_chat_first(harness_any_db: Harness) -> None:
    h = harness_any_db
    boss, mole, ivan = await team(h, 2001, 2002)
    described, told, noted = canary("described"), canary("told"), canary("noted")
    person = h.person(1001)
    held = await submit(person, IntakeAnswers(description=f"We hide near {described}"))
    waiting = await submit(h.person(1002))  # only its triage card reaches the mole
    await mole.send(f"/claim {held}")
    await person.send(f"the address is {told}")
    await mole.send(f"/reply {held} Stay where you are.")
    await mole.send(f"/note {held} {noted}")
    await mole.send(f"/notes {held}")
    assert mentioning(mole, described) and mentioning(mole, told) and mentioning(mole, noted)
    assert _card(mole, waiting)

    await revoke(h, boss, mole)

    # Nothing of either case is left in the infiltrator's chat: cards, the request, the relay, the notes,
    # and their own messages quoting them.
    assert mentioning(mole, described, told, noted, "Stay where you are") == []
    assert _bot_lines_about(mole, held, waiting) == []
    name = await pseudonym_of(h, 2001)
    assert any(t.startswith(f"{name} is no longer on the team.") for t in boss.texts())
    assert await request_field(h, held, "status") == "new"
    assert _card(ivan, held)  # back in the queue for everyone else
    assert await count_rows(h, "outbox") == 0  # every removal went out; nothing waits to be retried
    await mole.send(f"/show {held}")
    assert mole.last() == UNKNOWN

    # A message someone queued for them meanwhile ends as a dead letter at once, not retried each minute.
    async with h.runtime.db.transaction() as session:
        services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
        record = await services.requests.by_code(held)
        mole_record = await services.volunteers.by_telegram(2001, active_only=False)
        assert record is not None and mole_record is not None
        await services.outbox.put(
            recipient="volunteer",
            volunteer_id=mole_record.id,
            request_id=record.id,
            purpose="notice",
            payload={"kind": "flagged", "code": held, "by": "someone"},
        )
    before = len(mole.texts())
    await h.settle()
    assert await _outbox(h) == [("notice", "revoked")]
    assert len(mole.texts()) == before


async def test_a_revoked_volunteers_older_messages_are_edited_down(harness: Harness) -> None:
    h = harness
    boss, mole = await team(h, 2001)
    described = canary("described")
    held = await claimed_case(mole, h.person(1001), IntakeAnswers(description=described))
    clock.travel(timedelta(hours=49))  # past Telegram's 48 hours: the bot can no longer delete them
    await revoke(h, boss, mole)
    assert mentioning(mole, described) == []
    assert f"Request {held} is no longer available to you." in mole.texts()


async def test_a_scrub_telegram_refuses_is_a_dead_letter_and_the_admin_is_told(harness: Harness) -> None:
    h = harness
    boss, mole = await team(h, 2001)
    await claimed_case(mole, h.person(1001))
    clock.travel(timedelta(hours=49))  # some of it can only be edited down now, some still deleted
    await h.run_jobs()  # what a running bot did meanwhile (the requester's reconnect key went after a day)
    await submit(h.person(1002))
    h.world.inject(method="deleteMessages", kind="403", times=5)  # the infiltrator blocked the bot first
    h.world.inject(method="editMessageText", kind="403", times=5)
    await revoke(h, boss, mole)
    name = await pseudonym_of(h, 2001)
    warnings = [t for t in boss.texts() if t.startswith("⚠️ The bot could not remove")]
    assert warnings == [
        f"⚠️ The bot could not remove from {name}'s chat what it showed them (they blocked the bot). Ask them "
        "to delete their chat with the bot, and treat what it held as known to them."
    ]
    outbox = await _outbox(h)
    assert outbox and {reason for _, reason in outbox} == {"blocked"}  # recorded, and never retried
    clock.travel(timedelta(hours=1))
    await h.run_jobs()
    assert await _outbox(h) == outbox and len([t for t in boss.texts() if t.startswith("⚠️")]) == 1


@pytest.mark.parametrize("how", ["release", "transfer", "lease expiry", "close"])
async def test_every_way_a_case_leaves_a_volunteer_scrubs_their_chat(harness: Harness, how: str) -> None:
    h = harness
    _, vera, ivan = await team(h, 2001, 2002)
    described, told = canary("described"), canary("told")
    person = h.person(1001)
    code = await claimed_case(vera, person, IntakeAnswers(description=described))
    await person.send(told)
    await vera.send(f"/notes {code}")
    if how == "release":
        await release_case(vera, code)
    elif how == "transfer":
        await transfer_case(vera, code, await pseudonym_of(h, 2002))
        assert mentioning(ivan, described)
    elif how == "lease expiry":
        clock.travel(h.app.policy.claim_lease + timedelta(minutes=11))
        await h.run_jobs()
    else:
        await close_case(vera, code)
    assert mentioning(vera, described, told) == []
    # The request itself, a relayed message, the notes: gone, or (past 48 hours) edited down to one line.
    assert not [t for t in vera.texts() if t.startswith((f"Request {code}\n", f"{code}:\n", "Notes on"))]
    await vera.send(f"/show {code}")
    assert vera.last() == "This request is not in your hands."
    assert await count_rows(h, "outbox") == 0


async def test_a_removal_that_waited_past_48_hours_edits_instead(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    described = canary("described")
    code = await claimed_case(vera, h.person(1001), IntakeAnswers(description=described))
    h.world.inject(method="deleteMessages", kind="500", times=1_000)  # Telegram cannot delete for two days
    await release_case(vera, code)
    assert mentioning(vera, described)
    clock.travel(timedelta(hours=48))
    h.world.clear_faults()
    await h.settle()
    assert mentioning(vera, described) == []
    assert f"Request {code} went back to the queue." in vera.texts()
    assert await count_rows(h, "outbox") == 0


async def test_a_recipient_that_cannot_be_resolved_ends_as_a_dead_letter(tmp_path: Path) -> None:
    """A card queued for the volunteers' group, and the group setting removed before it went out: it is
    retried a bounded number of times, then recorded as failed."""
    group_id = -1001234567890
    h = await start_harness(tmp_path / "data", volunteer_chat_id=group_id)
    h.world.group(group_id, "Volunteers")
    person = h.person(1001)
    await reach_review(person)
    await person.press("Submit", wait=False)
    await h.client.deliver()  # committed, and the process stops before the outbox sends the card
    await h.close()
    async with harness_with(tmp_path / "data", h.world) as h:
        for _ in range(MAX_ATTEMPTS + 2):
            clock.travel(timedelta(minutes=6))
            await h.app.sender.drain()
        assert ("card", "gave_up") in await _outbox(h)
        assert all(reason is not None for _, reason in await _outbox(h))


async def test_revoking_someone_in_the_volunteers_group_tells_the_admin_what_the_bot_cannot_do(tmp_path: Path) -> None:
    group_id = -1001234567890
    async with harness_with(tmp_path / "data", volunteer_chat_id=group_id) as h:
        boss, mole = await team(h, 2001)
        group = h.world.group(group_id, "Volunteers", members=[boss, mole])
        described = canary("described")
        code = await submit(h.person(1001), IntakeAnswers(description=described))
        card = group.last_from_bot()
        assert card is not None
        await mole.in_chat(group).press("Claim", card.message_id)
        assert mentioning(mole, described)
        await revoke(h, boss, mole)
        assert mentioning(mole, described) == []
        assert "If they are in the volunteers' group, remove them there yourself: the bot cannot." in boss.last()
        assert code in (group.message(card.message_id).text or "")  # the group's own card line stays

"""The volunteer queue through the bot: invite, join, claim, relay, notes, close, and the rest."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.context import Services
from services.queue import QueueError
from storage import clock
from storage.kinds import Role
from storage.models import AuditEvent
from storage.volunteers import VolunteerRecord
from testkit.telegram import Person
from tests.support.harness import Harness, harness_with
from tests.support.inspect import audit_actions, count_rows, request_field
from tests.support.intake import DANGER, THIS_WEEK, IntakeAnswers, submit
from tests.support.team import admin, close_case, join, release_case, team, transfer_case

UNKNOWN = "I don't know that command. /help lists what I can do."
STALE = "That button belongs to an earlier message."


async def _case(h: Harness, user_id: int = 1001, **answers: Any) -> tuple[Person, str]:
    person = h.person(user_id, first_name="Alice Requesterova", username="alice_r")
    code = await submit(person, IntakeAnswers(**answers))
    return person, code


def _card(member: Person, code: str) -> int:
    for message in reversed(member.visible()):
        if code in (message.text or "") and message.buttons:
            return message.message_id
    raise AssertionError(f"no card for {code} in {member.texts()}")


async def test_a_case_from_claim_to_close(harness_any_db: Harness) -> None:
    h = harness_any_db
    _, vera = await team(h, 2001)
    person, code = await _case(h, description="We are near the border; details later.")

    card_id = _card(vera, code)
    card = vera.message(card_id)
    assert card.protected
    assert "border" not in (card.text or "")  # triage cards carry no free text

    await person.send("Are you there?")  # before anyone claimed it: kept, delivered on claim
    assert person.last() == "Saved. A volunteer will see it as soon as they take your request."

    await vera.press("Claim", card_id)
    full = [m for m in vera.visible() if m.text and m.text.startswith(f"Request {code}")]
    assert full and full[0].protected and "We are near the border" in (full[0].text or "")
    relayed = vera.visible()[-1]
    assert relayed.text == f"{code}:\nAre you there?" and relayed.protected
    assert vera.message(card_id).buttons == []  # the card lost its Claim button
    assert "A volunteer has taken your request" in person.last()

    await vera.reply(relayed.message_id, "Yes. Are you safe right now?")
    assert person.last().startswith("Volunteer ") and person.last().endswith(":\nYes. Are you safe right now?")

    await person.send("Yes, for now.")
    await vera.send(f"/reply {code} Good. Keep your phone charged.")
    assert person.last().endswith("Good. Keep your phone charged.")

    await person.send_photo(caption="the document")
    photo = vera.visible()[-1]
    assert photo.kind == "photo" and photo.text == f"{code}:\nthe document" and not h.world.forwards()

    await vera.reply(photo.message_id, "Thanks, got it.")
    assert person.last().endswith("Thanks, got it.")

    await vera.send(f"/note {code} Needs a lawyer in Almaty.")
    assert vera.last() == "Note saved (encrypted)."
    await vera.send(f"/notes {code}")
    assert "Needs a lawyer in Almaty." in vera.last()

    await close_case(vera, code)
    assert vera.last() == f"{code} is closed. Thank you."
    assert "is closed." in person.last()
    assert await request_field(h, code, "outcome") == "left"

    # Neither side ever saw the other's account, and nothing was forwarded.
    assert not h.world.forwards()
    assert not any("Alice" in t or "alice_r" in t or "1001" in t for t in vera.texts())
    assert not any("Volunteer 2001" in t or "2001" in t for t in person.texts())

    actions = await audit_actions(h, code)
    assert actions[:3] == ["submitted", "claimed", "read"]
    assert {"note_added", "notes_read", "closed"} <= set(actions)


async def test_claim_race_between_two_volunteers_in_a_group(tmp_path: object) -> None:
    from pathlib import Path

    from tests.support.harness import harness_with

    group_id = -1001234567890
    async with harness_with(Path(str(tmp_path)) / "g", volunteer_chat_id=group_id) as h:
        boss = await admin(h)
        vera, ivan = await join(h, boss, 2001), await join(h, boss, 2002)
        group = h.world.group(group_id, "Volunteers", members=[vera, ivan])
        _, code = await _case(h)
        card = group.last_from_bot()
        assert card is not None and code in (card.text or "") and card.protected
        first = await vera.in_chat(group).press("Claim", card.message_id, wait=False)
        second = await ivan.in_chat(group).press("Claim", card.message_id, wait=False)
        await h.settle()
        assert (first.answer.text or "").startswith("It is yours")
        assert second.answer.text == "Someone else has already taken this request."
        edited = group.message(card.message_id)
        assert edited.buttons == [] and "has been claimed" in (edited.text or "")
        assert any(t.startswith(f"Request {code}") for t in vera.texts())
        assert not any(t.startswith(f"Request {code}") for t in ivan.texts())


async def test_release_transfer_reopen(harness_any_db: Harness) -> None:
    h = harness_any_db
    boss = await admin(h)
    vera, ivan = await join(h, boss, 2001), await join(h, boss, 2002)
    _, code = await _case(h)
    await vera.send(f"/claim {code}")
    await ivan.send(f"/claim {code}")
    assert ivan.last() == "Someone else has already taken this request."

    await release_case(vera, code)
    assert vera.last() == f"{code} is back in the queue."
    assert _card(ivan, code)  # announced again
    await ivan.send(f"/claim {code}")
    assert any(t.startswith(f"Request {code}") for t in ivan.texts())

    await vera.send(f"/transfer {code}")
    assert vera.last() == "This request is not in your hands."
    await transfer_case(ivan, code, await _pseudonym(h, 2001))
    assert "is now with" in ivan.last()
    assert any(t.startswith(f"Transferred to you: request {code}") for t in vera.texts())
    assert await request_field(h, code, "status") == "claimed"

    await close_case(vera, code, "No response")
    # Reopening is a coordinator's step, and the case goes back to the queue, not to whoever closed it.
    await vera.send(f"/reopen {code}")
    assert vera.last() == UNKNOWN
    await boss.send(f"/reopen {code}")
    assert (
        f"{code} is open again and back in the queue; the volunteer who closed it has no access to it." in boss.texts()
    )
    assert await request_field(h, code, "status") == "new"
    assert _card(ivan, code)  # announced to the team again
    await vera.send(f"/notes {code}")
    assert vera.last() == "This request is not in your hands."
    await vera.send(f"/claim {code}")
    await vera.send(f"/notes {code}")
    assert vera.last() == f"No notes on {code} yet."
    await close_case(vera, code, "Duplicate")
    await _case(h, 1001)  # the same person writes again: only one request of theirs may be open
    await boss.send(f"/reopen {code}")
    assert boss.last() == "The person has another open request now, so this one cannot be reopened."


async def _pseudonym(h: Harness, user_id: int) -> str:
    async with h.runtime.db.transaction() as session:
        volunteer = await Services(session, h.runtime.vault, h.app.policy, h.app.events).volunteers.by_telegram(user_id)
    assert volunteer is not None
    return volunteer.pseudonym


async def test_pseudonym_is_what_requesters_see(harness: Harness) -> None:
    _, vera = await team(harness, 2001)
    await vera.send("/pseudonym Night Owl")
    assert vera.last() == "Requesters will now see you as Night Owl."
    await vera.send("/pseudonym <b>")
    assert vera.last() == "A pseudonym is 2 to 32 letters, digits, spaces or dashes."
    person, code = await _case(harness)
    await vera.send(f"/claim {code}")
    await vera.send(f"/reply {code} Hello")
    assert person.last() == "Volunteer Night Owl:\nHello"


async def test_lease_expiry_and_escalation(harness: Harness) -> None:
    boss = await admin(harness)
    coordinator = await join(harness, boss, 3001, "coordinator")
    vera = await join(harness, boss, 2001)
    _, urgent = await _case(harness, 1001, urgency=DANGER)
    _, calm = await _case(harness, 1002)
    await vera.send(f"/claim {calm}")

    clock.travel(timedelta(minutes=61))
    await harness.run_jobs()
    assert any(f"{urgent} is urgent" in t for t in coordinator.texts())
    assert any(f"{urgent} is urgent" in t for t in boss.texts())
    assert not any(f"{calm} is urgent" in t for t in coordinator.texts())
    clock.travel(timedelta(minutes=2))
    before = coordinator.texts().count(f"⚠️ {urgent} is urgent (danger within 48 hours) and nobody has taken it yet.")
    await harness.run_jobs()
    after = coordinator.texts().count(f"⚠️ {urgent} is urgent (danger within 48 hours) and nobody has taken it yet.")
    assert before == after == 1  # escalated once

    clock.travel(timedelta(hours=72))
    await harness.run_jobs()
    assert any(t.startswith(f"{calm} went back to the queue") for t in vera.texts())
    assert await request_field(harness, calm, "status") == "new"


async def test_flag_tells_coordinators(harness: Harness) -> None:
    boss, vera = await team(harness, 2001)
    _, code = await _case(harness)
    await vera.send(f"/claim {code}")
    await vera.send(f"/flag {code}")
    assert "flagged" in vera.last()
    assert any("was flagged as suspicious by" in t for t in boss.texts())
    await boss.send(f"/audit {code}")
    assert "flagged" in boss.last()


COMMANDS = {
    "/queue": "volunteer",
    "/mine": "volunteer",
    "/claim {code}": "volunteer",
    "/show {code}": "volunteer",
    "/release {code}": "volunteer",
    "/reply {code} hi": "volunteer",
    "/note {code} hi": "volunteer",
    "/notes {code}": "volunteer",
    "/close {code}": "volunteer",
    "/reopen {code}": "coordinator",
    "/inspect {code}": "coordinator",
    "/transfer {code}": "volunteer",
    "/flag {code}": "volunteer",
    "/pseudonym": "volunteer",
    "/audit {code}": "coordinator",
    "/volunteers": "coordinator",
    "/invite volunteer": "admin",
    "/revoke": "admin",
}
RANKS = {"stranger": 0, "requester": 0, "volunteer": 1, "coordinator": 2, "admin": 3}


async def test_role_command_matrix(harness: Harness) -> None:
    boss = await admin(harness)
    people = {
        "stranger": harness.person(5001),
        "volunteer": await join(harness, boss, 2001),
        "coordinator": await join(harness, boss, 3001, "coordinator"),
        "admin": boss,
    }
    requester, code = await _case(harness, 1001)
    people["requester"] = requester
    refusals: dict[str, set[str]] = {}
    for command, needed in COMMANDS.items():
        for role, member in people.items():
            await member.send(command.format(code=code))
            reply = member.last()
            if RANKS[role] >= RANKS[needed]:
                assert reply != UNKNOWN, (role, command)
            else:
                refusals.setdefault(role, set()).add(reply)
    # Every refusal, for every command, looks exactly like an unknown command.
    assert refusals["stranger"] == {UNKNOWN}
    assert refusals["requester"] == {UNKNOWN}
    assert refusals["volunteer"] == {UNKNOWN}


async def test_forged_callbacks_reveal_nothing(harness: Harness) -> None:
    boss, vera, ivan = await team(harness, 2001, 2002)
    _, code = await _case(harness)
    stranger = harness.person(5001)
    await stranger.send("/help")
    anchor = stranger.last_from_bot()
    assert anchor is not None
    for data in (f"claim:{code}", f"close:{code}:left", "qp:1", f"xfer:{code}:{'0' * 32}", f"revoke:{'0' * 32}"):
        pressed = await stranger.press_data(anchor.message_id, data)
        assert pressed.answer.text == STALE
    assert await request_field(harness, code, "status") == "new"
    assert not any(code in t for t in stranger.texts())

    await vera.send(f"/claim {code}")
    anchor = ivan.last_from_bot()
    assert anchor is not None
    pressed = await ivan.press_data(anchor.message_id, f"close:{code}:left")  # a volunteer, not the holder
    assert pressed.answer.text == "This request is not in your hands."
    assert await request_field(harness, code, "status") == "claimed"

    # A revoked volunteer's old buttons are a stranger's buttons.
    await boss.send("/revoke")
    await boss.press(f"✖ {await _pseudonym(harness, 2002)}")
    _, second = await _case(harness, 1002)
    old_message = ivan.last_from_bot()
    assert old_message is not None
    pressed = await ivan.press_data(old_message.message_id, f"claim:{second}")
    assert pressed.answer.text == STALE
    assert await request_field(harness, second, "status") == "new"
    await ivan.send("/queue")
    assert ivan.last() == UNKNOWN


async def test_revoking_returns_the_cases_to_the_queue(harness: Harness) -> None:
    boss, vera = await team(harness, 2001)
    _, code = await _case(harness)
    await vera.send(f"/claim {code}")
    await boss.send("/revoke")
    await boss.press(f"✖ {await _pseudonym(harness, 2001)}")
    assert any("is no longer on the team" in t for t in boss.texts())
    assert await request_field(harness, code, "status") == "new"


async def test_invites_are_single_use_and_expire(harness: Harness) -> None:
    boss = await admin(harness)
    await boss.send("/invite coordinator")
    invite_code = re.search(r"/join (\w+)", boss.last()).group(1)  # type: ignore[union-attr]
    first, second = harness.person(2001), harness.person(2002)
    await first.send(f"/join {invite_code}")
    assert "Your role: coordinator." in first.last()
    await second.send(f"/join {invite_code}")
    assert second.last() == "This invite code is not valid, already used, or expired."
    await boss.send("/invite volunteer")
    late = re.search(r"/join (\w+)", boss.last()).group(1)  # type: ignore[union-attr]
    clock.travel(timedelta(hours=49))
    await second.send(f"/join {late}")
    assert second.last() == "This invite code is not valid, already used, or expired."


async def test_concurrent_claims_have_one_winner(harness_any_db: Harness) -> None:
    h = harness_any_db
    _, code = await _case(h)
    policy, events, vault = h.app.policy, h.app.events, h.runtime.vault
    volunteers: list[VolunteerRecord] = []
    async with h.runtime.db.transaction() as session:
        for n in range(50):
            volunteers.append(
                await Services(session, vault, policy, events).volunteers.create(
                    user_id=7000 + n, chat_id=7000 + n, role=Role.VOLUNTEER, pseudonym=f"V-{n}", language="en"
                )
            )

    async def attempt(volunteer: VolunteerRecord) -> bool:
        try:
            async with h.runtime.db.transaction() as session:
                await Services(session, vault, policy, events).queue.claim(volunteer, code)
        except QueueError:
            return False
        return True

    results = await asyncio.gather(*(attempt(v) for v in volunteers))
    assert sum(results) == 1
    async with h.runtime.db.transaction() as session:
        services = Services(session, vault, policy, events)
        record = await services.requests.by_code(code)
        assert record is not None
        assert await services.audit.count("claimed", record.id) == 1
        assert record.assignee_id == volunteers[results.index(True)].id


async def test_outbox_survives_flood_control_and_network_errors(harness: Harness) -> None:
    _, vera = await team(harness, 2001)
    person, code = await _case(harness)
    await vera.send(f"/claim {code}")
    harness.world.inject(method="sendMessage", kind="429", times=1, retry_after=1)
    harness.world.inject(method="sendMessage", kind="drop", times=1)
    harness.world.inject(method="sendMessage", kind="500", times=1)
    await vera.send(f"/reply {code} You will get this exactly once.", wait=False)
    await harness.client.deliver()
    for _ in range(6):
        await harness.app.sender.drain()
        clock.travel(timedelta(seconds=5))
    assert person.texts().count(f"Volunteer {await _pseudonym(harness, 2001)}:\nYou will get this exactly once.") == 1
    assert await count_rows(harness, "outbox") == 0


async def test_a_blocked_requester_is_recorded_and_the_volunteer_told(harness: Harness) -> None:
    _, vera = await team(harness, 2001)
    person, code = await _case(harness)
    await vera.send(f"/claim {code}")
    await person.block_bot()
    await vera.send(f"/reply {code} Are you still there?")
    assert vera.last() == (
        f"Your message for request {code} was not delivered: the person has blocked the bot or deleted the chat."
    )
    await vera.send(f"/reply {code} Second try.")
    assert len(harness.world.calls_of("sendMessage")) > 0
    async with harness.runtime.db.transaction() as session:
        from sqlalchemy import select

        from storage.models import OutboxMessage

        reasons = list(await session.scalars(select(OutboxMessage.failed_reason)))
    assert reasons == ["blocked", "blocked"]  # recorded, never retried


async def test_requests_in_every_state_are_shredded_after_the_inactivity_period(tmp_path: Path) -> None:
    """Waiting, claimed and blocked requests go after TROPA_INACTIVE_DAYS (90) untouched; the holder and the
    coordinators hear the code and nothing else. (A claim outlives 90 days only with a lease that long.)"""
    async with harness_with(tmp_path / "data", claim_lease_hours=24 * 90) as harness:
        await _every_state_is_shredded(harness)


async def _every_state_is_shredded(harness: Harness) -> None:
    boss, vera = await team(harness, 2001)
    cora = await join(harness, boss, 2002, role="coordinator")
    _, waiting = await _case(harness, 1001, description="waiting-secret")
    _, claimed = await _case(harness, 1002, description="claimed-secret")
    _, blocked = await _case(harness, 1003, description="blocked-secret")
    await vera.send(f"/claim {claimed}")
    await cora.send(f"/block {blocked}")
    writing, still_writing = await _case(harness, 1005, description="writing-secret")
    clock.travel(timedelta(days=60))
    _, fresh = await _case(harness, 1004)  # active 30 days before the others expire: stays
    await writing.send("Is anyone there?")  # the person's own message is activity too: stays
    clock.travel(timedelta(days=30, hours=1))
    results = await harness.run_jobs()
    assert results["retention"] == 3
    erased_codes = (waiting, claimed, blocked)
    for code in erased_codes:
        assert await request_field(harness, code, "status") is None
    assert await request_field(harness, fresh, "status") == "new"
    assert await request_field(harness, still_writing, "status") == "new"
    assert [t for t in vera.texts() if "was erased: no activity" in t] == [
        f"{claimed} was erased: no activity for 90 days."
    ]  # the holder hears of their own case only
    for member in (cora, boss):  # coordinators and admins hear of each one, by code
        erased = sorted(t for t in member.texts() if "was erased: no activity" in t)
        assert erased == sorted(f"{c} was erased: no activity for 90 days." for c in (waiting, claimed, blocked))
    for member in (vera, cora, boss):
        assert not any(secret in text for text in member.texts() for secret in ("waiting-secret", "claimed-secret"))
        # Nothing about them is left on anyone's phone but their code: the cards and the full request, too
        # old to delete, are edited down to one line; no buttons and no answer are left. (One-line replies to
        # commands, and a volunteer's own "/claim R-…" older than 48 hours, name the code only.)
        for message in member.visible():
            if message.from_bot and any(c in (message.text or "") for c in erased_codes):
                assert not message.buttons, message.text
                for answer in ("Mobilised", "Abroad", THIS_WEEK, "Internal passport", "Leaving Russia"):
                    assert answer not in (message.text or ""), message.text
    async with harness.runtime.db.transaction() as session:
        about = await session.scalar(select(func.count()).where(AuditEvent.request_id.is_not(None)))
    assert about == 2  # "submitted" of the two requests left: the purged ones left no row


async def test_retention_shreds_exactly_the_closed_requests_that_are_due(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    boss, vera = await team(harness, 2001)
    _, old = await _case(harness, 1001)
    _, young = await _case(harness, 1002)
    _, still_open = await _case(harness, 1003)
    await vera.send(f"/claim {old}")
    await close_case(vera, old, "Legal consultation")
    clock.travel(timedelta(days=20))
    await vera.send(f"/claim {young}")
    await close_case(vera, young, "Advised; decided to stay")
    clock.travel(timedelta(days=11))  # old: closed 31 days ago; young: 11 days ago
    results = await harness.run_jobs()
    assert results["retention"] == 1
    assert await request_field(harness, old, "status") is None
    assert await request_field(harness, young, "status") == "closed"
    assert await request_field(harness, still_open, "status") == "new"
    await boss.send(f"/reopen {old}")
    assert boss.last() == "There is no request with that code."

    clock.travel(timedelta(days=20))
    from bot.cli import main

    monkeypatch.setenv("TROPA_UNSAFE_UNLOCKED_KEYRING", "true")  # the test keyring has no passphrase
    monkeypatch.setenv("TROPA_DATA_DIR", str(harness.data_dir))
    monkeypatch.setenv("TROPA_ADMIN_IDS", "9001")
    await asyncio.to_thread(main, ["purge"])
    assert "Shredded 1 requests: closed more than 30 days ago" in capsys.readouterr().out
    assert await request_field(harness, young, "status") is None
    assert await request_field(harness, still_open, "status") == "new"


async def test_requester_location_is_never_relayed(harness: Harness) -> None:
    _, vera = await team(harness, 2001)
    person, code = await _case(harness)
    await vera.send(f"/claim {code}")
    harness.world.chat(person.id)  # the chat exists
    update = {
        "update_id": 999_999,
        "message": {
            "message_id": 999,
            "date": int(clock.now().timestamp()),
            "chat": {"id": person.id, "type": "private", "first_name": "Alice"},
            "from": person.account.to_json(),
            "location": {"latitude": 55.75, "longitude": 37.61},
        },
    }
    await harness.client.deliver_again(update)
    await harness.settle()
    assert "locations are never passed on" in person.last()
    assert not any("55.75" in t for t in vera.texts())

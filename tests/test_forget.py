"""/forget leaves no trail: no audit row, no counter that singles the person out, no triage card in any
volunteer's chat or the group, and the volunteer who held the case is told its code only (issue 16, point 4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage import clock
from testkit.telegram import Person
from tests.support.canary import canary
from tests.support.harness import Harness, harness_with
from tests.support.inspect import count_rows, counter_values
from tests.support.intake import DANGER, IntakeAnswers, reach_review, submit
from tests.support.team import claimed_case, close_case, mentioning, team

ERASED = "Everything is erased. If you need help again, send /start."
WITHDRAWN = ("total", "withdrawn", "all")


async def _forget(person: Person) -> None:
    await person.send("/forget")
    await person.press("Yes, erase everything")
    assert [m.text for m in person.visible()] == [ERASED]


async def _someone_else(h: Harness, vera: Person) -> None:
    """Another person's case, claimed and closed, so the statistics have something in them."""
    other = h.person(1002)
    code = await claimed_case(vera, other, IntakeAnswers(location="In Russia, at home"))
    await close_case(vera, code, "Legal consultation")


def _from_bot(member: Person, code: str) -> list[str]:
    """What the bot shows this person about ``code`` (their own commands naming it, like "/claim R-…", are
    theirs: they carry the code and nothing else)."""
    return [m.text for m in member.visible() if m.from_bot and code in (m.text or "")]


def _without_erasures(counters: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], int]:
    return {key: count for key, count in counters.items() if key != WITHDRAWN}


async def test_forgetting_a_held_case_leaves_no_trail_in_any_chat_or_table(harness: Harness) -> None:
    h = harness
    boss, vera, ivan = await team(h, 2001, 2002)
    await _someone_else(h, vera)
    counters_before, audit_before = await counter_values(h), await count_rows(h, "audit_events")

    described = canary("described")
    person = h.person(1001)
    code = await claimed_case(vera, person, IntakeAnswers(location="At the front", description=described))
    await person.send("the second checkpoint")
    await vera.send(f"/reply {code} Stay where you are.")
    await vera.send(f"/note {code} frightened, front line")
    assert _from_bot(ivan, code) and _from_bot(boss, code)  # their triage cards, retired on the claim

    await _forget(person)

    assert _from_bot(vera, code) == [
        f"{code} was erased by the person who wrote it. Nothing of it is kept, and it is gone from your chat."
    ]
    assert mentioning(vera, described, "second checkpoint", "Stay where you are", "frightened") == []
    assert _from_bot(ivan, code) == [] and _from_bot(boss, code) == []
    assert await count_rows(h, "audit_events") == audit_before  # its rows went, and no "forgotten" row came
    counters = await counter_values(h)
    assert _without_erasures(counters) == counters_before  # front line, mobilised...: as if it never was
    assert counters[WITHDRAWN] == 1  # how many were ever erased: no week, no answer
    assert await count_rows(h, "requests") == 1 and await count_rows(h, "outbox") == 0


async def _team_with_history(h: Harness) -> tuple[Person, Person, dict[tuple[str, str, str], int]]:
    """The admin, Vera, and the counters once someone else's case has passed through."""
    boss, vera = await team(h, 2001)
    await _someone_else(h, vera)
    return boss, vera, await counter_values(h)


async def test_a_case_closed_as_left_and_then_forgotten_is_not_counted_as_left(harness: Harness) -> None:
    h = harness
    boss, vera, before = await _team_with_history(h)
    person = h.person(1001)
    code = await claimed_case(vera, person, IntakeAnswers(serving=["Mobilised"], location="At the front"))
    await vera.send(f"/flag {code}")
    await close_case(vera, code)
    await boss.send(f"/reopen {code}")
    await vera.send(f"/claim {code}")
    await close_case(vera, code)
    assert any(metric == "closed" and bucket == "left" for (_, metric, bucket) in await counter_values(h))

    await _forget(person)

    after = await counter_values(h)
    assert _without_erasures(after) == before
    assert not any(bucket == "left" or bucket == "front" for (_, _, bucket) in after)
    # It was no longer hers, so she is not told; what is left are the bot's one-line answers to her own
    # commands ("… is closed. Thank you."): the code, and nothing of the case.
    assert not [t for t in _from_bot(vera, code) if "At the front" in t or t.startswith(("🆕", f"Request {code}\n"))]
    assert not [t for t in _from_bot(vera, code) if "erased" in t]


async def test_forgetting_removes_the_triage_card_from_the_volunteers_group(tmp_path: Path) -> None:
    group_id = -1001234567890
    async with harness_with(tmp_path / "data", volunteer_chat_id=group_id) as h:
        _, vera = await team(h, 2001)
        group = h.world.group(group_id, "Volunteers", members=[vera])
        person = h.person(1001)
        code = await submit(person, IntakeAnswers(location="At the front"))
        card = group.last_from_bot()
        assert card is not None and code in (card.text or "")
        await _forget(person)
        assert not [m for m in group.visible() if code in (m.text or "")]


async def test_a_forget_before_the_chat_was_cleaned_still_takes_every_answer_off_the_phone(harness: Harness) -> None:
    """Telegram fails the clean-up after Submit; the person then erases everything: the clean-up outlives the
    shred of the request it was queued with, and the review with every answer still leaves the phone."""
    h = harness
    person = h.person(1001)
    secret = canary("answer")
    await reach_review(person, IntakeAnswers(description=secret))
    h.world.inject(method="deleteMessages", kind="500", times=3)
    await person.press("Submit")
    assert any(secret in (m.text or "") for m in person.visible())  # not cleaned yet
    await person.send("/forget")
    await person.press("Yes, erase everything")
    for _ in range(6):  # the outbox tries again after its backoff
        clock.travel(timedelta(minutes=5))
        await h.settle()
    assert not any(secret in (m.text or "") for m in person.visible())
    assert [m.text for m in person.visible()] == [ERASED]


async def test_the_shift_counters_and_the_kept_conversation_go_with_a_forget(harness: Harness) -> None:
    """Issue 19's counters (its hour and weekday, its first answer, its escalation, the open backlog by language,
    the messages it had waiting) are taken back like the others; its kept conversation and handover note go
    with the request."""
    h = harness
    _boss, vera, before = await _team_with_history(h)
    person = h.person(1001)
    code = await submit(person, IntakeAnswers(urgency=DANGER))
    clock.travel(timedelta(minutes=61))
    await h.run_jobs()  # escalated
    await person.send("first")
    await vera.send(f"/claim {code}")
    await vera.send(f"/reply {code} Here.")
    await person.send("second")  # waiting for an answer when it is erased
    await vera.send(f"/release {code}")
    await vera.reply(
        next(m for m in vera.visible() if m.forces_reply).message_id, "a handover note for whoever comes next"
    )
    assert await count_rows(h, "case_messages") == 3 and await count_rows(h, "notes") == 1

    await _forget(person)

    assert _without_erasures(await counter_values(h)) == before
    assert await count_rows(h, "case_messages") == 0 and await count_rows(h, "notes") == 0

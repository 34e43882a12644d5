"""One access model, kept by the bot and told in the same words everywhere people read it (issue 16, point 3).

The claiming volunteer sees the full case while they hold it; a coordinator only through /inspect, with a
reason that is recorded and told to the holder; everyone else the triage card; a former assignee nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage import clock
from testkit.telegram import Person
from tests.support.canary import canary
from tests.support.harness import Harness
from tests.support.inspect import audit_actions
from tests.support.intake import IntakeAnswers, choose_language, submit
from tests.support.team import (
    admin,
    claimed_case,
    close_case,
    join,
    mentioning,
    pseudonym_of,
    release_case,
    transfer_case,
)
from views.access import requester_access, team_access

README = Path(__file__).resolve().parent.parent / "README.md"
NOT_YOURS = "This request is not in your hands."
NOT_YOURS_COORDINATOR = (
    "This request is not in your hands. To open it anyway, use /inspect CODE: you give a reason, it is recorded, "
    "and the volunteer holding it is told."
)
UNKNOWN = "I don't know that command. /help lists what I can do."
STALE = "That button belongs to an earlier message."


async def _team(h: Harness) -> tuple[Person, Person, Person, Person]:
    boss = await admin(h)
    cora = await join(h, boss, 3001, "coordinator")
    vera = await join(h, boss, 2001)
    ivan = await join(h, boss, 2002)
    return boss, cora, vera, ivan


async def _held_case(h: Harness, holder: Person) -> tuple[str, str]:
    """A request whose description is a canary, claimed by ``holder``: the canary and the request's code."""
    described = canary("described")
    return described, await claimed_case(holder, h.person(1001), IntakeAnswers(description=described))


async def test_only_the_holder_sees_the_full_case(harness: Harness) -> None:
    h = harness
    _, cora, vera, ivan = await _team(h)
    described = canary("described")
    code = await submit(h.person(1001), IntakeAnswers(description=described))
    # Before anyone holds it, every volunteer sees the triage card and nothing more.
    for member in (cora, vera, ivan):
        assert mentioning(member, described) == []
        assert any(
            t.startswith(f"🆕 New request {code}\nUrgency: It has to be solved this week\nSituation: Serving now\n")
            for t in member.texts()
        )
    await vera.send(f"/claim {code}")
    await vera.send(f"/note {code} first contact made")
    assert mentioning(vera, described)

    for member, reply in ((ivan, NOT_YOURS), (cora, NOT_YOURS_COORDINATOR)):
        await member.send(f"/show {code}")
        assert member.last() == reply
        await member.send(f"/notes {code}")
        assert member.last() == NOT_YOURS
        await member.send(f"/note {code} let me add something")
        assert member.last() == NOT_YOURS
        assert mentioning(member, described, "first contact made") == []

    await close_case(vera, code)
    for command in (f"/show {code}", f"/notes {code}", f"/note {code} one more", f"/flag {code}"):
        await vera.send(command)
        assert vera.last() == NOT_YOURS, command  # the former assignee lost access with the close
    await vera.send(f"/reopen {code}")
    assert vera.last() == UNKNOWN


async def test_a_former_assignee_loses_access_on_transfer_and_release(harness: Harness) -> None:
    h = harness
    _, _, vera, ivan = await _team(h)
    person = h.person(1001)
    code = await claimed_case(vera, person)
    await person.send("I am in Rostov")
    original = next(m for m in person.visible() if m.text == "I am in Rostov")
    await transfer_case(vera, code, await pseudonym_of(h, 2002))
    await vera.send(f"/show {code}")
    assert vera.last() == NOT_YOURS
    # The requester's edit reaches the one holding the case now, and nobody else.
    await person.edit(original.message_id, "I am in Voronezh")
    assert mentioning(vera, "Voronezh") == []
    assert mentioning(ivan, "Voronezh")
    await release_case(ivan, code)
    await ivan.send(f"/notes {code}")
    assert ivan.last() == NOT_YOURS


async def test_a_coordinator_opens_a_case_only_with_a_reason_and_the_holder_is_told(harness: Harness) -> None:
    h = harness
    boss, cora, vera, _ = await _team(h)
    described, code = await _held_case(h, vera)
    await vera.send(f"/note {code} they sound frightened")

    await cora.send(f"/inspect {code}")
    assert cora.last().startswith(f"You do not hold {code}. To open it, choose why")
    assert mentioning(cora, described) == []  # nothing shown before a reason is given
    await cora.press("A complaint about how it is handled")
    assert f"You opened {code} (A complaint about how it is handled). This is recorded in its audit trail." in (
        cora.texts()
    )
    full = [m for m in cora.visible() if (m.text or "").startswith(f"Request {code}\n")]
    assert full and full[0].protected and described in (full[0].text or "")
    assert mentioning(cora, "they sound frightened")
    cora_name = await pseudonym_of(h, 3001)
    assert (
        f"Coordinator {cora_name} opened {code}, which you hold. Reason: A complaint about how it is handled."
        in vera.texts()
    )
    assert "inspected" in await audit_actions(h, code)
    await boss.send(f"/audit {code}")
    assert f"inspected · {cora_name} · A complaint about how it is handled" in boss.last()

    # The inspection is a look, not access: when the case ends, its copy leaves the coordinator's chat too.
    await close_case(vera, code, "Legal consultation")
    assert mentioning(cora, described, "they sound frightened") == []


async def test_an_inspection_telegram_half_refuses_is_still_recorded_and_told(harness: Harness) -> None:
    """The card reaches the coordinator, then Telegram refuses the notes: the audit row and the holder's notice
    commit all the same (nothing is ever shown without them), and the card still leaves within the hour."""
    h = harness
    _, cora, vera, _ = await _team(h)
    described, code = await _held_case(h, vera)
    await vera.send(f"/note {code} they sound frightened")
    await cora.send(f"/inspect {code}")
    h.world.inject(method="sendMessage", kind="500", times=1, skip=1)  # the card goes, the notes do not
    await cora.press("Supervision of the team's work")
    assert mentioning(cora, described)
    assert "inspected" in await audit_actions(h, code)
    assert any(f"opened {code}, which you hold" in text for text in vera.texts())
    clock.travel(timedelta(hours=1, minutes=1))
    await h.run_jobs()
    assert mentioning(cora, described) == []


async def test_an_inspection_leaves_the_coordinators_chat_within_an_hour(harness_any_db: Harness) -> None:
    h = harness_any_db
    _, cora, vera, _ = await _team(h)
    described, code = await _held_case(h, vera)
    await cora.send(f"/inspect {code}")
    await cora.press("Supervision of the team's work")
    assert mentioning(cora, described)
    clock.travel(timedelta(minutes=61))
    await h.run_jobs()
    assert mentioning(cora, described) == []  # the case stayed with its holder; the look ended
    assert mentioning(vera, described)
    await cora.send(f"/show {code}")
    assert cora.last() == NOT_YOURS_COORDINATOR


async def test_forged_and_old_inspection_buttons_open_nothing(harness: Harness) -> None:
    h = harness
    boss, cora, vera, ivan = await _team(h)
    described, code = await _held_case(h, vera)

    # A volunteer forging the coordinator's button: the role is checked again, the press is stale.
    anchor = ivan.last_from_bot()
    assert anchor is not None
    pressed = await ivan.press_data(anchor.message_id, f"insp:{code}:safety")
    assert pressed.answer.text == STALE
    # A coordinator with a reason the bot never offered.
    await cora.send(f"/inspect {code}")
    prompt = cora.last_from_bot()
    assert prompt is not None
    pressed = await cora.press_data(prompt.message_id, f"insp:{code}:curiosity")
    assert pressed.answer.text == "That reason is not known."
    # A coordinator removed from the team presses the reason they were offered before.
    await boss.send("/revoke")
    await boss.press(f"✖ {await pseudonym_of(h, 3001)}")
    pressed = await cora.press_data(prompt.message_id, f"insp:{code}:safety")
    assert pressed.answer.text == STALE
    for member in (ivan, cora):
        assert mentioning(member, described) == []
    assert "inspected" not in await audit_actions(h, code)


LANGUAGES = {"en": "English", "ru": "Русский", "uk": "Українська"}


async def test_the_access_model_is_told_the_same_everywhere(harness: Harness) -> None:
    """The consent screen and the requester's /help say the requester's sentences; every team role's /help
    says the team's; the README quotes both, in each language. A change to the model changes them all."""
    h = harness
    i18n = h.app.i18n
    readme = README.read_text(encoding="utf-8")
    boss = await admin(h)
    cora = await join(h, boss, 3001, "coordinator")
    vera = await join(h, boss, 2001)
    for number, language in enumerate(LANGUAGES):
        with i18n.context(), i18n.use_locale(language):
            told_requesters, told_team = requester_access(), team_access()
        assert len(told_requesters) == 5 and len(told_team) == 4

        person = h.person(1001 + number, language_code=language)
        await person.send("/start")
        await choose_language(person)
        await person.press("I understand, continue")
        consent = person.last()
        assert all(sentence in consent for sentence in told_requesters), consent
        await person.send("/help")
        help_text = next(m.text for m in reversed(person.visible()) if m.from_bot and m.text != consent)
        assert all(sentence in help_text for sentence in told_requesters), help_text

        for member in (boss, cora, vera):
            await member.send("/language")
            await member.press(LANGUAGES[language])
            await member.send("/help")
            assert all(sentence in member.last() for sentence in told_team), member.last()

        assert all(sentence in readme for sentence in (*told_requesters, *told_team)), language

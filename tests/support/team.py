"""The helpline's team acting through the bot: an admin invites, people join, volunteers work."""

from __future__ import annotations

import re

from testkit.telegram import Person, ViewMessage
from tests.support.harness import ADMIN_ID, Harness
from tests.support.intake import IntakeAnswers, submit


async def admin(h: Harness) -> Person:
    """The admin named in settings, after the /start that lets the bot write to them."""
    boss = h.person(ADMIN_ID, first_name="Admin")
    await boss.send("/start")
    return boss


async def invite(inviter: Person, role: str) -> str:
    """``/invite role``: the code of the one (protected) invitation the bot answers with."""
    sent = await inviter.send(f"/invite {role}")
    (invitation,) = inviter.bot_messages_after(sent.message_id)
    match = re.search(r"/join (\w+)", invitation.text)
    assert match and invitation.protected, invitation
    return match.group(1)


async def accept(member: Person, code: str) -> None:
    """``/join code``: welcomed, and the spent code deleted once the join has committed."""
    joined = await member.send(f"/join {code}", until=lambda: member.t("Welcome to the team.") in member.last())
    await member.wait(lambda: joined.message_id in member.deleted_ids())


async def join(h: Harness, inviter: Person, user_id: int, role: str = "volunteer") -> Person:
    member = h.person(user_id, first_name=f"{role.title()} {user_id}")
    await accept(member, await invite(inviter, role))
    return member


async def team(h: Harness, *volunteer_ids: int) -> list[Person]:
    """The admin, then a volunteer for each id, each invited by the admin: ``boss, vera = await team(h, 2001)``."""
    boss = await admin(h)
    return [boss, *[await join(h, boss, user_id) for user_id in volunteer_ids]]


async def pseudonym_of(h: Harness, user_id: int) -> str:
    from services.context import Services

    async with h.runtime.db.transaction() as session:
        services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
        volunteer = await services.volunteers.by_telegram(user_id, active_only=False)
    assert volunteer is not None, user_id
    return volunteer.pseudonym


async def revoke(h: Harness, by: Person, member: Person) -> None:
    """An admin removes someone from the team the way the bot offers it: /revoke, then the name."""
    await by.send("/revoke")
    await by.press(f"✖ {await pseudonym_of(h, member.id)}")


def mentioning(member: Person, *fragments: str) -> list[str]:
    """What the bot shows in this person's chat right now that mentions any of ``fragments``, their own
    messages included (a volunteer's /reply quotes what they wrote)."""
    return [message.text for message in member.visible() if any(fragment in message.text for fragment in fragments)]


def card(member: Person, code: str) -> ViewMessage | None:
    """The triage card for ``code`` with its Claim button, if it is on screen."""
    claim = member.t("Claim")
    return next((m for m in member.visible() if code in m.text and [claim] in m.buttons), None)


def prompt(member: Person, fragment: str) -> ViewMessage:
    """The newest prompt of the bot (a message to answer by replying to it) containing ``fragment``."""
    found = [m for m in member.visible() if m.from_bot and fragment in m.text]
    assert found, member.texts()
    return found[-1]


async def claimed_case(holder: Person, person: Person, answers: IntakeAnswers | None = None) -> str:
    """``person`` walks the intake and submits, then ``holder`` claims the request: its code."""
    code = await submit(person, answers)
    await holder.send(f"/claim {code}")
    return code


async def close_case(
    member: Person, code: str, outcome: str = "Helped to leave", goodbye: str = "Close without a message"
) -> None:
    """/close, the outcome, then what goes to the person: "Send and close" (the goodbye shown), or none."""
    await member.send(f"/close {code}")
    await member.press(outcome)
    await member.press(goodbye)


async def release_case(member: Person, code: str, note: str | None = None) -> None:
    """/release, with a handover note (a reply to the bot's prompt) or without one."""
    await member.send(f"/release {code}")
    if note is None:
        await member.press("Release without a note")
    else:
        await member.reply(prompt(member, "for whoever takes it next").message_id, note)


async def transfer_case(member: Person, code: str, to: str, note: str | None = None) -> None:
    """/transfer, the volunteer ``to`` (their pseudonym), with a handover note or without one."""
    await member.send(f"/transfer {code}")
    await member.press(to, translate=False)
    if note is None:
        await member.press("Hand over without a note")
    else:
        await member.reply(prompt(member, "A handover note on").message_id, note)

"""The helpline's team acting through the bot: an admin invites, people join, volunteers work."""

from __future__ import annotations

import re

from tests.support.harness import ADMIN_ID, Harness
from tests.support.telegram import FakeUser


class Member:
    def __init__(self, harness: Harness, user: FakeUser) -> None:
        self.h = harness
        self.user = user

    async def send(self, text: str) -> None:
        self.user.send(text)
        await self.h.settle()

    async def press(self, label: str, message_id: int | None = None) -> None:
        self.user.press(label, message_id)
        await self.h.settle()

    def last(self) -> str:
        message = self.user.chat.last_from_bot()
        return (message.text or "") if message else ""

    def texts(self) -> list[str]:
        return self.user.chat.texts()


async def admin(h: Harness) -> Member:
    member = Member(h, h.user(ADMIN_ID, first_name="Admin"))
    await member.send("/start")
    return member


async def join(h: Harness, inviter: Member, user_id: int, role: str = "volunteer") -> Member:
    await inviter.send(f"/invite {role}")
    match = re.search(r"/join (\w+)", inviter.last())
    assert match, inviter.last()
    member = Member(h, h.user(user_id, first_name=f"{role.title()} {user_id}"))
    await member.send(f"/join {match.group(1)}")
    assert "Welcome to the team." in member.last(), member.last()
    return member


async def pseudonym_of(h: Harness, user_id: int) -> str:
    from services.context import Services

    async with h.runtime.db.transaction() as session:
        services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
        volunteer = await services.volunteers.by_telegram(user_id, active_only=False)
    assert volunteer is not None, user_id
    return volunteer.pseudonym


async def revoke(h: Harness, by: Member, member: Member) -> None:
    """An admin removes someone from the team the way the bot offers it: /revoke, then the name."""
    await by.send("/revoke")
    await by.press(f"✖ {await pseudonym_of(h, member.user.id)}")


def mentioning(member: Member, *fragments: str) -> list[str]:
    """What the bot shows in this person's chat right now that mentions any of ``fragments``, their own
    messages included (a volunteer's /reply quotes what they wrote)."""
    return [
        message.text or ""
        for message in member.user.chat.visible()
        if any(fragment in (message.text or "") for fragment in fragments)
    ]

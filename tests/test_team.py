"""The team's names and the admins named in settings (issue 16, point 6): pseudonyms that cannot pass for
someone else's, and a revocation that no restart undoes."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app import admin_notices
from storage import clock
from tests.support.harness import Harness, restart, start_harness
from tests.support.team import admin, claimed_case, pseudonym_of, revoke, team

BAD = "A pseudonym is 2 to 32 letters, digits, spaces or dashes."
MIXED = "A pseudonym uses the letters of one alphabet only: mixed ones can imitate another name."
TAKEN = "Someone on the team already has that pseudonym, or one that looks the same."
UNKNOWN = "I don't know that command. /help lists what I can do."


async def test_pseudonyms_are_normalised_and_cannot_imitate_anyone(harness_any_db: Harness) -> None:
    h = harness_any_db
    boss, vera, ivan = await team(h, 2001, 2002)
    await vera.send("/pseudonym Ｎｉｇｈｔ   Ｏｗｌ")  # full-width letters, several spaces
    assert vera.last() == "Requesters will now see you as Night Owl."
    for blank in ("\u3164\u3164", "Night\u200bOwl", "\u202eNight Owl", "Ni\u0307ght", "-- 42 --", "x"):
        await ivan.send(f"/pseudonym {blank}")
        assert ivan.last() == BAD, repr(blank)
    await ivan.send("/pseudonym Nіght Owl")  # a Cyrillic "і" among Latin letters
    assert ivan.last() == MIXED
    for same in ("night owl", "NIGHT-OWL", "Night 0wl"):
        await ivan.send(f"/pseudonym {same}")
        assert ivan.last() == TAKEN, same
    await boss.send("/pseudonym Papa")
    await ivan.send("/pseudonym Рара")  # all Cyrillic, and it looks exactly like "Papa"
    assert ivan.last() == TAKEN
    await ivan.send("/pseudonym Олень")  # Cyrillic, and looks like nobody
    assert ivan.last() == "Requesters will now see you as Олень."

    person = h.person(1001)
    code = await claimed_case(vera, person)
    await vera.send(f"/reply {code} Hello")
    assert person.last() == "Volunteer Night Owl:\nHello"
    await boss.send("/revoke")
    labels = [label for row in (boss.last_from_bot().buttons or []) for label in row]  # type: ignore[union-attr]
    assert len(labels) == len(set(labels)) and "✖ Night Owl" in labels


async def test_an_admin_named_in_settings_stays_revoked_across_restarts(tmp_path: Path) -> None:
    h = await start_harness(tmp_path / "data", admin_ids=(9001, 9002))
    try:
        boss = await admin(h)
        second = h.person(9002, first_name="Second admin")
        await second.send("/help")
        assert "Admins" in second.last()
        name = await pseudonym_of(h, 9002)
        await revoke(h, boss, second)
        await second.send("/queue")
        assert second.last() == UNKNOWN

        h = await restart(h)  # TROPA_ADMIN_IDS still names them
        await second.send("/queue")
        assert second.last() == UNKNOWN
        assert admin_notices(h.app.admins) == [
            f"TROPA_ADMIN_IDS names {name}, who was revoked through the bot on {clock.now():%Y-%m-%d}: they stay "
            "revoked. Remove them from TROPA_ADMIN_IDS, or invite them again with `tropa volunteers invite admin`."
        ]

        # Bringing them back is a deliberate step: an invite.
        await boss.send("/invite admin")
        invite = re.search(r"/join (\w+)", boss.last())
        assert invite
        await second.send(f"/join {invite.group(1)}")
        h = await restart(h)
        await second.send("/help")
        assert "Admins" in second.last()
        assert admin_notices(h.app.admins) == []
    finally:
        await h.close()

"""Who sees what, in the words people read (docs/decisions/0010-access-model.md).

One source for every place the access model is told: the consent screen and the requester's /help say
``requester_access()``, every team member's /help says ``team_access()``, and the README quotes both in
the three languages (tests/test_access.py holds all of them to these sentences, and to the behaviour).
"""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _


def requester_access() -> list[str]:
    return [
        _("Your answers are stored encrypted."),
        _("Only the volunteer who takes your request reads it in full, and only while they are handling it."),
        _(
            "Other volunteers see only a short summary, never your own words: your situation, roughly where you "
            "are, how urgent it is and your language."
        ),
        _(
            "A coordinator can open your request only for a stated reason; this is recorded, and the volunteer "
            "handling it is told."
        ),
        _(
            "When your request is closed or passes to another volunteer, the bot removes it from the previous "
            "volunteer's chat and their access ends."
        ),
    ]


def team_access() -> list[str]:
    return [
        _(
            "You see a request in full only while you hold it. When you close, release or transfer it, or leave "
            "the team, the bot removes it from this chat and your access ends."
        ),
        _(
            "Everyone else on the team sees only the triage card: situation, rough place, urgency, language and "
            "time, never the person's own words."
        ),
        _(
            "A coordinator opens a request they do not hold only with /inspect CODE and a reason; this is "
            "recorded, and the volunteer holding it is told."
        ),
        _(
            "A blocked person's requests can no longer be taken, answered, handed on or reopened, and the person "
            "is told nothing."
        ),
    ]

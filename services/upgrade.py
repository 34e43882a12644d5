"""Answers written before the questionnaire branched (issue 18), read in today's layout.

Requests submitted earlier keep their sealed answers as they were: one situation ("status"), places that are
now merged, health as one yes/no. Wherever sealed answers are read (the full card, /forget's take-back, a
restore's forgetting again, an intake under way) they pass through ``upgrade_answers`` first, so the rest of
the code knows one layout. Migration 0006 moved the statistics counters the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.questionnaire import UNKNOWN, Step

# The one situation of before, as today's situations and the detail question it answers.
STATUS_SITUATION: dict[str, str] = {
    "summons": "not_serving",
    "conscript": "serving",
    "mobilised": "serving",
    "contract": "serving",
    "left_unit": "left_unit",
    "wounded": "wounded",
    "other": UNKNOWN,
}
SERVING_STATUSES = frozenset({"conscript", "mobilised", "contract"})
MERGED_PLACES = {"belarus": "abroad", "kz_kg_am": "abroad"}
# "matters" said there was a wound or an illness, not which: a value of its own, not a guess.
HEALTH_ANSWERS: dict[str, list[str]] = {"matters": ["unspecified"], "none": ["none"]}


def is_legacy(answers: Mapping[str, Any]) -> bool:
    return (
        "status" in answers or isinstance(answers.get(Step.HEALTH), str) or answers.get(Step.LOCATION) in MERGED_PLACES
    )


def upgrade_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """``answers`` in today's layout; answers already in it come back unchanged."""
    upgraded = dict(answers)
    status = upgraded.pop("status", None)
    if status is not None and Step.SITUATION not in upgraded:
        upgraded[Step.SITUATION] = [STATUS_SITUATION.get(str(status), UNKNOWN)]
        if status in SERVING_STATUSES:
            upgraded[Step.SERVING] = [status]
    place = upgraded.get(Step.LOCATION)
    if place in MERGED_PLACES:
        upgraded[Step.LOCATION] = MERGED_PLACES[place]
    health = upgraded.get(Step.HEALTH)
    if isinstance(health, str):
        upgraded[Step.HEALTH] = HEALTH_ANSWERS.get(health, [UNKNOWN])
    return {str(key): value for key, value in upgraded.items()}

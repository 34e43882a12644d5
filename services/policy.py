"""The numbers and switches the use cases obey, taken from settings by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class Policy:
    retention: timedelta = timedelta(days=30)  # a closed request, after closing
    inactive_after: timedelta = timedelta(days=90)  # any request, after its last activity
    abandoned_after: timedelta = timedelta(hours=40)
    # How long after a shred the keys that could open its leftover copies are destroyed (storage/epochs.py).
    shred_bound: timedelta = timedelta(hours=12)
    claim_lease: timedelta = timedelta(hours=72)
    escalate_after: timedelta = timedelta(minutes=60)
    invite_valid_for: timedelta = timedelta(hours=48)
    stats_min_cell: int = 5
    volunteer_chat_id: int | None = None
    chat_hygiene: bool = True
    default_language: str = "ru"
    team_zone: ZoneInfo = UTC_ZONE  # TROPA_WORKING_HOURS' zone: arrivals are counted by its hours

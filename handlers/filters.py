"""Role filters. A failed filter lets the event fall through to the fallback router, so someone
without the role gets the same reply as for any unknown command."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from services.context import Services
from storage.volunteers import VolunteerRecord

RANK = {"volunteer": 1, "coordinator": 2, "admin": 3}


class HasRole(Filter):
    def __init__(self, minimum: str = "volunteer") -> None:
        self.minimum = RANK[minimum]

    async def __call__(self, event: TelegramObject, volunteer: VolunteerRecord | None = None) -> bool:
        return volunteer is not None and volunteer.active and RANK[volunteer.role] >= self.minimum


class BlockedRequester(Filter):
    """Someone a coordinator blocked (never a team member). Asks the database: use it after cheaper filters."""

    async def __call__(
        self,
        event: TelegramObject,
        services: Services,
        volunteer: VolunteerRecord | None = None,
        event_from_user: User | None = None,
    ) -> bool:
        if volunteer is not None or event_from_user is None:
            return False
        return await services.intake.is_blocked(event_from_user.id)

"""Role filters. A failed filter lets the event fall through to the fallback router, so someone
without the role gets the same reply as for any unknown command."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from services.context import Services
from storage.kinds import Role
from storage.volunteers import VolunteerRecord


class HasRole(Filter):
    def __init__(self, minimum: Role = Role.VOLUNTEER) -> None:
        self.minimum = minimum

    async def __call__(self, event: TelegramObject, volunteer: VolunteerRecord | None = None) -> bool:
        return volunteer is not None and volunteer.active and volunteer.role.at_least(self.minimum)


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

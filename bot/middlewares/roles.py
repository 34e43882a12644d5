"""Who is talking: a volunteer (with role) or anyone else. Looked up by blind index on every event, never
remembered beyond the update's transaction: a revoked volunteer loses access at their next update."""

from __future__ import annotations

from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from handlers.middleware import Handler
from services.context import Services


class RoleMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        services: Services = data["services"]
        data["volunteer"] = None
        if user is not None and not user.is_bot:
            # Whether the person is blocked rides along: the intake's gate asks it next (handlers/filters.py).
            requester_index = services.requests.requester_index(user.id)
            volunteer, blocked = await services.volunteers.by_telegram_and_blocked(user.id, requester_index)
            services.requests.remember_blocked(requester_index, blocked)
            data["volunteer"] = volunteer
        return await handler(event, data)

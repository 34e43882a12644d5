"""Who is talking: a volunteer (with role) or anyone else. Looked up by blind index on every event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from services.context import Services


class RoleMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        services: Services = data["services"]
        data["volunteer"] = await services.volunteers.by_telegram(user.id) if user and not user.is_bot else None
        return await handler(event, data)

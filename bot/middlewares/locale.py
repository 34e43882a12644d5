"""The language each person sees: chosen in the intake, else their request's, else Telegram's."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from services.context import Services
from services.intake_state import IntakeState
from storage.volunteers import VolunteerRecord
from views.language import pick_language


class LocaleMiddleware(I18nMiddleware):
    def __init__(self, i18n: I18n) -> None:
        super().__init__(i18n=i18n)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        volunteer: VolunteerRecord | None = data.get("volunteer")
        if volunteer is not None:
            return volunteer.language
        state: FSMContext | None = data.get("state")
        if state is not None:
            chosen = IntakeState.from_dict(await state.get_data()).locale
            if chosen in self.i18n.available_locales:
                return str(chosen)
        user: User | None = data.get("event_from_user")
        services: Services | None = data.get("services")
        if user is not None and services is not None:
            request = await services.intake.open_request(user.id)
            if request is not None:
                return request.language
        return pick_language(user.language_code if user else None, self.i18n.default_locale)

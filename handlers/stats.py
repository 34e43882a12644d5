"""Coordinator statistics (/stats): a period choice, then two charts (the weeks, the arrivals by hour) and a summary,
from counters only.

Coordinators and admins only. For anyone else the role filter fails and the command falls through to
the fallback router's unknown-command reply; a period button pressed (or forged) by someone without the
role falls through to the stale-button answer. Statistics go only to the private chat.
"""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from handlers.filters import HasRole
from services.context import Services
from services.stats import compute_summary
from storage.kinds import Role
from views.callbacks import StatsPeriod
from views.chart import render_chart, render_hours
from views.stats import (
    chart_caption,
    chart_spec,
    hours_caption,
    hours_spec,
    period_markup,
    period_prompt,
    summary_messages,
)

CHART_FILENAME = "tropa-stats.png"
HOURS_FILENAME = "tropa-arrivals-by-hour.png"


async def ask_period(message: Message) -> None:
    await message.answer(**period_prompt().as_kwargs(), reply_markup=period_markup())


async def show_stats(callback: CallbackQuery, callback_data: StatsPeriod, services: Services, bot: Bot) -> None:
    policy = services.policy
    summary = await compute_summary(
        services.counters, callback_data.period, min_cell=policy.stats_min_cell, zone=policy.team_zone.key
    )
    await callback.answer()  # before drawing: Telegram wants an answer within seconds
    chat_id = callback.from_user.id  # the private chat (the router accepts presses from nowhere else)
    # Labels are translated here, in this update's locale; the drawing runs in a worker thread.
    charts = (
        (await asyncio.to_thread(render_chart, chart_spec(summary)), chart_caption(summary), CHART_FILENAME),
        (await asyncio.to_thread(render_hours, hours_spec(summary)), hours_caption(summary), HOURS_FILENAME),
    )
    for png, caption, filename in charts:
        await bot.send_photo(
            chat_id=chat_id,
            photo=BufferedInputFile(png, filename=filename),
            **caption.as_kwargs(text_key="caption", entities_key="caption_entities"),
        )
    for part in summary_messages(summary):
        await bot.send_message(chat_id=chat_id, **part.as_kwargs())


def build_router() -> Router:
    router = Router(name="stats")
    router.message.filter(F.chat.type == ChatType.PRIVATE, HasRole(Role.COORDINATOR))
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE, HasRole(Role.COORDINATOR))
    router.message.register(ask_period, Command("stats"))
    router.callback_query.register(show_stats, StatsPeriod.filter())
    return router

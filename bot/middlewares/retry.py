"""Request middlewares on the bot's session.

- A short flood-control wait is waited out, once or twice, instead of failing a reply the person is
  waiting for. Longer waits fail as before (the outbox retries), and so does any wait met by the
  outbox's own sends: it holds a lease on what it sends and reschedules the lane itself.
- Answering a button press is a courtesy: when Telegram refuses it (the query is too old, or it was
  already answered by a replica that died before committing), the update's real work must not be
  rolled back for it.
- Edits, callback answers and deletions made while an update's transaction is open are sent after it
  commits (their results are never used): a person never sees a question whose state is not yet
  durable, so nothing they do can race an update that a dying replica never committed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog
from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    DeleteMessages,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import sending_from_outbox
from storage.db import after_commit, current_session
from storage.outbox import PendingMessage

log = structlog.get_logger()


class RetryAfterMiddleware(BaseRequestMiddleware):
    def __init__(self, max_wait: float = 10.0, attempts: int = 2) -> None:
        self.max_wait = max_wait
        self.attempts = attempts

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        for attempt in range(self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt == self.attempts or error.retry_after > self.max_wait or sending_from_outbox.get():
                    raise
                log.info("telegram.flood_wait", retry_after=error.retry_after, method=type(method).__name__)
                await asyncio.sleep(error.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:  # keeps aiogram's middleware manager happy when it lists middlewares
        return f"{type(self).__name__}(max_wait={self.max_wait})"


class BestEffortCallbackAnswers(BaseRequestMiddleware):
    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest:
            if not isinstance(method, AnswerCallbackQuery):
                raise
            log.info("telegram.callback_answer_refused")
            return Response[TelegramType](ok=True, result=True)

    def __repr__(self) -> str:
        return type(self).__name__


AFTER_COMMIT_METHODS = (
    AnswerCallbackQuery,
    EditMessageText,
    EditMessageReplyMarkup,
    EditMessageCaption,
    DeleteMessage,
    DeleteMessages,
)


class EffectStore(Protocol):
    async def store_effect(
        self, session: AsyncSession, name: str, params: dict[str, Any], chat_id: int
    ) -> PendingMessage: ...

    async def deliver_now(self, message: PendingMessage, method: TelegramMethod[Any] | None = None) -> None: ...


def as_json(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
    """A method's fields as JSON, with aiogram's ``Default(...)`` placeholders resolved from ``bot``."""
    resolved = {name: bot.default[value.name] for name, value in method.__dict__.items() if isinstance(value, Default)}
    return method.model_copy(update=resolved).model_dump(mode="json", exclude_unset=True)


class AfterCommit(BaseRequestMiddleware):
    """Once ``store`` is set (by build_app, when the outbox exists), edits and deletions are also written
    into the update's transaction, so they survive a process that dies right after committing."""

    def __init__(self) -> None:
        self.store: EffectStore | None = None

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        session = current_session.get()
        deferred = method
        if session is None or not isinstance(method, AFTER_COMMIT_METHODS):
            return await make_request(bot, method)
        store = self.store
        if store is not None and not isinstance(method, AnswerCallbackQuery):
            queued = await store.store_effect(
                session, type(method).__name__, as_json(bot, method), int(getattr(method, "chat_id", 0) or 0)
            )
            after_commit(session, lambda: store.deliver_now(queued, method))
            return Response[TelegramType](ok=True, result=True)

        async def send() -> None:
            try:
                await make_request(bot, deferred)
            except (TelegramAPIError, TelegramNetworkError) as error:
                # "not modified", a message already gone: the state is committed either way.
                log.info("telegram.after_commit_refused", method=type(method).__name__, error=type(error).__name__)

        after_commit(session, send)
        return Response[TelegramType](ok=True, result=True)

    def __repr__(self) -> str:
        return type(self).__name__

"""Request middlewares on the bot's session.

- A short flood-control wait is waited out, once or twice, instead of failing a reply the person is
  waiting for. Longer waits fail as before (the outbox retries).
- Answering a button press is a courtesy: when Telegram refuses it (the query is too old, or it was
  already answered by a replica that died before committing), the update's real work must not be
  rolled back for it.
- Edits, callback answers and deletions made while an update's transaction is open are sent after it
  commits (their results are never used): a person never sees a question whose state is not yet
  durable, so nothing they do can race an update that a dying replica never committed.
"""

from __future__ import annotations

import asyncio

import structlog
from aiogram import Bot
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

from storage.db import after_commit, current_session

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
                if attempt == self.attempts or error.retry_after > self.max_wait:
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


class AfterCommit(BaseRequestMiddleware):
    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        session = current_session.get()
        deferred = method
        if session is None or not isinstance(method, AFTER_COMMIT_METHODS):
            return await make_request(bot, method)

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

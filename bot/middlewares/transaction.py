"""One database transaction per update, and each update handled once.

The update id is claimed inside the transaction that carries the handler's changes (FSM, requests,
outbox). If the handler fails, all of it rolls back and the update can be handled again; if it
succeeds, a re-delivered copy finds its id taken and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import structlog
from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.log import bind_update, clear_update_context
from services.context import Services
from services.events import Events
from services.policy import Policy
from storage import clock
from storage.db import Database
from storage.models import ProcessedUpdate
from storage.outbox import Outbox
from storage.vault import Vault

log = structlog.get_logger()

Doorbell = Callable[[], None]


class TransactionMiddleware(BaseMiddleware):
    def __init__(self, db: Database, vault: Vault, policy: Policy, events: Events, after_commit: Doorbell) -> None:
        self.db = db
        self.vault = vault
        self.policy = policy
        self.events = events
        self.after_commit = after_commit
        # Built once: a statement made afresh for every update is walked again to find it in the cache.
        table = cast(Table, ProcessedUpdate.__table__)
        insert = sqlite_insert if db.is_sqlite else pg_insert
        self._claim = insert(table).on_conflict_do_nothing().returning(table.c.update_id)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        user = data.get("event_from_user")
        clear_update_context()
        bind_update(update_id=event.update_id, who=self.vault.blind("log", user.id)[:12] if user else None)
        async with self.db.transaction() as session:
            claimed = await session.scalar(self._claim, {"update_id": event.update_id, "handled_at": clock.now()})
            if claimed is None:
                log.info("update.duplicate")
                return UNHANDLED
            data["services"] = Services(session, self.vault, self.policy, self.events)
            result = await handler(event, data)
            queued = Outbox.queued_in(session)
        if queued:
            self.after_commit()
        return result

"""One database transaction per update, and each update handled once.

The update id is claimed inside the transaction that carries the handler's changes (FSM, requests,
outbox). If the handler fails, all of it rolls back and the update can be handled again; if it
succeeds, a re-delivered copy finds its id taken and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update

from bot.log import bind_update, clear_update_context
from handlers.middleware import Handler
from services.context import Services
from services.events import Events
from services.policy import Policy
from storage import clock
from storage.db import Database
from storage.inserts import insert_once
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

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user = data.get("event_from_user")
        clear_update_context()
        bind_update(update_id=event.update_id, who=self.vault.blind("log", user.id)[:12] if user else None)
        async with self.db.transaction() as session:
            if not await insert_once(session, ProcessedUpdate, update_id=event.update_id, handled_at=clock.now()):
                log.info("update.duplicate")
                return UNHANDLED
            data["services"] = Services(session, self.vault, self.policy, self.events)
            result = await handler(event, data)
            queued = Outbox.queued_in(session)
        if queued:
            self.after_commit()
        return result

"""Housekeeping jobs: abandoned intakes, the record of handled updates, failed outbox rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from services.context import Services
from services.hygiene import enqueue_chat_deletes
from services.intake_state import IntakeState
from services.jobs import Action
from storage import clock
from storage.epochs import note_shred
from storage.fsm import EncryptedStorage
from storage.models import JobRun, ProcessedUpdate

UPDATE_MEMORY = timedelta(days=2)  # Telegram keeps an unconfirmed update for 24 hours


def abandoned_intake_sweep(storage: EncryptedStorage) -> Action:
    async def sweep(services: Services) -> int:
        """Erase intakes untouched for the abandoned period, and ask Telegram to delete their messages.

        Messages older than 48 hours cannot be deleted by a bot any more; deleteMessages skips them.
        """
        cutoff = clock.now() - services.policy.abandoned_after
        erased = 0
        async for entry in storage.entries(untouched_before=cutoff):
            if entry.touched_at > cutoff.timestamp():
                continue
            intake = IntakeState.from_dict(entry.data)
            if intake.chat is not None and intake.tracked:
                await enqueue_chat_deletes(services, intake.chat, intake.tracked, intake.locale or "ru")
            await storage.delete_blinded(entry.key)
            erased += 1
        erased += await storage.forget_journal(older_than=cutoff)
        if erased:
            await note_shred(services.session, services.vault)  # their copies left behind stop opening too
        return erased

    return sweep


async def forget_old_updates(services: Services) -> int:
    cutoff = clock.now() - UPDATE_MEMORY
    result = await services.session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.handled_at < cutoff).returning(ProcessedUpdate.update_id)
    )
    runs = await services.session.execute(
        delete(JobRun).where(JobRun.started_at < clock.now() - timedelta(days=7)).returning(JobRun.name)
    )
    return len(result.all()) + len(runs.all())


async def drop_old_failed_messages(services: Services) -> int:
    return await services.outbox.drop_failed_before(clock.now() - services.policy.retention)

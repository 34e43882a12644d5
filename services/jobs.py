"""Periodic jobs inside the bot process, each run once per period.

A run claims ``(job, period)`` in ``job_runs`` and does its work in the same transaction. Two
processes cannot both claim a period (primary key); a process that dies mid-run rolls its claim back
with its work, so the period is run again by whoever ticks next -- never twice, never skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import update

from services.context import Services
from services.events import Events
from services.policy import Policy
from storage import clock
from storage.db import Database
from storage.inserts import insert_once
from storage.models import JobRun
from storage.vault import Vault

log = structlog.get_logger()

Action = Callable[[Services], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    action: Action

    def period(self, moment: datetime) -> str:
        return str(int(moment.timestamp() // self.every.total_seconds()))

    def period_start(self, period: str) -> str:
        """The period as a moment, for logs: its number looks like an id to the log redaction, a time does not."""
        return datetime.fromtimestamp(int(period) * self.every.total_seconds(), UTC).isoformat()


class JobRunner:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        policy: Policy,
        events: Events,
        jobs: list[Job],
        after_run: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.policy = policy
        self.events = events
        self.jobs = jobs
        self.after_run = after_run

    async def run_due(self) -> dict[str, int]:
        """Run every job whose current period has not run yet; returns what each one counted."""
        results: dict[str, int] = {}
        for job in self.jobs:
            period = job.period(clock.now())
            try:
                async with self.db.transaction() as session:
                    if not await insert_once(session, JobRun, name=job.name, period=period, started_at=clock.now()):
                        continue
                    count = await job.action(Services(session, self.vault, self.policy, self.events))
                    await session.execute(
                        update(JobRun)
                        .where(JobRun.name == job.name, JobRun.period == period)
                        .values(finished_at=clock.now())
                    )
            except Exception:
                log.exception("job.failed", job=job.name, period=job.period_start(period))
                continue
            results[job.name] = count
            if count:
                log.info("job.done", job=job.name, period=job.period_start(period), count=count)
        self.after_run()
        return results

    async def run(self, interval: float) -> None:
        while True:
            await self.run_due()
            await asyncio.sleep(interval)

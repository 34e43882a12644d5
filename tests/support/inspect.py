"""Looking into the database the way an operator with the keyring could, for assertions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from storage.audit import AuditLog
from storage.counters import Counters
from storage.models import Base
from storage.requests import RequestDetails, RequestRepository
from tests.support.harness import Harness


async def count_rows(h: Harness, table: str) -> int:
    model = Base.metadata.tables[table]
    async with h.runtime.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def all_row_counts(h: Harness) -> dict[str, int]:
    return {name: await count_rows(h, name) for name in Base.metadata.tables}


async def request_details(h: Harness, code: str) -> RequestDetails:
    async with h.runtime.db.transaction() as session:
        repo = RequestRepository(session, h.runtime.vault)
        record = await repo.by_code(code)
        assert record is not None, f"no request {code}"
        return await repo.read(record)


async def request_field(h: Harness, code: str, name: str) -> Any:
    async with h.runtime.db.transaction() as session:
        record = await RequestRepository(session, h.runtime.vault).by_code(code)
        return getattr(record, name) if record else None


async def counter_values(h: Harness) -> dict[tuple[str, str, str], int]:
    async with h.runtime.db.transaction() as session:
        rows = await Counters(session).rows()
    return {(row.week, row.metric, row.bucket): row.count for row in rows}


async def audit_actions(h: Harness, code: str) -> list[str]:
    async with h.runtime.db.transaction() as session:
        record = await RequestRepository(session, h.runtime.vault).by_code(code)
        assert record is not None
        return [entry.action for entry in await AuditLog(session).for_request(record.id)]

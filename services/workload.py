"""The numbers a coordinator plans shifts with, kept at the moment things happen (services/stats.py reads them).

- Arrivals by hour of day and by day of the week, in the team's time zone (TROPA_WORKING_HOURS'), per ISO week.
- The open backlog by urgency and by language (gauges): in at submit and reopen, out at close and shred.
- The requesters' messages still waiting for an answer (a gauge), and per request how many and since when
  (/mine): a message of the person adds one, the holder's answer clears them.
- The time from submission to the first message a volunteer sent, once per request, per ISO week.

/forget takes every one of them back (docs/decisions/0011): :func:`take_back` finds each contribution again from
the request's own plaintext moments (created, first answered) and its open state.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from services import metrics
from storage.clock import iso_week
from storage.requests import RequestRecord

if TYPE_CHECKING:
    from services.context import Services


def arrival_counters(created_at: datetime, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The hour and the weekday a request arrived at, where the team is."""
    local = created_at.astimezone(zone)
    return [(metrics.ARRIVAL_HOUR, f"{local.hour:02d}"), (metrics.ARRIVAL_WEEKDAY, str(local.isoweekday()))]


def _backlog_counters(record: RequestRecord) -> list[tuple[str, str, str]]:
    return [
        (metrics.GAUGE_WEEK, metrics.BACKLOG, record.urgency),
        (metrics.GAUGE_WEEK, metrics.BACKLOG_LANGUAGE, record.language),
    ]


async def _backlog(s: Services, record: RequestRecord, by: int) -> None:
    for week, metric, bucket in _backlog_counters(record):
        await s.counters.bump(week, metric, bucket, by=by)


async def _unanswered(s: Services, by: int) -> None:
    if by:
        await s.counters.bump(metrics.GAUGE_WEEK, metrics.UNANSWERED, metrics.ALL, by=by)


async def arrived(s: Services, record: RequestRecord) -> None:
    """A request was submitted: counted by when it came, and open from now on (all in one statement)."""
    week = iso_week(record.created_at)
    arrival = [(week, metric, bucket) for metric, bucket in arrival_counters(record.created_at, s.policy.team_zone)]
    await s.counters.bump_each([*arrival, *_backlog_counters(record)])


async def reopened(s: Services, record: RequestRecord) -> None:
    await _backlog(s, record, 1)


async def closed(s: Services, record: RequestRecord) -> None:
    """Closed: out of the backlog, and what the person wrote last waits for nobody any more."""
    await _backlog(s, record, -1)
    await _unanswered(s, -await s.requests.clear_unanswered(record.id))


async def shredded(s: Services, record: RequestRecord) -> None:
    """Shredded (retention, /forget): an open request leaves the gauges with everything it held in them."""
    if record.is_open:
        await _backlog(s, record, -1)
        await _unanswered(s, -record.unanswered)


async def person_wrote(s: Services, record: RequestRecord) -> None:
    """A message of the person waits for an answer (from whoever holds the request, or will)."""
    await s.requests.note_unanswered(record.id)
    await _unanswered(s, 1)


async def volunteer_answered(s: Services, record: RequestRecord) -> None:
    """The holder wrote to the person: nothing of theirs waits any more; the first answer ever is timed."""
    await _unanswered(s, -await s.requests.clear_unanswered(record.id))
    first = await s.requests.mark_first_reply(record.id)
    if first is not None:
        await s.counters.bump(
            iso_week(first), metrics.TIME_TO_REPLY, metrics.duration_bucket(first - record.created_at)
        )


async def take_back(s: Services, record: RequestRecord) -> None:
    """Everything :func:`arrived` and :func:`volunteer_answered` counted of this request, taken back, and the
    gauges it is in (a request about to be erased with /forget)."""
    week = iso_week(record.created_at)
    for metric, bucket in arrival_counters(record.created_at, s.policy.team_zone):
        await s.counters.take_back(week, metric, bucket)
    if record.first_reply_at is not None:
        bucket = metrics.duration_bucket(record.first_reply_at - record.created_at)
        await s.counters.take_back(iso_week(record.first_reply_at), metrics.TIME_TO_REPLY, bucket)
    await shredded(s, record)

"""Coordinator statistics: one typed summary computed from the aggregate counters alone.

Nothing here reads the ``requests`` table or decrypts anything: every number comes from
``stat_counters`` (see services/metrics.py), whose size grows with the number of weeks, never with the
number of requests. The bot (/stats) and the command line (``tropa stats``) only render the
:class:`StatsSummary` this module produces, so both show the same numbers with the same suppression.

Small-number suppression
------------------------
Only cells that sort people by what they said or what became of them are suppressed: the answers to the
questionnaire (situation, place, documents, health, urgency, help, who is asking), the language of the requests
of a period, the outcomes, the requests flagged as suspicious and those erased by their requesters. Such a count
below ``min_cell`` (the policy's ``stats_min_cell``) is never published: the summary carries ``None`` instead of
the number and marks the cell ``SMALL`` ("<5"). When a breakdown adds up to a total shown on the same screen (a
single-choice question, outcomes, a week's bar), one hidden cell could be worked out by subtraction, so a second
cell is hidden as well (``COMPLEMENT``, "*"): the smallest shown non-zero cell. That happens when exactly one cell
is small, and also when exactly one of the small cells is non-zero (a reader who guessed the zeros could
otherwise subtract).

Numbers that describe the team's work and no person are shown exactly, however small, because a small team plans
its shifts with them: requests received, claimed, closed and reopened, escalations, the open backlog (by urgency and
by language, which every volunteer sees anyway on each waiting request's card), the messages waiting for an answer,
arrivals by hour and weekday, and the waiting times (time to claim, to the first answer, to close: median and 90th
percentile from their buckets).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from services import metrics
from services.questionnaire import MULTI_SELECT, OPTIONS, STAT_DIMENSIONS, Step
from services.queue import OUTCOMES
from storage import clock
from storage.clock import iso_week
from storage.counters import CounterRow, Counters
from storage.kinds import Language

LANGUAGES: tuple[str, ...] = tuple(Language)
LANGUAGE_DIMENSION = "language"
# What a week's bar is split by: a question every request answers with one choice, so the parts add up to the
# bar (the situation, a multi-select that the fast path may skip, would not).
CHART_DIMENSION = Step.URGENCY
WEEK_PATTERN = re.compile(r"^\d{4}-W\d{2}$")


class Period(StrEnum):
    THIS_WEEK = "this_week"
    FOUR_WEEKS = "4_weeks"
    TWELVE_WEEKS = "12_weeks"
    ALL = "all"


PERIOD_LENGTH_WEEKS: dict[Period, int | None] = {
    Period.THIS_WEEK: 1,
    Period.FOUR_WEEKS: 4,
    Period.TWELVE_WEEKS: 12,
    Period.ALL: None,
}


class Shown(StrEnum):
    """How a cell may be published."""

    EXACT = "exact"
    SMALL = "small"  # below the threshold: shown as "<5"
    COMPLEMENT = "complement"  # hidden so that a small cell cannot be worked out: shown as "*"


@dataclass(frozen=True, slots=True)
class Cell:
    """One published number. ``count`` is None whenever the number must not be shown."""

    key: str
    count: int | None
    shown: Shown

    @property
    def exact(self) -> bool:
        return self.shown is Shown.EXACT


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Counts of one dimension by option, in the questionnaire's order (unknown codes last)."""

    name: str
    cells: tuple[Cell, ...]
    sums_to_total: bool  # False for multi-select questions, whose options overlap

    @property
    def has_complement(self) -> bool:
        return any(cell.shown is Shown.COMPLEMENT for cell in self.cells)


@dataclass(frozen=True, slots=True)
class Duration:
    """A time histogram reduced to what may be shown: the sample size and two bucket codes."""

    name: str
    sample: Cell
    median: str | None  # a bucket of metrics.DURATION_BUCKETS; None when the sample is too small
    p90: str | None


@dataclass(frozen=True, slots=True)
class WeekBar:
    """One week of the chart: submissions by urgency, the estimated backlog, the median time to claim."""

    week: str
    total: Cell  # submissions that week
    segments: tuple[Cell, ...]  # by urgency; only EXACT cells are drawn in colour
    pooled: int  # the grey "small groups" segment: the sum of the hidden segments (0 if none)
    backlog: int | None  # estimated open requests at the end of the week; None below the threshold
    median_claim: str | None  # bucket code; None when fewer claims than the threshold


@dataclass(frozen=True, slots=True)
class Shifts:
    """What a coordinator plans shifts with: all exact (see the module's docstring)."""

    zone: str  # the team's time zone, whose hours and days the arrivals are counted in
    arrivals_by_hour: tuple[int, ...]  # 24, from 00:00
    arrivals_by_weekday: tuple[int, ...]  # 7, Monday first
    time_to_reply: Duration  # from submission to the first message a volunteer sent
    escalated: int  # urgent requests nobody claimed in time, in the period
    unanswered: int  # requesters' messages waiting for an answer, now
    backlog_by_language: Breakdown  # open requests by language, now


@dataclass(frozen=True, slots=True)
class StatsSummary:
    period: Period
    weeks: tuple[str, ...]  # every ISO week the period covers, oldest first
    min_cell: int
    received: Cell
    claimed: Cell
    closed: Cell
    outcomes: Breakdown
    withdrawn: Cell
    reopened: Cell
    flagged: Cell
    backlog: Cell  # open requests right now, from the gauge (not limited to the period)
    backlog_by_urgency: Breakdown
    time_to_claim: Duration
    time_to_close: Duration
    dimensions: tuple[Breakdown, ...]  # every question of the intake (services/questionnaire.py), then language
    chart: tuple[WeekBar, ...]
    shifts: Shifts

    @property
    def first_week(self) -> str:
        return self.weeks[0]

    @property
    def last_week(self) -> str:
        return self.weeks[-1]

    @property
    def has_complement(self) -> bool:
        breakdowns = (self.outcomes, self.backlog_by_urgency, *self.dimensions)
        return any(breakdown.has_complement for breakdown in breakdowns)


# -- suppression -----------------------------------------------------------------------------------


def total_cell(key: str, count: int, min_cell: int) -> Cell:
    return Cell(key, count, Shown.EXACT) if count >= min_cell else Cell(key, None, Shown.SMALL)


def exact_cell(key: str, count: int) -> Cell:
    """A number that describes no person: shown as it is."""
    return Cell(key, count, Shown.EXACT)


def suppress(counts: Sequence[tuple[str, int]], min_cell: int, *, sums_to_total: bool) -> tuple[Cell, ...]:
    """Cells for ``counts`` with small numbers hidden; see the module's docstring for the rule."""
    small = {index for index, (_, count) in enumerate(counts) if count < min_cell}
    complement: int | None = None
    if sums_to_total:
        nonzero_small = [index for index in small if counts[index][1] > 0]
        if len(small) == 1 or len(nonzero_small) == 1:
            candidates = [index for index, (_, count) in enumerate(counts) if index not in small and count > 0]
            if candidates:
                complement = min(candidates, key=lambda index: (counts[index][1], index))
    cells = []
    for index, (key, count) in enumerate(counts):
        if index in small:
            cells.append(Cell(key, None, Shown.SMALL))
        elif index == complement:
            cells.append(Cell(key, None, Shown.COMPLEMENT))
        else:
            cells.append(Cell(key, count, Shown.EXACT))
    return tuple(cells)


def hidden_sum(counts: Sequence[tuple[str, int]], cells: Sequence[Cell]) -> int:
    """What the hidden cells add up to (the chart's pooled "small groups" segment)."""
    return sum(count for (_, count), cell in zip(counts, cells, strict=True) if not cell.exact)


# -- histograms ------------------------------------------------------------------------------------


def percentile_bucket(histogram: dict[str, int], fraction: float) -> str | None:
    """The bucket holding the nearest-rank percentile (its upper bound is what we report)."""
    total = sum(histogram.get(bucket, 0) for bucket in metrics.DURATION_BUCKETS)
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in metrics.DURATION_BUCKETS:
        seen += histogram.get(bucket, 0)
        if seen >= rank:
            return bucket
    return metrics.OVER


def duration(name: str, histogram: dict[str, int]) -> Duration:
    """A waiting time describes the team's work, not a person: its median and 90th percentile are shown
    whatever the sample (None only without any)."""
    sample = sum(histogram.get(bucket, 0) for bucket in metrics.DURATION_BUCKETS)
    return Duration(
        name,
        exact_cell("sample", sample),
        percentile_bucket(histogram, 0.5),
        percentile_bucket(histogram, 0.9),
    )


# -- weeks -----------------------------------------------------------------------------------------


def week_monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_of(day: date) -> str:
    return iso_week(datetime.combine(day, time(), UTC))


def weeks_between(first: str, last: str) -> tuple[str, ...]:
    start, end = week_monday(first), week_monday(last)
    return tuple(week_of(start + timedelta(weeks=offset)) for offset in range((end - start).days // 7 + 1))


def period_weeks(period: Period, now: datetime, known_weeks: Iterable[str] = ()) -> tuple[str, ...]:
    """The ISO weeks a period covers, oldest first; "all" starts at the first week with any counter."""
    current = iso_week(now)
    length = PERIOD_LENGTH_WEEKS[period]
    if length is not None:
        return tuple(iso_week(now - timedelta(weeks=back)) for back in reversed(range(length)))
    known = sorted(week for week in known_weeks if WEEK_PATTERN.match(week))
    first = min(known[0], current) if known else current
    last = max(known[-1], current) if known else current
    return weeks_between(first, last)


# -- the summary -----------------------------------------------------------------------------------


class _Tally:
    """Counter rows folded into sums: ``weekly[week][metric][bucket]`` and ``gauges[metric][bucket]``."""

    def __init__(self, rows: Iterable[CounterRow]) -> None:
        self.weekly: dict[str, dict[str, dict[str, int]]] = {}
        self.gauges: dict[str, dict[str, int]] = {}
        for row in rows:
            if row.week == metrics.GAUGE_WEEK:
                table = self.gauges
            elif WEEK_PATTERN.match(row.week):
                table = self.weekly.setdefault(row.week, {})
            else:
                continue
            buckets = table.setdefault(row.metric, {})
            buckets[row.bucket] = buckets.get(row.bucket, 0) + row.count

    def value(self, weeks: Iterable[str], metric: str, bucket: str = metrics.ALL) -> int:
        return sum(self.weekly.get(week, {}).get(metric, {}).get(bucket, 0) for week in weeks)

    def by_bucket(self, weeks: Iterable[str], metric: str) -> dict[str, int]:
        sums: dict[str, int] = defaultdict(int)
        for week in weeks:
            for bucket, count in self.weekly.get(week, {}).get(metric, {}).items():
                sums[bucket] += count
        return dict(sums)

    def total(self, week: str, metric: str) -> int:
        return sum(self.weekly.get(week, {}).get(metric, {}).values())

    def gauge(self, metric: str) -> dict[str, int]:
        return dict(self.gauges.get(metric, {}))


def _ordered(sums: dict[str, int], known: Sequence[str]) -> list[tuple[str, int]]:
    """Every known option (zeros included, so a missing option says nothing) and then unknown codes."""
    extra = sorted(key for key in sums if key not in known)
    return [(key, sums.get(key, 0)) for key in (*known, *extra)]


def _breakdown(
    name: str, sums: dict[str, int], known: Sequence[str], min_cell: int, *, sums_to_total: bool
) -> Breakdown:
    counts = _ordered(sums, known)
    return Breakdown(name, suppress(counts, min_cell, sums_to_total=sums_to_total), sums_to_total)


def _chart(tally: _Tally, weeks: Sequence[str], min_cell: int) -> tuple[WeekBar, ...]:
    keys = OPTIONS[CHART_DIMENSION]
    backlog = sum(_net_opened(tally, week) for week in tally.weekly if week < weeks[0])  # ISO weeks sort as text
    bars = []
    for week in weeks:
        backlog += _net_opened(tally, week)
        # The bar's height is the week's arrivals (exact); its colours are answers (suppressed, pooled in grey).
        total = exact_cell("submitted", tally.value([week], metrics.SUBMITTED))
        counts = _ordered(tally.by_bucket([week], CHART_DIMENSION.value), keys)
        segments = suppress(counts, min_cell, sums_to_total=True)
        claim = duration(metrics.TIME_TO_CLAIM, tally.by_bucket([week], metrics.TIME_TO_CLAIM))
        bars.append(
            WeekBar(
                week=week,
                total=total,
                segments=segments,
                pooled=hidden_sum(counts, segments),
                backlog=max(backlog, 0),
                median_claim=claim.median,
            )
        )
    return tuple(bars)


def _net_opened(tally: _Tally, week: str) -> int:
    """Requests opened minus requests that stopped being open, in one week. (A request erased with /forget
    is taken out of ``submitted`` itself; weekly ``withdrawn`` rows are from before that was so.)"""
    return (
        tally.total(week, metrics.SUBMITTED)
        - tally.total(week, metrics.CLOSED)
        - tally.total(week, metrics.WITHDRAWN)
        + tally.total(week, metrics.REOPENED)
    )


def _withdrawn_ever(tally: _Tally) -> int:
    """Requests their requesters erased, ever. Counted without a week since /forget takes back every other
    counter of the request (docs/decisions/0011); weekly rows are from before that and count too."""
    return tally.gauge(metrics.WITHDRAWN).get(metrics.ALL, 0) + tally.value(tally.weekly, metrics.WITHDRAWN)


def _shifts(tally: _Tally, weeks: Sequence[str], zone: str) -> Shifts:
    hours = tally.by_bucket(weeks, metrics.ARRIVAL_HOUR)
    days = tally.by_bucket(weeks, metrics.ARRIVAL_WEEKDAY)
    languages = {bucket: max(count, 0) for bucket, count in tally.gauge(metrics.BACKLOG_LANGUAGE).items()}
    return Shifts(
        zone=zone,
        arrivals_by_hour=tuple(hours.get(f"{hour:02d}", 0) for hour in range(24)),
        arrivals_by_weekday=tuple(days.get(str(day), 0) for day in range(1, 8)),
        time_to_reply=duration(metrics.TIME_TO_REPLY, tally.by_bucket(weeks, metrics.TIME_TO_REPLY)),
        escalated=tally.value(weeks, metrics.ESCALATED),
        unanswered=max(tally.gauge(metrics.UNANSWERED).get(metrics.ALL, 0), 0),
        backlog_by_language=_exact_breakdown(metrics.BACKLOG_LANGUAGE, languages, LANGUAGES),
    )


def _exact_breakdown(name: str, sums: dict[str, int], known: Sequence[str]) -> Breakdown:
    cells = tuple(exact_cell(key, count) for key, count in _ordered(sums, known))
    return Breakdown(name, cells, sums_to_total=True)


def summarize(
    rows: Iterable[CounterRow], period: Period, *, min_cell: int, now: datetime, zone: str = "UTC"
) -> StatsSummary:
    """The statistics of ``period`` from counter rows: pure, so it is tested without a database."""
    min_cell = max(1, min_cell)
    tally = _Tally(rows)
    weeks = period_weeks(period, now, tally.weekly.keys())

    outcome_sums = tally.by_bucket(weeks, metrics.CLOSED)
    closed_total = sum(outcome_sums.values())
    backlog_sums = {bucket: max(count, 0) for bucket, count in tally.gauge(metrics.BACKLOG).items()}
    backlog_total = sum(backlog_sums.values())

    dimensions = [
        _breakdown(
            step.value,
            tally.by_bucket(weeks, step.value),
            OPTIONS[step],
            min_cell,
            sums_to_total=step not in MULTI_SELECT,
        )
        for step in STAT_DIMENSIONS
    ]
    dimensions.append(
        _breakdown(
            LANGUAGE_DIMENSION, tally.by_bucket(weeks, LANGUAGE_DIMENSION), LANGUAGES, min_cell, sums_to_total=True
        )
    )
    return StatsSummary(
        period=period,
        weeks=weeks,
        min_cell=min_cell,
        received=exact_cell(metrics.SUBMITTED, tally.value(weeks, metrics.SUBMITTED)),
        claimed=exact_cell(metrics.CLAIMED, tally.value(weeks, metrics.CLAIMED)),
        closed=exact_cell(metrics.CLOSED, closed_total),
        outcomes=_breakdown(metrics.CLOSED, outcome_sums, OUTCOMES, min_cell, sums_to_total=True),
        withdrawn=total_cell(metrics.WITHDRAWN, _withdrawn_ever(tally), min_cell),
        reopened=exact_cell(metrics.REOPENED, tally.value(weeks, metrics.REOPENED)),
        flagged=total_cell(metrics.FLAGGED, tally.value(weeks, metrics.FLAGGED), min_cell),
        backlog=exact_cell(metrics.BACKLOG, backlog_total),
        backlog_by_urgency=_exact_breakdown(metrics.BACKLOG, backlog_sums, OPTIONS[Step.URGENCY]),
        time_to_claim=duration(metrics.TIME_TO_CLAIM, tally.by_bucket(weeks, metrics.TIME_TO_CLAIM)),
        time_to_close=duration(metrics.TIME_TO_CLOSE, tally.by_bucket(weeks, metrics.TIME_TO_CLOSE)),
        dimensions=tuple(dimensions),
        chart=_chart(tally, weeks, min_cell),
        shifts=_shifts(tally, weeks, zone),
    )


async def compute_summary(
    counters: Counters, period: Period, *, min_cell: int, now: datetime | None = None, zone: str = "UTC"
) -> StatsSummary:
    """Read the counters (and nothing else) and summarize ``period`` (``zone``: the team's, named with the
    arrivals by hour)."""
    return summarize(await counters.rows(), period, min_cell=min_cell, now=now or clock.now(), zone=zone)

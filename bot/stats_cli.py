"""`tropa stats`: the numbers coordinators see in /stats, with the same suppression, on stdout.

The summary comes from ``services.stats.compute_summary`` exactly as in the bot; this module only
renders it: ``text`` (translated, as in Telegram), ``csv`` or ``json`` (option codes, not labels). A
hidden cell is written as ``<5`` (the actual threshold) or ``*``, never as its number.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from typing import Any

from bot.runtime import open_runtime
from bot.settings import SUPPORTED_LANGUAGES, Settings
from services import metrics
from services.stats import Breakdown, Cell, Duration, Period, Shifts, Shown, StatsSummary, compute_summary
from storage.counters import Counters

FORMATS = ("text", "csv", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period",
        choices=[period.value for period in Period],
        default=Period.FOUR_WEEKS.value,
        help="which weeks to count (default: 4_weeks, the current week and the three before it)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--language",
        choices=SUPPORTED_LANGUAGES,
        default=None,
        help="language of the text format (default: TROPA_DEFAULT_LANGUAGE)",
    )


async def load_summary(settings: Settings, period: Period) -> StatsSummary:
    """Open the database (refusing cleanly without a keyring), read the counters, close."""
    runtime = await open_runtime(settings, create_if_fresh=False, say=lambda line: print(line, file=sys.stderr))
    try:
        async with runtime.db.transaction() as session:
            return await compute_summary(
                Counters(session), period, min_cell=settings.stats_min_cell, zone=settings.hours.zone.key
            )
    finally:
        await runtime.close()


def run(settings: Settings, args: argparse.Namespace) -> None:
    summary = asyncio.run(load_summary(settings, Period(args.period)))
    if args.format == "json":
        output = json.dumps(summary_json(summary), ensure_ascii=False, indent=2)
    elif args.format == "csv":
        output = summary_csv(summary)
    else:
        output = summary_text(summary, args.language or settings.default_language)
    sys.stdout.write(output if output.endswith("\n") else output + "\n")
    sys.stdout.flush()


# -- renderers -------------------------------------------------------------------------------------


def summary_text(summary: StatsSummary, language: str) -> str:
    # Imported here: the catalogs and the views pull in aiogram (seconds of start-up), which every other
    # command, `tropa --help` included, does without.
    from bot.i18n import create_i18n
    from views.stats import summary_plain_text

    i18n = create_i18n(language)
    with i18n.context(), i18n.use_locale(language):
        return summary_plain_text(summary)


def cell_value(cell: Cell, min_cell: int) -> int | str:
    """The published value: the number, ``<5`` below the threshold, or ``*`` when hidden as a complement."""
    if cell.shown is Shown.EXACT and cell.count is not None:
        return cell.count
    return f"<{min_cell}" if cell.shown is Shown.SMALL else "*"


def _breakdown_json(breakdown: Breakdown, min_cell: int) -> dict[str, int | str]:
    return {cell.key: cell_value(cell, min_cell) for cell in breakdown.cells}


def _duration_json(duration: Duration, min_cell: int) -> dict[str, Any]:
    def bound(bucket: str | None) -> int | None:
        return None if bucket is None else metrics.bucket_upper_minutes(bucket)

    return {
        "sample": cell_value(duration.sample, min_cell),
        "median_bucket": duration.median,
        "median_at_most_minutes": bound(duration.median),
        "p90_bucket": duration.p90,
        "p90_at_most_minutes": bound(duration.p90),
    }


def _shifts_json(shifts: Shifts, min_cell: int) -> dict[str, Any]:
    return {
        "zone": shifts.zone,
        "arrivals_by_hour": {f"{hour:02d}": count for hour, count in enumerate(shifts.arrivals_by_hour)},
        "arrivals_by_weekday": {str(day): count for day, count in enumerate(shifts.arrivals_by_weekday, start=1)},
        "time_to_first_answer": _duration_json(shifts.time_to_reply, min_cell),
        "escalated": shifts.escalated,
        "unanswered_now": shifts.unanswered,
        "open_now_by_language": _breakdown_json(shifts.backlog_by_language, min_cell),
    }


def summary_json(summary: StatsSummary) -> dict[str, Any]:
    n = summary.min_cell
    return {
        "period": summary.period.value,
        "first_week": summary.first_week,
        "last_week": summary.last_week,
        "min_cell": n,
        "received": cell_value(summary.received, n),
        "claimed": cell_value(summary.claimed, n),
        "closed": cell_value(summary.closed, n),
        "closed_by_outcome": _breakdown_json(summary.outcomes, n),
        "withdrawn": cell_value(summary.withdrawn, n),
        "reopened": cell_value(summary.reopened, n),
        "flagged": cell_value(summary.flagged, n),
        "open_now": cell_value(summary.backlog, n),
        "open_now_by_urgency": _breakdown_json(summary.backlog_by_urgency, n),
        "time_to_claim": _duration_json(summary.time_to_claim, n),
        "time_to_close": _duration_json(summary.time_to_close, n),
        "breakdowns": {breakdown.name: _breakdown_json(breakdown, n) for breakdown in summary.dimensions},
        "shifts": _shifts_json(summary.shifts, n),
        "weeks": [
            {
                "week": bar.week,
                "received": cell_value(bar.total, n),
                "by_status": {cell.key: cell_value(cell, n) for cell in bar.segments},
                "small_groups": bar.pooled if bar.total.exact else None,
                "open_estimated": bar.backlog if bar.backlog is not None else f"<{n}",
                "median_time_to_claim_bucket": bar.median_claim,
            }
            for bar in summary.chart
        ],
    }


def summary_csv(summary: StatsSummary) -> str:
    """One row per published number: ``section,key,value``."""
    n = summary.min_cell
    rows: list[tuple[str, str, int | str | None]] = [
        ("period", "name", summary.period.value),
        ("period", "first_week", summary.first_week),
        ("period", "last_week", summary.last_week),
        ("period", "min_cell", n),
        ("totals", "received", cell_value(summary.received, n)),
        ("totals", "claimed", cell_value(summary.claimed, n)),
        ("totals", "closed", cell_value(summary.closed, n)),
        ("totals", "withdrawn", cell_value(summary.withdrawn, n)),
        ("totals", "reopened", cell_value(summary.reopened, n)),
        ("totals", "flagged", cell_value(summary.flagged, n)),
        ("totals", "open_now", cell_value(summary.backlog, n)),
    ]
    rows += [("closed_by_outcome", cell.key, cell_value(cell, n)) for cell in summary.outcomes.cells]
    rows += [("open_now_by_urgency", cell.key, cell_value(cell, n)) for cell in summary.backlog_by_urgency.cells]
    for duration in (summary.time_to_claim, summary.time_to_close):
        rows += [(duration.name, key, value) for key, value in _duration_json(duration, n).items()]
    for breakdown in summary.dimensions:
        rows += [(breakdown.name, cell.key, cell_value(cell, n)) for cell in breakdown.cells]
    for section, values in _shifts_json(summary.shifts, n).items():
        if isinstance(values, dict):
            rows += [(section, key, value) for key, value in values.items()]
        else:
            rows.append(("shifts", section, values))
    for week in summary_json(summary)["weeks"]:
        rows += [
            (f"week {week['week']}", "received", week["received"]),
            (f"week {week['week']}", "open_estimated", week["open_estimated"]),
            (f"week {week['week']}", "median_time_to_claim_bucket", week["median_time_to_claim_bucket"]),
        ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "key", "value"))
    writer.writerows(("" if value is None else value for value in row) for row in rows)
    return buffer.getvalue()

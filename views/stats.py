"""What coordinators see of the statistics: the period buttons, the summary text and the chart's labels.

Everything here renders a :class:`services.stats.StatsSummary`; no number is computed or un-hidden here.
Call these inside an i18n context (the bot's locale middleware, or ``i18n.use_locale`` on the CLI).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Italic, Text, as_line, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from services import metrics
from services.questionnaire import OPTIONS, Step
from services.stats import CHART_DIMENSION, LANGUAGE_DIMENSION, Breakdown, Cell, Duration, Period, Shown, StatsSummary
from storage import clock
from views.callbacks import StatsPeriod
from views.chart import ChartSpec, HoursSpec, Stack
from views.language import language_name, zone_words
from views.questions import STEP_TITLES, option_label
from views.volunteer import OUTCOME_LABELS

MESSAGE_LIMIT = 4096  # Telegram's limit, in UTF-16 code units after entity parsing
COMPLEMENT_MARK = "*"
BULLET = "• "


PERIOD_BUTTONS: dict[Period, Any] = {
    Period.THIS_WEEK: __("Current week"),
    Period.FOUR_WEEKS: __("Last 4 weeks"),
    Period.TWELVE_WEEKS: __("Last 12 weeks"),
    Period.ALL: __("All time"),
}

PERIOD_TITLES: dict[Period, Any] = {
    Period.THIS_WEEK: __("Statistics for the current week"),
    Period.FOUR_WEEKS: __("Statistics for the last 4 weeks"),
    Period.TWELVE_WEEKS: __("Statistics for the last 12 weeks"),
    Period.ALL: __("Statistics for all time"),
}


def period_prompt() -> Text:
    return Text(_("Statistics: choose a period."))


def period_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=str(PERIOD_BUTTONS[period]), callback_data=StatsPeriod(period=period).pack())
                for period in row
            ]
            for row in ((Period.THIS_WEEK, Period.FOUR_WEEKS), (Period.TWELVE_WEEKS, Period.ALL))
        ]
    )


# -- numbers and labels ----------------------------------------------------------------------------


def small_mark(min_cell: int) -> str:
    return f"<{min_cell}"


def cell_text(cell: Cell, min_cell: int) -> str:
    if cell.shown is Shown.EXACT:
        return str(cell.count)
    return small_mark(min_cell) if cell.shown is Shown.SMALL else COMPLEMENT_MARK


def duration_label(bucket: str) -> str:
    """A bucket as its upper bound: "≤ 1 h"; the open last bucket as "> 7 d"."""
    minutes = metrics.bucket_upper_minutes(bucket)
    if minutes is None:
        return _("> {n} d").format(n=metrics.DURATION_BOUNDS_MINUTES[-1] // 1440)
    if minutes < 60:
        return _("≤ {n} min").format(n=minutes)
    if minutes < 1440:
        return _("≤ {n} h").format(n=minutes // 60)
    return _("≤ {n} d").format(n=minutes // 1440)


def dimension_title(name: str) -> str:
    return _("Language") if name == LANGUAGE_DIMENSION else str(STEP_TITLES[Step(name)])


def option_text(dimension: str, key: str) -> str:
    """The label of one option of a breakdown; a code no longer in the questionnaire shows as itself."""
    if dimension in (LANGUAGE_DIMENSION, metrics.BACKLOG_LANGUAGE):
        return language_name(key)
    if dimension == metrics.CLOSED:
        return str(OUTCOME_LABELS[key]) if key in OUTCOME_LABELS else key
    step = Step.URGENCY if dimension == metrics.BACKLOG else Step(dimension)
    return option_label(step, key, for_team=True)


# -- the summary text ------------------------------------------------------------------------------


def _count_line(label: str, cell: Cell, min_cell: int) -> Text:
    return as_line(label, ": ", Bold(cell_text(cell, min_cell)), end="")


def _breakdown_lines(breakdown: Breakdown, min_cell: int) -> list[Text]:
    return [
        as_line(BULLET, option_text(breakdown.name, cell.key), ": ", cell_text(cell, min_cell), end="")
        for cell in breakdown.cells
    ]


def _inline_breakdown(label: str, breakdown: Breakdown, min_cell: int) -> Text:
    """A breakdown on one line: "By language: Русский 2 · Українська 0 · English 3"."""
    cells = " · ".join(
        f"{option_text(breakdown.name, cell.key)} {cell_text(cell, min_cell)}" for cell in breakdown.cells
    )
    return as_line(label, ": ", cells, end="")


def _number_line(label: str, count: int) -> Text:
    return as_line(label, ": ", Bold(str(count)), end="")


def _duration_line(label: str, duration: Duration, min_cell: int) -> Text:
    if duration.median is None or duration.p90 is None:
        return as_line(label, ": ", Italic(_("none yet")), end="")
    return as_line(
        label,
        ": ",
        _("median {median}, 90% within {p90} (of {n})").format(
            median=duration_label(duration.median),
            p90=duration_label(duration.p90),
            n=cell_text(duration.sample, min_cell),
        ),
        end="",
    )


def summary_title(summary: StatsSummary) -> str:
    return str(PERIOD_TITLES[summary.period])


def weeks_text(summary: StatsSummary) -> str:
    if summary.first_week == summary.last_week:
        return _("Week {week}").format(week=summary.first_week)
    return _("Weeks {first} to {last}").format(first=summary.first_week, last=summary.last_week)


def summary_sections(summary: StatsSummary) -> list[Text]:
    """The summary as sections; :func:`summary_messages` packs them into messages."""
    n = summary.min_cell
    sections = [
        as_list(
            Bold(summary_title(summary)),
            weeks_text(summary),
            Italic(_("Numbers below {n} are shown as {mark}.").format(n=n, mark=small_mark(n))),
        ),
        as_list(
            Bold(_("Requests")),
            _count_line(_("Received"), summary.received, n),
            _count_line(_("Claimed"), summary.claimed, n),
            _count_line(_("Closed"), summary.closed, n),
            *_breakdown_lines(summary.outcomes, n),
            _count_line(_("Erased by their requesters (all time)"), summary.withdrawn, n),
            _count_line(_("Reopened"), summary.reopened, n),
            _count_line(_("Flagged as suspicious"), summary.flagged, n),
            _number_line(_("Urgent and not taken in time (escalated)"), summary.shifts.escalated),
        ),
        as_list(
            Bold(_("Open right now")),
            _count_line(_("Open requests"), summary.backlog, n),
            *_breakdown_lines(summary.backlog_by_urgency, n),
            _inline_breakdown(_("By language"), summary.shifts.backlog_by_language, n),
            _number_line(_("Messages from requesters waiting for an answer"), summary.shifts.unanswered),
        ),
        as_list(
            Bold(_("Waiting times")),
            _duration_line(_("Time to claim"), summary.time_to_claim, n),
            _duration_line(_("Time to the first answer"), summary.shifts.time_to_reply, n),
            _duration_line(_("Time to close"), summary.time_to_close, n),
        ),
        arrivals_section(summary),
    ]
    for breakdown in summary.dimensions:
        heading: list[Any] = [Bold(dimension_title(breakdown.name))]
        if not breakdown.sums_to_total:
            heading += [" ", Italic(_("(several answers per request)"))]
        sections.append(as_list(Text(*heading), *_breakdown_lines(breakdown, n)))
    if summary.has_complement:
        sections.append(
            Italic(
                _("{mark} also hidden, so that the small numbers cannot be worked out from the total.").format(
                    mark=COMPLEMENT_MARK
                )
            )
        )
    return sections


WEEKDAYS: tuple[Any, ...] = (__("Mon"), __("Tue"), __("Wed"), __("Thu"), __("Fri"), __("Sat"), __("Sun"))


def arrivals_title(summary: StatsSummary) -> str:
    """The team's zone in words ("Moscow time"), like every time the bot shows."""
    zone = summary.shifts.zone
    offset = clock.now().astimezone(ZoneInfo(zone)).utcoffset()
    return _("When requests arrive ({zone})").format(zone=zone_words(zone, offset))


def arrivals_section(summary: StatsSummary) -> Text:
    """Arrivals by hour, six hours a line ("18–23: 3 · 5 · 7 · 4 · 2 · 1"), then by day of the week."""
    hours = summary.shifts.arrivals_by_hour
    lines = [
        as_line(f"{start:02d}–{start + 5:02d}: ", " · ".join(str(count) for count in hours[start : start + 6]), end="")
        for start in range(0, 24, 6)
    ]
    days = " · ".join(f"{day} {count}" for day, count in zip(WEEKDAYS, summary.shifts.arrivals_by_weekday, strict=True))
    return as_list(Bold(arrivals_title(summary)), *lines, as_line(_("By day"), ": ", days, end=""))


def _length(text: Text) -> int:
    return len(text.render()[0].encode("utf-16-le")) // 2


def summary_messages(summary: StatsSummary, limit: int = MESSAGE_LIMIT) -> list[Text]:
    """The summary in as few messages as Telegram's length limit allows, never splitting a section."""
    messages: list[Text] = []
    current: list[Text] = []
    for section in summary_sections(summary):
        candidate = as_list(*current, section, sep="\n\n")
        if current and _length(candidate) > limit:
            messages.append(as_list(*current, sep="\n\n"))
            current = [section]
        else:
            current.append(section)
    if current:
        messages.append(as_list(*current, sep="\n\n"))
    return messages


def summary_plain_text(summary: StatsSummary) -> str:
    """The same summary as plain text, for the command line."""
    return as_list(*summary_sections(summary), sep="\n\n").render()[0]


def chart_caption(summary: StatsSummary) -> Text:
    return as_list(Bold(summary_title(summary)), weeks_text(summary))


# -- the chart -------------------------------------------------------------------------------------


def chart_spec(summary: StatsSummary) -> ChartSpec:
    """Translate the chart's labels now (gettext needs this context), so the drawing needs none."""
    bars = summary.chart
    stacks = []
    for position, key in enumerate(OPTIONS[CHART_DIMENSION]):
        values = []
        for bar in bars:
            cell = bar.segments[position] if position < len(bar.segments) else None
            values.append(cell.count if cell is not None and cell.exact and cell.count else 0)
        stacks.append(Stack(option_label(CHART_DIMENSION, key), tuple(values)))
    levels = tuple(duration_label(bucket) for bucket in metrics.DURATION_BUCKETS)
    return ChartSpec(
        title=summary_title(summary),
        weeks=tuple(bar.week for bar in bars),
        stacks=tuple(stacks),
        small_groups=Stack(_("Other (small groups combined)"), tuple(bar.pooled for bar in bars)),
        hidden=tuple(not bar.total.exact for bar in bars),
        hidden_mark=small_mark(summary.min_cell),
        count_axis=_("Requests received per week"),
        backlog_label=_("Open requests (estimated)"),
        backlog=tuple(bar.backlog for bar in bars),
        time_axis=_("Median time to claim"),
        claim_label=_("Median time to claim"),
        claim_levels=levels,
        claim=tuple(
            metrics.DURATION_BUCKETS.index(bar.median_claim) if bar.median_claim is not None else None for bar in bars
        ),
        empty_note=_("No requests in this period."),
    )


def hours_spec(summary: StatsSummary) -> HoursSpec:
    """The arrivals-by-hour chart's labels, translated now (gettext needs this context)."""
    return HoursSpec(
        title=arrivals_title(summary),
        subtitle=weeks_text(summary),
        hours=summary.shifts.arrivals_by_hour,
        count_axis=_("Requests received"),
        hour_axis=_("Hour of the day"),
        empty_note=_("No requests in this period."),
    )


def hours_caption(summary: StatsSummary) -> Text:
    return as_list(Bold(arrivals_title(summary)), weeks_text(summary))

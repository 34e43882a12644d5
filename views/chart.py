"""The weekly statistics chart as a PNG, drawn with matplotlib's object API (no pyplot, no global state).

:func:`render_chart` takes a :class:`ChartSpec` that already holds translated labels and published
numbers only, so it needs no gettext context and can run in a worker thread
(``await asyncio.to_thread(render_chart, spec)``) while the event loop goes on.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_INCHES, HEIGHT_INCHES, DPI = 11.0, 7.0, 100  # 1100 × 700 px
HOURS_HEIGHT_INCHES = 5.0  # 1100 × 500 px
MAX_WEEK_LABELS = 16
LEGEND_COLUMNS = 3
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7")
SMALL_GROUPS_COLOUR = "#a0a0a0"
BACKLOG_COLOUR = "#222222"
CLAIM_COLOUR = "#c2185b"

# One figure at a time: Agg figures are independent, but text layout shares font caches.
_render_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Stack:
    """One coloured part of the weekly bars: its legend label and one height per week."""

    label: str
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    weeks: tuple[str, ...]  # x-axis labels, oldest first
    stacks: tuple[Stack, ...]  # bottom to top
    small_groups: Stack  # the grey pooled segment, drawn on top of the stacks
    hidden: tuple[bool, ...]  # weeks whose total is below the threshold: no bar, only ``hidden_mark``
    hidden_mark: str
    count_axis: str
    backlog_label: str
    backlog: tuple[int | None, ...]
    time_axis: str
    claim_label: str
    claim_levels: tuple[str, ...]  # tick labels of the second axis, one per duration bucket
    claim: tuple[int | None, ...]  # index into ``claim_levels`` per week
    empty_note: str


def _gaps(values: Sequence[int | None]) -> list[float]:
    return [math.nan if value is None else float(value) for value in values]


@dataclass(frozen=True, slots=True)
class HoursSpec:
    """The arrivals by hour of day: 24 bars, from 00:00, in the team's time zone."""

    title: str
    subtitle: str
    hours: tuple[int, ...]
    count_axis: str
    hour_axis: str
    empty_note: str


def _png(draw: Callable[[Figure], None], height: float = HEIGHT_INCHES) -> bytes:
    """A figure drawn by ``draw``, as PNG bytes.

    matplotlib is imported here, at the first chart, not when the bot starts: it costs over a second of
    every start-up, and on a fresh home it builds its font cache then."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _render_lock:
        figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
        FigureCanvasAgg(figure)
        draw(figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
        return buffer.getvalue()


def render_chart(spec: ChartSpec) -> bytes:
    """Draw the weekly chart and return PNG bytes (about 1100 × 700 px, a few tens of KB)."""
    return _png(lambda figure: _draw(figure, spec))


def render_hours(spec: HoursSpec) -> bytes:
    """Draw the arrivals by hour and return PNG bytes (about 1100 × 500 px)."""
    return _png(lambda figure: _draw_hours(figure, spec), HOURS_HEIGHT_INCHES)


def _draw_hours(figure: Figure, spec: HoursSpec) -> None:
    axes = figure.add_subplot()
    hours = list(range(24))
    axes.bar(hours, spec.hours, width=0.8, color=PALETTE[0], edgecolor="white", linewidth=0.6)
    for hour, count in zip(hours, spec.hours, strict=True):
        if count:
            axes.text(hour, count, str(count), ha="center", va="bottom", fontsize=8, color="#444444")
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([*spec.hours, 4]) * 1.18)
    axes.set_xlim(-0.6, 23.6)
    axes.set_xticks(hours)
    axes.set_xticklabels([f"{hour:02d}" for hour in hours], fontsize=9)
    axes.set_xlabel(spec.hour_axis)
    axes.set_ylabel(spec.count_axis)
    axes.grid(axis="y", color="#e6e6e6", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.set_title(f"{spec.title}\n{spec.subtitle}", fontsize=12)
    if not any(spec.hours):
        axes.text(
            0.5, 0.5, spec.empty_note, transform=axes.transAxes, ha="center", va="center", fontsize=12, color="#666"
        )
    figure.subplots_adjust(left=0.07, right=0.97, top=0.86, bottom=0.13)


def _draw(figure: Figure, spec: ChartSpec) -> None:
    n = len(spec.weeks)
    x = list(range(n))
    counts = figure.add_subplot()
    bottoms = [0.0] * n
    drew_anything = False
    for index, stack in enumerate((*spec.stacks, spec.small_groups)):
        if not any(stack.values):
            continue
        grey = stack is spec.small_groups
        counts.bar(
            x,
            stack.values,
            bottom=bottoms,
            width=0.72,
            color=SMALL_GROUPS_COLOUR if grey else PALETTE[index % len(PALETTE)],
            hatch="//" if grey else None,
            edgecolor="white",
            linewidth=0.6,
            label=stack.label,
        )
        bottoms = [bottom + value for bottom, value in zip(bottoms, stack.values, strict=True)]
        drew_anything = True
    for week, hidden in enumerate(spec.hidden):
        if hidden:
            counts.text(week, 0, spec.hidden_mark, ha="center", va="bottom", fontsize=9, color="#666666")

    backlog = _gaps(spec.backlog)
    if any(not math.isnan(value) for value in backlog):
        counts.plot(x, backlog, color=BACKLOG_COLOUR, marker="o", markersize=4, linewidth=2, label=spec.backlog_label)
        drew_anything = True
    highest = max([*bottoms, *(value for value in backlog if not math.isnan(value)), 5.0])
    counts.set_ylim(0, highest * 1.15)
    from matplotlib.ticker import MaxNLocator

    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts.set_ylabel(spec.count_axis)
    padding = max(0.0, (8 - n) / 2)  # a single week should not become one bar as wide as the chart
    counts.set_xlim(-0.6 - padding, n - 0.4 + padding)
    step = max(1, math.ceil(n / MAX_WEEK_LABELS))
    counts.set_xticks(x[::step])
    counts.set_xticklabels(spec.weeks[::step], rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center")
    counts.grid(axis="y", color="#e6e6e6", linewidth=0.8)
    counts.set_axisbelow(True)
    counts.set_title(spec.title, fontsize=13)

    times = counts.twinx()
    claim = _gaps(spec.claim)
    if any(not math.isnan(value) for value in claim):
        times.plot(
            x,
            claim,
            color=CLAIM_COLOUR,
            linestyle=":",
            marker="D",
            markersize=6,
            linewidth=1.5,
            label=spec.claim_label,
        )
        drew_anything = True
    times.set_ylim(-0.5, len(spec.claim_levels) - 0.5)
    times.set_yticks(list(range(len(spec.claim_levels))))
    times.set_yticklabels(list(spec.claim_levels), fontsize=9)
    times.set_ylabel(spec.time_axis, color=CLAIM_COLOUR)

    if not drew_anything:
        counts.text(
            0.5, 0.5, spec.empty_note, transform=counts.transAxes, ha="center", va="center", fontsize=12, color="#666"
        )
    handles, labels = counts.get_legend_handles_labels()
    more_handles, more_labels = times.get_legend_handles_labels()
    # The bars first (bottom to top, as stacked), then the lines.
    order = sorted(range(len(handles)), key=lambda i: labels[i] == spec.backlog_label)
    if handles or more_handles:
        figure.legend(
            [handles[i] for i in order] + more_handles,
            [labels[i] for i in order] + more_labels,
            loc="lower center",
            ncol=LEGEND_COLUMNS,
            frameon=False,
            fontsize=9,
        )
    legend_rows = math.ceil((len(handles) + len(more_handles)) / LEGEND_COLUMNS)
    tick_room = 0.1 if n > 6 else 0.06  # rotated week labels need more
    figure.subplots_adjust(left=0.07, right=0.84, top=0.93, bottom=tick_room + 0.04 + 0.035 * legend_rows)

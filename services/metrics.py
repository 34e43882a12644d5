"""Names of the aggregate counters and the time buckets of the histograms.

Every counter is (ISO week of the event, metric, bucket). Durations are counted into coarse buckets
per week, never per request, so a distribution survives without any row that describes one person.
"""

from __future__ import annotations

from datetime import timedelta

SUBMITTED = "submitted"
CLAIMED = "claimed"
CLOSED = "closed"
FLAGGED = "flagged"
REOPENED = "reopened"
WITHDRAWN = "withdrawn"  # requests erased by their requesters (/forget): an all-time gauge, see 0011
TIME_TO_CLAIM = "time_to_claim"
TIME_TO_CLOSE = "time_to_close"
TIME_TO_REPLY = "time_to_reply"  # from submission to the first message a volunteer sent, once per request
ESCALATED = "escalated"  # urgent requests nobody claimed in time
ARRIVAL_HOUR = "arrival_hour"  # submissions by hour of day in the team's time zone: "00" to "23"
ARRIVAL_WEEKDAY = "arrival_weekday"  # submissions by day of the week there: "1" (Monday) to "7"
ALL = "all"

# Gauges: not per week but current totals, kept in the same table under this pseudo-week.
GAUGE_WEEK = "total"
BACKLOG = "backlog"  # open (new or claimed) requests by urgency
BACKLOG_LANGUAGE = "backlog_language"  # the same requests by language
UNANSWERED = "unanswered"  # requesters' messages of open requests that no volunteer has answered yet

# Upper bounds of the duration buckets, in minutes; the last bucket is open-ended.
DURATION_BOUNDS_MINUTES: tuple[int, ...] = (15, 60, 240, 720, 1440, 4320, 10080)
OVER = "over"


def duration_bucket(elapsed: timedelta) -> str:
    minutes = elapsed.total_seconds() / 60
    for bound in DURATION_BOUNDS_MINUTES:
        if minutes <= bound:
            return f"le{bound}"
    return OVER


def bucket_upper_minutes(bucket: str) -> int | None:
    """The bucket's upper bound in minutes (None for the open-ended last bucket)."""
    return None if bucket == OVER else int(bucket.removeprefix("le"))


DURATION_BUCKETS: tuple[str, ...] = (*(f"le{b}" for b in DURATION_BOUNDS_MINUTES), OVER)

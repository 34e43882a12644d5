"""Injected failures: flood control, server errors, refusals and dropped connections, before any effect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from testkit.telegram.errors import BLOCKED, ApiError, DroppedConnection

FaultKind = Literal["429", "500", "403", "drop"]
KINDS = ("429", "500", "403", "drop")


@dataclass
class Fault:
    method: str | None
    kind: FaultKind
    remaining: int
    retry_after: int = 1
    skip: int = 0  # matching calls that still succeed before the fault starts

    def matches(self, method: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method is None:
            return method.lower() != "getupdates"
        return self.method.lower() == method.lower()


def fault(method: str | None, kind: FaultKind | int, times: int, retry_after: int, skip: int) -> Fault:
    name = str(kind)
    if name not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}")
    return Fault(method, cast(FaultKind, name), times, retry_after, skip)


def fire(faults: list[Fault], method: str) -> None:
    """Raise what the first fault matching ``method`` stands for (and use it up), if one is due."""
    due = next((f for f in faults if f.matches(method)), None)
    if due is None:
        return
    if due.skip > 0:
        due.skip -= 1
        return
    due.remaining -= 1
    if due.remaining <= 0:
        faults.remove(due)
    if due.kind == "429":
        raise ApiError(429, f"Too Many Requests: retry after {due.retry_after}", due.retry_after)
    if due.kind == "500":
        raise ApiError(500, "Internal Server Error")
    if due.kind == "403":
        raise ApiError(403, BLOCKED)
    raise DroppedConnection(f"injected dropped connection on {method}")

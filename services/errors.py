"""A use case's refusal: a stable reason code that views/errors.py translates.

A use case checks everything before it writes anything, so a refusal leaves nothing behind: the update's
transaction may commit around it (handlers/refusals.py answers it) without a half-done change in it.
"""

from __future__ import annotations


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class QueueError(Refused):
    """The queue, the relay, notes, canned replies or blocks refused."""


class TeamError(Refused):
    """Joining or managing the team refused."""

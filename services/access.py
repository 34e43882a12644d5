"""Who may see or change a case, checked in one place: the button or the command is a wish, not a permission.

Every use case asks here before it reads or writes; handlers never check holding themselves.
"""

from __future__ import annotations

from services.errors import QueueError
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord


def require_holder(volunteer: VolunteerRecord, record: RequestRecord) -> None:
    """Only the volunteer holding a claimed case sees or changes it; anyone else (a coordinator, the volunteer
    who held it before) is refused. A coordinator opens it only through an inspection."""
    if not record.held_by(volunteer.id):
        raise QueueError("not_yours")


def require_coordinator(volunteer: VolunteerRecord) -> None:
    if not volunteer.is_coordinator:
        raise QueueError("not_yours")


def require_not_blocked(record: RequestRecord) -> None:
    """A blocked person's request can be neither taken, answered, handed on nor reopened."""
    if record.requester_blocked:
        raise QueueError("blocked")

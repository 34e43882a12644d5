"""The closed vocabularies the database stores as text: a request's status, a team member's role, an outbox
message's recipient, a language. Each is a StrEnum, equal to the text it is stored as, so rows written before
these classes existed read the same, and no migration is needed."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a request is: waiting in the queue, held by a volunteer, or closed."""

    NEW = "new"
    CLAIMED = "claimed"
    CLOSED = "closed"


OPEN_STATUSES: tuple[Status, ...] = (Status.NEW, Status.CLAIMED)


class Role(StrEnum):
    """A team member's role, in rising order: each role can do all that the ones before it can."""

    VOLUNTEER = "volunteer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    def at_least(self, minimum: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(minimum)


class Recipient(StrEnum):
    """Whom an outbox message goes to: resolved when it is sent, not when it is queued."""

    REQUESTER = "requester"  # the person who wrote the request
    VOLUNTEER = "volunteer"  # one team member, named by id
    ASSIGNEE = "assignee"  # whoever holds the request when the message goes out
    GROUP = "group"  # the volunteers' group
    CHAT = "chat"  # a chat named in the message itself (a person's intake, an update's own edit)


class Language(StrEnum):
    """The languages the bot speaks (bot/locales), in the order they are offered."""

    RU = "ru"
    UK = "uk"
    EN = "en"

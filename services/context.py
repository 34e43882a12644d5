"""Per-transaction access to repositories and use cases; the one object handlers receive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit_trail import AuditTrailService
from services.blocks import BlockService
from services.canned import CannedService
from services.conversation import ConversationService
from services.deadlines import Deadlines
from services.events import Events
from services.goodbye import GoodbyeService
from services.handover import HandoverService
from services.intake import IntakeService
from services.notes import NotesService
from services.policy import Policy
from services.prompts import Prompts
from services.queue import QueueService
from services.reconnect import ReconnectService
from services.relay import RelayService
from services.retention import Retention
from services.team import TeamService
from storage.audit import AuditLog
from storage.counters import Counters
from storage.outbox import Outbox
from storage.requests import RequestRepository
from storage.shown import ShownMessages
from storage.vault import Vault
from storage.volunteers import VolunteerRepository

R = TypeVar("R")


def _repository(kind: Callable[[AsyncSession, Vault], R]) -> cached_property[R]:
    """A repository of the transaction, made the first time something asks for it."""
    return cached_property(lambda services: kind(services.session, services.vault))


@dataclass
class Services:
    """Each repository and use case below is made once per transaction, when it is first used."""

    session: AsyncSession
    vault: Vault
    policy: Policy
    events: Events

    # repositories
    requests = _repository(RequestRepository)
    volunteers = _repository(VolunteerRepository)
    outbox = _repository(Outbox)
    shown = _repository(ShownMessages)
    counters = cached_property(lambda services: Counters(services.session))
    audit = cached_property(lambda services: AuditLog(services.session))

    # use cases
    intake = cached_property(IntakeService)
    queue = cached_property(QueueService)
    canned = cached_property(CannedService)
    notes = cached_property(NotesService)
    audit_trail = cached_property(AuditTrailService)
    blocks = cached_property(BlockService)
    deadlines = cached_property(Deadlines)
    retention = cached_property(Retention)
    reconnect = cached_property(ReconnectService)
    relay = cached_property(RelayService)
    team = cached_property(TeamService)
    conversation = cached_property(ConversationService)
    prompts = cached_property(Prompts)
    handover = cached_property(HandoverService)
    goodbye = cached_property(GoodbyeService)

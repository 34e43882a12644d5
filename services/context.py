"""Per-transaction access to repositories and use cases; the one object handlers receive."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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


@dataclass
class Services:
    session: AsyncSession
    vault: Vault
    policy: Policy
    events: Events

    @cached_property
    def requests(self) -> RequestRepository:
        return RequestRepository(self.session, self.vault)

    @cached_property
    def volunteers(self) -> VolunteerRepository:
        return VolunteerRepository(self.session, self.vault)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(self.session, self.vault)

    @cached_property
    def shown(self) -> ShownMessages:
        return ShownMessages(self.session, self.vault)

    @cached_property
    def counters(self) -> Counters:
        return Counters(self.session)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.session)

    @cached_property
    def intake(self) -> IntakeService:
        return IntakeService(self)

    @cached_property
    def queue(self) -> QueueService:
        return QueueService(self)

    @cached_property
    def canned(self) -> CannedService:
        return CannedService(self)

    @cached_property
    def notes(self) -> NotesService:
        return NotesService(self)

    @cached_property
    def audit_trail(self) -> AuditTrailService:
        return AuditTrailService(self)

    @cached_property
    def blocks(self) -> BlockService:
        return BlockService(self)

    @cached_property
    def deadlines(self) -> Deadlines:
        return Deadlines(self)

    @cached_property
    def retention(self) -> Retention:
        return Retention(self)

    @cached_property
    def reconnect(self) -> ReconnectService:
        return ReconnectService(self)

    @cached_property
    def relay(self) -> RelayService:
        return RelayService(self)

    @cached_property
    def team(self) -> TeamService:
        return TeamService(self)

    @cached_property
    def conversation(self) -> ConversationService:
        return ConversationService(self)

    @cached_property
    def prompts(self) -> Prompts:
        return Prompts(self)

    @cached_property
    def handover(self) -> HandoverService:
        return HandoverService(self)

    @cached_property
    def goodbye(self) -> GoodbyeService:
        return GoodbyeService(self)

"""What every use case works with: the update's ``Services`` (its transaction, repositories and other use cases)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.context import Services


class UseCase:
    def __init__(self, services: Services) -> None:
        self.s = services

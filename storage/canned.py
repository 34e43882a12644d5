"""Canned replies: short templates per language, sealed under the system key."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import delete, select

from storage import clock
from storage.crypto import Place
from storage.ids import new_id
from storage.models import CannedReply
from storage.repository import Repository


class CannedReplies(Repository):
    async def put(self, key: str, language: str, text: str) -> None:
        row = await self.session.get(CannedReply, (key, language))
        system = await self.vault.system_key(self.session)
        if row is None:
            row = CannedReply(key=key, language=language, id=new_id(), text=b"", updated_at=clock.now())
            self.session.add(row)
        row.text = self.vault.seal_text(system, text, Place.of(CannedReply.text, row.id))
        row.updated_at = clock.now()

    async def get(self, key: str, language: str) -> str | None:
        row = await self.session.get(CannedReply, (key, language))
        if row is None:
            return None
        system = await self.vault.system_key(self.session)
        return self.vault.open_text(system, row.text, Place.of(CannedReply.text, row.id))

    async def delete(self, key: str) -> int:
        result = await self.session.execute(delete(CannedReply).where(CannedReply.key == key).returning(CannedReply.id))
        return len(result.all())

    async def texts_by_key(self) -> dict[str, dict[str, str]]:
        """Every canned reply: by key, its text in each language it exists in."""
        system = await self.vault.system_key(self.session)
        texts: dict[str, dict[str, str]] = defaultdict(dict)
        for row in await self.session.scalars(select(CannedReply).order_by(CannedReply.key)):
            texts[row.key][row.language] = self.vault.open_text(system, row.text, Place.of(CannedReply.text, row.id))
        return dict(texts)

    async def languages_by_key(self) -> dict[str, list[str]]:
        listing: dict[str, list[str]] = defaultdict(list)
        for key, language in await self.session.execute(
            select(CannedReply.key, CannedReply.language).order_by(CannedReply.key, CannedReply.language)
        ):
            listing[key].append(language)
        return dict(listing)

"""Key epochs: after a shred, destroy every key that could open what the shred left behind, within a bound.

A shred deletes rows, but databases keep old copies that no DELETE reaches (SQLite's WAL and free pages,
PostgreSQL's dead tuples and pg_wal, file-system and SSD remnants, backups). So forgetting rests on keys
that no longer exist (docs/decisions/0009-key-epochs.md):

- A **key roll** puts a new key-encryption key (KEK) in the keyring file, re-wraps every live data key
  under it in one transaction, then removes every other KEK from the file. Whatever wrapped copy of a
  shredded data key survives anywhere was made under a KEK that is gone.
- Short-lived data that names a person (FSM records, outbox messages of no request) is sealed under an
  **ephemeral key**, itself a data key. A roll **starts** by making a new ephemeral key current (with a key
  roll); a grace period later, when no process can still be sealing with the previous one, it **finishes**:
  what the previous key sealed is re-sealed under the current one, the previous key's row is deleted, and
  a second key roll destroys the KEK its last wrapped copies were made under.

A shred records only that keys must roll (``shred.first_at`` / ``shred.last_at`` in ``meta``) and, for a
request, a blind index of its id in ``shred_ledger`` for restores. A roll is due at ``first_at + bound``;
it starts early enough to finish by then. Every process ticks; the row lock on ``kek.active`` makes one
roll at a time, and the keyring file is written only while holding it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.crypto import CryptoError, Key, Place, key_id_of, open_sealed, seal
from storage.db import Database, mark_shredded
from storage.ids import new_id
from storage.inserts import conflict_insert
from storage.keyring import KeyringError
from storage.models import FsmRecord, Meta, OutboxMessage, ShredRecord
from storage.vault import (
    EPHEMERAL_CURRENT,
    EPHEMERAL_PREFIX,
    EPHEMERAL_PREVIOUS,
    KEK_ACTIVE,
    SYSTEM_OWNER,
    Vault,
)

ROLL_FINISHED = "roll.finished_at"
SHRED_FIRST = "shred.first_at"
SHRED_LAST = "shred.last_at"
ROLL_STARTED = "roll.started_at"
SHRED_DOMAIN = "shredded-request"

# Between a roll's start and its finish: longer than a process may go without looking at which ephemeral
# key is current (storage/vault.py: EPHEMERAL_FRESH, 10 s) plus the longest an update's transaction and the
# writes after its commit may take (storage/db.py: AFTER_COMMIT_TIMEOUT, 15 s), with a wide margin.
ROLL_GRACE = timedelta(seconds=120)
# A roll starts this long before its deadline, so that its finish (one grace period and a tick later)
# comes before the deadline.
ROLL_LEAD = timedelta(minutes=10)
# Every process looks at least this often whether a roll is due, whatever TROPA_JOB_INTERVAL_SECONDS says:
# one query and a read of the keyring file.
MAX_TICK = timedelta(seconds=30)

log = structlog.get_logger()

Reseal = Callable[[Key, dict[bytes, Key]], Awaitable[int]]


async def _set_meta(session: AsyncSession, key: str, value: str, *, keep_existing: bool = False) -> None:
    insert = conflict_insert(session, Meta).values(key=key, value=value)
    if keep_existing:
        await session.execute(insert.on_conflict_do_nothing(index_elements=[Meta.key]))
    else:
        await session.execute(insert.on_conflict_do_update(index_elements=[Meta.key], set_={"value": value}))


async def _meta(session: AsyncSession, *keys: str) -> dict[str, str]:
    rows = await session.execute(select(Meta.key, Meta.value).where(Meta.key.in_(keys)))
    return {key: value for key, value in rows}


def _moment(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


FORGET, PURGE = "forget", "purge"


async def note_shred(session: AsyncSession, vault: Vault, request_id: str | None = None, kind: str = FORGET) -> None:
    """In the transaction that shreds: keys must roll, and a restore must shred this request again.

    Nothing here names a person: a moment, and an HMAC of a random request id.
    """
    now = clock.now().isoformat()
    await _set_meta(session, SHRED_FIRST, now, keep_existing=True)
    await _set_meta(session, SHRED_LAST, now)
    if request_id is not None:
        insert = conflict_insert(session, ShredRecord).values(
            request_index=vault.blind(SHRED_DOMAIN, request_id), shredded_at=clock.now(), kind=kind
        )
        await session.execute(insert.on_conflict_do_nothing(index_elements=[ShredRecord.request_index]))
    mark_shredded(session)


async def bind_epochs(session: AsyncSession, vault: Vault) -> None:
    """At start: a database from before key epochs gets its ``kek.active`` and its first ephemeral key."""
    state = await _meta(session, KEK_ACTIVE, EPHEMERAL_CURRENT)
    if KEK_ACTIVE not in state:
        await _set_meta(session, KEK_ACTIVE, vault.keyring.active_id.hex())
    if EPHEMERAL_CURRENT not in state:
        owner = EPHEMERAL_PREFIX + new_id()[:16]
        await vault.new_data_key(session, owner, kek=vault.keyring.active)
        await _set_meta(session, EPHEMERAL_CURRENT, owner)


@dataclass(frozen=True)
class EpochState:
    kek_active: str | None
    ephemeral_current: str | None
    ephemeral_previous: str | None
    roll_started_at: datetime | None
    shred_first_at: datetime | None
    shred_last_at: datetime | None
    roll_finished_at: datetime | None = None


async def read_state(session: AsyncSession) -> EpochState:
    names = (KEK_ACTIVE, EPHEMERAL_CURRENT, EPHEMERAL_PREVIOUS, ROLL_STARTED, SHRED_FIRST, SHRED_LAST, ROLL_FINISHED)
    raw = await _meta(session, *names)
    return EpochState(
        raw.get(KEK_ACTIVE),
        raw.get(EPHEMERAL_CURRENT),
        raw.get(EPHEMERAL_PREVIOUS),
        _moment(raw.get(ROLL_STARTED)),
        _moment(raw.get(SHRED_FIRST)),
        _moment(raw.get(SHRED_LAST)),
        _moment(raw.get(ROLL_FINISHED)),
    )


@dataclass(frozen=True)
class LedgerEntry:
    request_index: str
    shredded_at: datetime
    kind: str


async def read_ledger(session: AsyncSession) -> list[LedgerEntry]:
    rows = await session.execute(select(ShredRecord.request_index, ShredRecord.shredded_at, ShredRecord.kind))
    return [LedgerEntry(index, at, kind) for index, at, kind in rows]


async def merge_ledger(session: AsyncSession, entries: list[LedgerEntry]) -> None:
    """Keep a replaced database's ledger in the one that replaced it (a restore), and a roll due for it."""
    if not entries:
        return
    insert = conflict_insert(session, ShredRecord)
    await session.execute(
        insert.on_conflict_do_nothing(index_elements=[ShredRecord.request_index]),
        [{"request_index": e.request_index, "shredded_at": e.shredded_at, "kind": e.kind} for e in entries],
    )
    first = min(e.shredded_at for e in entries).isoformat()
    await _set_meta(session, SHRED_FIRST, first, keep_existing=True)
    await _set_meta(session, SHRED_LAST, clock.now().isoformat())


class KeyEpochs:
    """Rolls keys when shreds make it due; safe to run in every process at once."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        bound: timedelta,
        reseal_outside: Reseal | None = None,
        tick_every: timedelta = MAX_TICK,
    ) -> None:
        """``reseal_outside(current, previous_by_id)``: re-seal what lives outside the database (Redis FSM
        records) from the previous ephemeral key to the current one, before the previous one is destroyed.
        ``tick_every``: how often ``run`` ticks; a roll starts early enough for two ticks and the grace."""
        self.db = db
        self.vault = vault
        self.bound = bound
        self.reseal_outside = reseal_outside
        self.tick_every = tick_every
        self._kicked: asyncio.Task[None] | None = None

    @property
    def lead(self) -> timedelta:
        """How long before its deadline a roll starts: its start may come a tick late and its finish a grace
        period and another tick after that, so the whole roll ends before the deadline."""
        return min(max(ROLL_LEAD, 2 * self.tick_every + ROLL_GRACE + timedelta(minutes=1)), self.bound)

    # -- the lock ------------------------------------------------------------------------------------

    @staticmethod
    async def lock(session: AsyncSession) -> None:
        """One roll at a time, across processes; wrapping a new data key waits for it (shared lock on the
        same row, storage/vault.py), and so does every write on SQLite (this takes the write lock)."""
        await session.execute(update(Meta).where(Meta.key == KEK_ACTIVE).values(value=Meta.value))

    # -- the primitives ------------------------------------------------------------------------------

    async def _roll_kek(self, session: AsyncSession) -> tuple[Key, int]:
        """Inside the lock: a new KEK on disk first, then every data key re-wrapped under it."""
        keyring = self.vault.reload_keyring() if self.vault.source is not None else self.vault.keyring
        rolled = keyring.with_new_active()
        if self.vault.source is not None:
            self.vault.source.save(rolled)  # on disk before anything is wrapped with it
        self.vault.keyring = rolled
        rewrapped = await self.vault.rewrap_all(session, rolled.active)
        await _set_meta(session, KEK_ACTIVE, rolled.active_id.hex())
        return rolled.active, rewrapped

    async def destroy_unused_keks(self) -> list[str]:
        """Remove from the keyring file every KEK that is not active and wraps nothing. Nothing can leave the
        keyring while a data key is wrapped by it: the count is taken under the lock."""
        async with self.db.transaction() as session:
            await self.lock(session)
            keyring = self.vault.reload_keyring() if self.vault.source is not None else self.vault.keyring
            active = (await read_state(session)).kek_active or keyring.active_id.hex()
            wrapping = {kek_id for kek_id, count in (await Vault.count_by_kek(session)).items() if count}
            keep = {bytes.fromhex(kek_id) for kek_id in wrapping | {active}}
            if bytes.fromhex(active) not in keyring.keks:
                raise KeyringError(f"the keyring file lacks the active key {active}; it was not changed")
            destroyed = [kid.hex() for kid in keyring.keks if kid not in keep]
            if destroyed:
                kept = keyring.keeping(keep)
                if self.vault.source is not None:
                    self.vault.source.save(kept)
                self.vault.keyring = kept
        return destroyed

    async def rotate(self) -> tuple[str, int, list[str]]:
        """A key roll now (``tropa keys rotate``): new active KEK, everything re-wrapped, old KEKs destroyed."""
        async with self.db.transaction() as session:
            await self.lock(session)
            kek, rewrapped = await self._roll_kek(session)
        return kek.key_id.hex(), rewrapped, await self.destroy_unused_keks()

    # -- a roll: start and finish --------------------------------------------------------------------

    async def start(self) -> bool:
        """A new ephemeral key becomes current, with a key roll. False if a roll is already under way."""
        async with self.db.transaction() as session:
            await self.lock(session)
            state = await read_state(session)
            if state.roll_started_at is not None:
                return False
            kek, rewrapped = await self._roll_kek(session)
            owner = EPHEMERAL_PREFIX + new_id()[:16]
            await self.vault.new_data_key(session, owner, kek=kek)
            if state.ephemeral_current is not None:
                await _set_meta(session, EPHEMERAL_PREVIOUS, state.ephemeral_current)
            await _set_meta(session, EPHEMERAL_CURRENT, owner)
            await _set_meta(session, ROLL_STARTED, clock.now().isoformat())
        self.vault.forget_ephemeral()
        destroyed = await self.destroy_unused_keks()
        log.info("keys.roll_started", rewrapped=rewrapped, destroyed=len(destroyed))
        return True

    async def finish(self) -> bool:
        """Re-seal what the previous ephemeral key sealed, destroy it, and roll the KEK again. False if no roll
        is under way or its grace period has not passed."""
        async with self.db.transaction() as session:
            state = await read_state(session)
            if not self._finishable(state):
                return False
            current, previous = await self._ephemeral_pair(session, state)
        if self.reseal_outside is not None and previous:
            await self.reseal_outside(current, previous)
        async with self.db.transaction() as session:
            await self.lock(session)
            state = await read_state(session)
            if not self._finishable(state):
                return False
            current, previous = await self._ephemeral_pair(session, state)
            resealed = await self._reseal_database(session, current, previous) if previous else 0
            if state.ephemeral_previous is not None:
                await self.vault.destroy_data_key(session, state.ephemeral_previous)
            await self._roll_kek(session)
            await session.execute(delete(Meta).where(Meta.key.in_((EPHEMERAL_PREVIOUS, ROLL_STARTED))))
            await _set_meta(session, ROLL_FINISHED, clock.now().isoformat())
            assert state.roll_started_at is not None
            await self._settle_shreds(session, state, state.roll_started_at)
        self.vault.forget_ephemeral()
        destroyed = await self.destroy_unused_keks()
        log.info("keys.roll_finished", resealed=resealed, destroyed=len(destroyed))
        return True

    @staticmethod
    def _finishable(state: EpochState) -> bool:
        return state.roll_started_at is not None and clock.now() >= state.roll_started_at + ROLL_GRACE

    async def _ephemeral_pair(self, session: AsyncSession, state: EpochState) -> tuple[Key, dict[bytes, Key]]:
        """The current ephemeral key, and every key whose blobs must move to it: the previous ephemeral key and,
        for data sealed before key epochs, the system key."""
        assert state.ephemeral_current is not None
        current = await self.vault.data_key(session, state.ephemeral_current)
        previous: dict[bytes, Key] = {}
        for owner in (state.ephemeral_previous, SYSTEM_OWNER):
            if owner is None:
                continue
            with contextlib.suppress(CryptoError):
                key = await self.vault.data_key(session, owner)
                previous[key.key_id] = key
        return current, previous

    @staticmethod
    async def _settle_shreds(session: AsyncSession, state: EpochState, started_at: datetime) -> None:
        """Shreds up to the roll's start are covered now; one after it may have sealed with the new ephemeral
        key, so it keeps a roll due. Backups from before this roll no longer open: their ledger goes."""
        if state.shred_last_at is None or state.shred_last_at <= started_at:
            await session.execute(delete(Meta).where(Meta.key.in_((SHRED_FIRST, SHRED_LAST))))
        else:
            await _set_meta(session, SHRED_FIRST, started_at.isoformat())
        await session.execute(delete(ShredRecord).where(ShredRecord.shredded_at <= started_at))

    async def _reseal_database(self, session: AsyncSession, current: Key, previous: dict[bytes, Key]) -> int:
        """Outbox messages of no request, and FSM records (the table backend, or the journal beside Redis)."""
        moved = 0
        outbox = await session.execute(
            select(OutboxMessage.id, OutboxMessage.payload).where(OutboxMessage.request_id.is_(None))
        )
        for message_id, payload in outbox:
            place = Place.of(OutboxMessage.payload, message_id)
            if (old := previous.get(key_id_of(payload))) is not None:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id, OutboxMessage.payload == payload)
                    .values(payload=seal(current, open_sealed(old, payload, place), place))
                )
                moved += 1
        moved += await reseal_fsm_table(session, current, previous)
        return moved

    # -- when -----------------------------------------------------------------------------------------

    def _deadline(self, state: EpochState) -> datetime | None:
        return None if state.shred_first_at is None else state.shred_first_at + self.bound

    async def tick(self) -> str | None:
        """Do what is due now: finish a roll past its grace period, or start one a shred made due; and destroy
        any key a roll left behind (a process that died between its commit and the file's rewrite)."""
        async with self.db.transaction() as session:
            state = await read_state(session)
        await self._destroy_leftovers(state)
        if state.roll_started_at is not None:
            return "finished" if self._finishable(state) and await self.finish() else None
        deadline = self._deadline(state)
        if deadline is not None and clock.now() >= deadline - self.lead:
            return "started" if await self.start() else None
        return None

    async def _destroy_leftovers(self, state: EpochState) -> None:
        keyring = self.vault.reload_keyring() if self.vault.source is not None else self.vault.keyring
        if any(kek_id.hex() != state.kek_active for kek_id in keyring.keks):
            destroyed = await self.destroy_unused_keks()
            if destroyed:
                log.info("keys.leftovers_destroyed", destroyed=len(destroyed))

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("keys.roll_failed")
            await asyncio.sleep(self.tick_every.total_seconds())

    def kick(self) -> None:
        """With a bound of zero, after a shred commits: start the roll now and finish it as soon as allowed."""
        if self.bound > timedelta(0) or (self._kicked is not None and not self._kicked.done()):
            return
        # A context of its own: not the shredding update's (its log fields, its transaction).
        self._kicked = asyncio.create_task(self._roll_now(), context=contextvars.Context())

    async def _roll_now(self) -> None:
        try:
            await self.tick()
            await asyncio.sleep(ROLL_GRACE.total_seconds() + 1)
            await self.tick()
        except Exception:
            log.exception("keys.roll_failed")

    async def close(self) -> None:
        if self._kicked is not None:
            self._kicked.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._kicked


async def reseal_fsm_table(session: AsyncSession, current: Key, previous: dict[bytes, Key]) -> int:
    """FSM rows in ``fsm_state`` (the state is a sealed blob as base64 text, the data a sealed blob), each
    changed only if no update wrote it since it was read."""
    moved = 0
    rows = await session.execute(select(FsmRecord.key, FsmRecord.state, FsmRecord.data, FsmRecord.updated_at))
    for key, state, data, updated_at in rows:
        new_state, new_data = state, data
        if state and (old := previous.get(key_id_of(base64.b64decode(state)))) is not None:
            place = Place("fsm", "state", key)
            new_state = base64.b64encode(
                seal(current, open_sealed(old, base64.b64decode(state), place), place)
            ).decode()
        if data and (old := previous.get(key_id_of(data))) is not None:
            place = Place("fsm", "data", key)
            new_data = seal(current, open_sealed(old, data, place), place)
        if (new_state, new_data) != (state, data):
            await session.execute(
                update(FsmRecord)
                .where(FsmRecord.key == key, FsmRecord.updated_at == updated_at)
                .values(state=new_state, data=new_data)
            )
            moved += 1
    return moved

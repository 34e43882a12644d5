"""Fixtures for end-to-end tests: the Bot API emulator in this process, the real ``tropa run`` beside it.

- ``live``: a fresh world, the emulator serving it, a fresh data directory and a started bot process
  (SQLite, or PostgreSQL when the test parametrizes ``backend`` with ``"postgres"``). The finalizer takes
  a raw copy of the data files while the bot still runs, stops the bot (SIGKILL if SIGTERM is not
  enough) and the emulator, whatever the test did.
- ``canaries``: one ledger per module of the unique strings scenarios planted in what people typed,
  and of every file (data, logs, database dumps) that must not contain them; the module's last test
  scans them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiogram.utils.i18n import I18n

from bot.i18n import create_i18n
from testkit.process import BotProcess, bot_environment
from testkit.settings import TOKEN
from testkit.telegram import BotApiEmulator, FakeTelegram, Json

T = TypeVar("T")
I18N: I18n = create_i18n()
WAIT = 20.0  # seconds: generous for a loaded 2-core machine; waits end as soon as the bot has answered

# -- canaries ------------------------------------------------------------------------------------------


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _json_unescaped(text: str) -> str:
    """``\\u041a\\u0430`` (how ``json.dumps`` writes non-ASCII by default) back into characters."""
    replaced = _JSON_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    # A character outside the BMP is escaped as a surrogate pair: join the pairs again.
    return replaced.encode("utf-16", "surrogatepass").decode("utf-16", errors="replace")


def readings(data: bytes) -> list[str]:
    """Every way ``data`` could spell text, casefolded: UTF-8, UTF-16 in either byte order and at either
    alignment (it may start at an odd offset inside a binary file), and UTF-8 with JSON escapes undone."""
    utf8 = data.decode("utf-8", errors="replace")
    texts = [utf8, _json_unescaped(utf8)]
    for encoding in ("utf-16-le", "utf-16-be"):
        texts += [data[start:].decode(encoding, errors="replace") for start in (0, 1)]
    return [text.casefold() for text in texts]


def find_canaries(data: bytes, canaries: list[str]) -> list[str]:
    """Which of ``canaries`` occur in ``data`` in any of its :func:`readings`, case-insensitively."""
    texts = readings(data)
    return [canary for canary in canaries if any(canary.casefold() in text for text in texts)]


@dataclass
class CanaryLedger:
    """Unique strings planted in what people type, and the places that must never hold them."""

    canaries: list[str] = field(default_factory=list)
    places: list[Path] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)

    def plant(self, kind: str = "text") -> str:
        """A new canary. ``kind``: ``text`` (ASCII), ``cyrillic`` (non-ASCII), ``username`` (a valid
        Telegram username), ``pseudonym`` (letters, digits and dashes only)."""
        token = uuid.uuid4().hex
        canary = {
            "text": f"canary-{token}",
            "cyrillic": f"Канарейка-{token[:16]}-щит",
            "username": f"canary_{token[:20]}",
            "pseudonym": f"Canary-{token[:20]}",
        }[kind]
        self.canaries.append(canary)
        return canary

    def watch(self, path: Path) -> None:
        self.places.append(path)

    def files(self) -> list[Path]:
        found: list[Path] = []
        for place in self.places:
            if place.is_file():
                found.append(place)
            elif place.is_dir():
                found.extend(sorted(p for p in place.rglob("*") if p.is_file()))
        return found

    def scan(self) -> dict[str, list[str]]:
        """``{file: [canaries found in it]}`` for every watched file that holds one."""
        leaks: dict[str, list[str]] = {}
        for path in self.files():
            if found := find_canaries(path.read_bytes(), self.canaries):
                leaks[str(path)] = found
        return leaks


@pytest.fixture(scope="module")
def canaries() -> CanaryLedger:
    return CanaryLedger()


# -- the live bot -------------------------------------------------------------------------------------


@dataclass
class LiveBot:
    """The running bot as a test sees it: the world it talks to, its process, its data. It is the world's
    responder: a person who acts waits until the bot has committed what the action changed and the person
    sees the answer (people are slower than a commit)."""

    world: FakeTelegram
    process: BotProcess
    data_dir: Path
    snapshot_dir: Path
    database_url: str | None = None
    _pg: Any = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tropa.db"

    @contextlib.contextmanager
    def sqlite(self) -> Iterator[sqlite3.Connection]:
        """The bot's SQLite database opened read-only with the standard library, as an outsider would."""
        if self.database_url is not None:
            raise RuntimeError("this bot runs on PostgreSQL")
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            yield connection
        finally:
            connection.close()

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.sqlite() as connection:
            return list(connection.execute(sql, params).fetchall())

    def count(self, table: str, where: str = "1=1", *params: Any) -> int:
        return int(self.query(f"SELECT count(*) FROM {table} WHERE {where}", *params)[0][0])  # noqa: S608

    async def wait_db(self, predicate: Callable[[], Any], timeout: float = 15) -> Any:  # noqa: ASYNC109
        """Wait until ``predicate()`` (which may query the SQLite file) is truthy; checked every 50 ms."""
        return await self.world.wait_for(predicate, timeout=timeout)

    async def _postgres(self) -> Any:
        import asyncpg

        if self._pg is None:
            assert self.database_url is not None
            self._pg = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://"))
        return self._pg

    async def handled(self, update_id: int) -> bool:
        """Whether the bot committed its handling of ``update_id``: the id is claimed in the update's own
        transaction, so it is visible exactly when everything the update changed is."""
        sql = "SELECT count(*) FROM processed_updates WHERE update_id = "
        if self.database_url is None:
            return bool(self.query(sql + "?", update_id)[0][0])
        connection = await self._postgres()
        return bool(await connection.fetchval(sql + "$1", update_id))

    async def wait_handled(self, update_id: int, timeout: float = 20) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await self.handled(update_id):
            if loop.time() > deadline:
                raise TimeoutError(f"update {update_id} was not handled within {timeout}s:\n{self.process.tail()}")
            await asyncio.sleep(0.02)

    # -- as the world's responder (testkit.telegram.Responder) -----------------------------------------

    async def after(self, update: Json, until: Callable[[], object] | None) -> None:
        """A press: until the bot answered it. A message: until the bot committed its handling and, unless
        ``until`` says what to wait for, sent something newer into that chat."""
        if "callback_query" in update:
            query_id = update["callback_query"]["id"]
            await self.wait(lambda: self.world.callback_queries[query_id].answer, None)
        if not any(kind in update for kind in ("message", "edited_message", "callback_query")):
            return  # an update the bot does not ask Telegram for (my_chat_member): nothing to wait for
        await self.wait_handled(update["update_id"])
        if until is None and "message" in update:
            until = self._answered_after(update["message"])
        if until is not None:
            await self.wait(until, None)

    def _answered_after(self, message: Json) -> Callable[[], bool]:
        """Whether the bot shows something newer than ``message`` in its chat."""
        messages = self.world.stored_chat(message["chat"]["id"]).messages
        sent = message["message_id"]
        return lambda: any(i > sent and m.from_bot and not m.deleted for i, m in messages.items())

    async def wait(self, predicate: Callable[[], T], timeout: float | None) -> T:  # noqa: ASYNC109
        """``world.wait_for`` with what a failing scenario needs to be understood: every chat, the last
        answers to presses, and the bot's log."""
        try:
            return await self.world.wait_for(predicate, timeout=timeout or WAIT)
        except TimeoutError as error:
            chats = {
                f"{user.id} ({user.language_code})": [
                    (m.message_id, m.text[:120]) for m in self.world.chat(user.id).visible()
                ]
                for user in self.world.users.values()
            }
            answers = [(q.id[-4:], q.data, q.answer) for q in list(self.world.callback_queries.values())[-3:]]
            raise AssertionError(
                f"{error}\nchats: {chats}\nlast callback answers: {answers}\nbot log:\n{self.process.tail(25)}"
            ) from None

    def translate(self, text: str, language: str) -> str:
        return I18N.gettext(text, locale=language)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()
            self._pg = None

    def log_events(self) -> list[dict[str, Any]]:
        """The bot's JSON log lines (every start), parsed; other lines are skipped."""
        events = []
        for line in self.process.stderr_text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    events.append(json.loads(line))
        return events

    def errors(self) -> list[dict[str, Any]]:
        return [event for event in self.log_events() if event.get("level") in ("error", "critical")]

    def snapshot(self) -> None:
        """Copy the raw data files as they are now (WAL included) for the canary scan."""
        if not self.data_dir.exists():
            return
        target = self.snapshot_dir / f"data-{self.process.starts}"
        target.mkdir(parents=True, exist_ok=True)
        for path in self.data_dir.iterdir():
            if path.is_file():
                with contextlib.suppress(FileNotFoundError):  # -wal/-shm may vanish at a checkpoint
                    shutil.copyfile(path, target / path.name)

    async def dump_postgres(self) -> None:
        """Every row of every table, raw, into the snapshot directory (the database is dropped later)."""
        import asyncpg

        assert self.database_url is not None
        connection = await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            tables = await connection.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            with (self.snapshot_dir / "postgres-dump.bin").open("wb") as dump:
                for table in tables:
                    for row in await connection.fetch(f'SELECT * FROM "{table["table_name"]}"'):  # noqa: S608
                        for value in row.values():
                            dump.write(value if isinstance(value, bytes) else str(value).encode())
                            dump.write(b"\x00")
        finally:
            await connection.close()


@pytest.fixture
def backend() -> str:
    """The database the bot runs on; a test parametrizes it to run on PostgreSQL as well."""
    return "sqlite"


@pytest.fixture
def postgres_settings() -> dict[str, str]:
    """Server settings for the test's PostgreSQL database (``ALTER DATABASE ... SET``), before the bot starts."""
    return {}


async def _configure_postgres(database_url: str, settings: dict[str, str]) -> None:
    import asyncpg

    name = database_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for key, value in settings.items():
            assert key.replace("_", "").isalpha() and value.isdigit(), (key, value)
            await connection.execute(f'ALTER DATABASE "{name}" SET {key} = {value}')
    finally:
        await connection.close()


@pytest.fixture
async def live(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    backend: str,
    postgres_settings: dict[str, str],
    canaries: CanaryLedger,
) -> AsyncIterator[LiveBot]:
    database_url = str(request.getfixturevalue("postgres_url")) if backend == "postgres" else None
    if database_url is not None and postgres_settings:
        await _configure_postgres(database_url, postgres_settings)
    world = FakeTelegram(token=TOKEN)
    emulator = BotApiEmulator(world)
    base_url = await emulator.start()
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    log_dir.mkdir()
    process = BotProcess(bot_environment(base_url, data_dir, database_url), log_dir, cwd=tmp_path)
    bot = LiveBot(world, process, data_dir, tmp_path / "snapshots", database_url)
    world.responder = bot
    for place in (data_dir, log_dir, bot.snapshot_dir):
        canaries.watch(place)
    canaries.scenarios.append(request.node.nodeid)
    try:
        await process.start()
        yield bot
    finally:
        try:
            if process.running:
                bot.snapshot()
            if database_url is not None:
                await bot.dump_postgres()
            await process.stop()
        finally:
            await process.close()
            await bot.close()
            await emulator.stop()

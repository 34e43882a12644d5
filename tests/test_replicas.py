"""Several replicas on the real PostgreSQL and Redis: each update once, each message once and within
Telegram's limits, each periodic job once per period, and no update through a webhook without its secret."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiogram import Bot
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import SendMessage, TelegramMethod
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.app import webhook_application
from bot.delivery import OutboxSender
from services.events import Events
from services.jobs import Job, JobRunner
from services.policy import Policy
from services.ratelimit import Limits, RedisLimiter
from services.recipients import Target
from storage import clock
from storage.db import Database
from storage.fsm import SweepableRedisStorage
from testkit.telegram import FakeTelegram, RecordingSession
from tests.support.harness import TOKEN, Harness, start_harness
from tests.support.inspect import count_rows

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
SECRET = "a-long-random-webhook-secret"


@pytest.fixture
async def clean_redis(redis_url: str) -> str:
    redis = Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter(match="tropa:rate:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    return redis_url


@pytest.fixture
async def replicas(tmp_path: Path, postgres_url: str, clean_redis: str) -> Any:
    """Two bot processes' worth of state (two dispatchers, engines, Redis clients) on one database."""
    world = FakeTelegram(token=TOKEN)
    settings: dict[str, Any] = {"database_url": postgres_url, "redis_url": clean_redis, "webhook_secret": SECRET}
    first = await start_harness(tmp_path / "data", world, **settings)
    second = await start_harness(tmp_path / "data", world, **settings)
    yield first, second
    await first.close()
    await second.close()


async def test_an_update_delivered_to_two_replicas_is_handled_once(replicas: tuple[Harness, Harness]) -> None:
    first, second = replicas
    alice = first.world.person(1001, language_code="en")
    update = (await alice.send("/start", wait=False)).update
    first.world.take_updates()
    await asyncio.gather(first.client.deliver_again(update), second.client.deliver_again(update))
    await asyncio.gather(first.settle(), second.settle())
    assert [m.text for m in alice.visible() if m.from_bot] == ["Выберите язык · Оберіть мову · Choose your language"]
    assert await count_rows(first, "processed_updates") == 1


class PlainRenderer:
    def render(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        return SendMessage(chat_id=target.chat_id, text=payload["text"])

    def render_album(self, payloads: list[dict[str, Any]], target: Target) -> TelegramMethod[Any]:
        raise NotImplementedError


class RecordingLimiter(RedisLimiter):
    granted: ClassVar[list[float]] = []

    async def acquire(self, chat_id: int) -> float:
        busy_for = await super().acquire(chat_id)
        if busy_for == 0:
            self.granted.append(time.monotonic())
        return busy_for


async def test_two_senders_drain_a_thousand_messages_once_within_the_global_rate(
    replicas: tuple[Harness, Harness], clean_redis: str
) -> None:
    first, _ = replicas
    world = first.world
    per_second = 100  # the production default is 30; a higher limit keeps this test short
    count = 1000
    for n in range(count):
        world.person(50_000 + n, started=True)  # as if each had pressed Start
    async with first.runtime.db.transaction() as session:
        from services.context import Services

        services = Services(session, first.runtime.vault, first.app.policy, first.app.events)
        for n in range(count):
            await services.outbox.put(
                recipient="chat", purpose="test", payload={"kind": "plain", "chat_id": 50_000 + n, "text": f"m{n}"}
            )
    RecordingLimiter.granted = []
    senders = []
    for _ in range(2):
        db = Database(first.runtime.settings.resolved_database_url)  # a second process has its own pool
        redis = Redis.from_url(clean_redis)
        bot = Bot(token=TOKEN, session=RecordingSession(world))
        limiter = RecordingLimiter(redis, Limits(per_second=per_second), first.runtime.keyring.blind)
        senders.append(
            (OutboxSender(db, first.runtime.vault, Policy(), Events(), bot, PlainRenderer(), limiter), db, redis)
        )
    started = time.monotonic()
    delivered = await asyncio.gather(*(sender.drain() for sender, _, _ in senders))
    elapsed = time.monotonic() - started
    for _, db, redis in senders:
        await db.dispose()
        await redis.aclose()

    assert sum(delivered) == count and all(delivered)  # both senders took part
    texts = [
        call.args["text"] for call in world.calls_of("sendMessage") if call.ok and call.args["text"].startswith("m")
    ]
    assert sorted(texts) == sorted(f"m{n}" for n in range(count))  # every message exactly once
    granted = sorted(RecordingLimiter.granted)
    busiest = max(sum(1 for t in granted[i:] if t < start + 1.0) for i, start in enumerate(granted))
    assert busiest <= per_second, busiest
    assert elapsed >= (count / per_second) - 1.5
    assert await count_rows(first, "outbox") == 0


async def test_two_job_runners_run_a_period_once_and_a_dead_holder_skips_nothing(postgres_url: str) -> None:
    runs: list[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def slow_job(_services: object) -> int:
        runs.append("started")
        holding.set()
        await release.wait()
        runs.append("finished")
        return 1

    from storage import migrate
    from storage.binding import bind_or_verify
    from storage.keyring import Keyring
    from storage.vault import Vault

    keyring = Keyring.generate()
    databases = [Database(postgres_url), Database(postgres_url)]
    await migrate.upgrade(databases[0])
    async with databases[0].transaction() as session:
        await bind_or_verify(session, keyring)
    job = Job("slow", every=timedelta(hours=1), action=slow_job)
    first, second = (JobRunner(db, Vault(keyring), Policy(), Events(), [job]) for db in databases)
    try:
        holder = asyncio.create_task(first.run_due())
        await holding.wait()
        # The holder "dies" mid-run: its transaction (and its claim of the period) is rolled back.
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        release.set()
        assert (await second.run_due()) == {"slow": 1}  # the same period is not skipped...
        assert (await first.run_due()) == {}  # ...and not run twice
        assert runs == ["started", "started", "finished"]
        clock.travel(timedelta(hours=1))
        assert (await first.run_due()) == {"slow": 1}  # the next period runs
    finally:
        for db in databases:
            await db.dispose()


async def test_concurrent_runners_in_one_period_run_once(postgres_url: str) -> None:
    from storage import migrate
    from storage.binding import bind_or_verify
    from storage.keyring import Keyring
    from storage.vault import Vault

    runs = 0

    async def job_action(_services: object) -> int:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.2)
        return 1

    keyring = Keyring.generate()
    databases = [Database(postgres_url) for _ in range(3)]
    await migrate.upgrade(databases[0])
    async with databases[0].transaction() as session:
        await bind_or_verify(session, keyring)
    runners = [
        JobRunner(db, Vault(keyring), Policy(), Events(), [Job("once", timedelta(minutes=5), job_action)])
        for db in databases
    ]
    try:
        results = await asyncio.gather(*(runner.run_due() for runner in runners))
        assert runs == 1 and sorted(len(result) for result in results) == [0, 0, 1]
    finally:
        for db in databases:
            await db.dispose()


async def test_a_webhook_call_without_the_secret_changes_nothing(replicas: tuple[Harness, Harness]) -> None:
    first, _ = replicas
    first.runtime.settings.webhook_url = "https://bot.example.org/telegram"
    alice = first.world.person(1001, language_code="en")
    update = (await alice.send("/start", wait=False)).update
    first.world.take_updates()
    async with TestClient(TestServer(webhook_application(first.app))) as client:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            response = await client.post("/telegram", data=json.dumps(update), headers=headers)
            assert response.status == 401
        assert await count_rows(first, "processed_updates") == 0
        assert alice.visible()[-1].from_bot is False

        response = await client.post(
            "/telegram", data=json.dumps(update), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert response.status == 200
        assert await count_rows(first, "processed_updates") == 1
        assert alice.last_from_bot() is not None

        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200 and (await ready.json()) == {
            "ok": True,
            "keyring": True,
            "database": True,
            "redis": True,
        }


async def test_an_outage_fails_the_webhook_call_so_telegram_delivers_the_update_again(
    replicas: tuple[Harness, Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis (or the database) out of reach for a moment: the update is rolled back and the webhook call
    fails, so Telegram delivers it again, instead of the person getting "something went wrong"."""
    first, _ = replicas
    first.runtime.settings.webhook_url = "https://bot.example.org/telegram"
    alice = first.world.person(1002, language_code="en")
    update = (await alice.send("/start", wait=False)).update
    first.world.take_updates()
    inner = first.app.storage.inner
    assert isinstance(inner, SweepableRedisStorage)
    real_get_record = inner.get_record
    failures = iter([RedisConnectionError("Redis went away")])

    async def flaky_get_record(key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await real_get_record(key)

    monkeypatch.setattr(inner, "get_record", flaky_get_record)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with TestClient(TestServer(webhook_application(first.app))) as client:
        response = await client.post("/telegram", data=json.dumps(update), headers=headers)
        assert response.status == 500
        assert await count_rows(first, "processed_updates") == 0
        assert alice.last_from_bot() is None

        response = await client.post("/telegram", data=json.dumps(update), headers=headers)
        assert response.status == 200
        assert await count_rows(first, "processed_updates") == 1
        assert alice.last_from_bot() is not None

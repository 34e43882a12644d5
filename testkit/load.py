"""The load test: real `tropa run` replicas in webhook mode, on PostgreSQL and Redis, behind a round-robin
balancer that delivers the emulator's updates the way Telegram and a load balancer would.

Simulated requesters walk the intake at once while volunteers claim from /queue and relay; midway one
replica is killed with SIGKILL and started again. The run measures throughput and handling time and
checks the invariants a helpline cannot give up: one request per submitter, every relayed message
exactly once, no request claimed twice, no periodic job run twice in a period, and the outbox within
the bot-wide sending rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import secrets
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bot.runtime import open_runtime
from testkit.process import BotProcess, bot_environment
from testkit.settings import ADMIN_ID, make_settings
from testkit.telegram import BotApiEmulator, FakeTelegram, Person
from testkit.telegram.stored import StoredMessage

WEBHOOK_PATH = "/telegram"
GROUP_ID = -1001000000001
GLOBAL_RATE = 30
# Cases one simulated volunteer works at once. Each case sends several messages to the volunteer's chat,
# which Telegram lets the bot fill at one message a second: one person holding every case would set the
# pace for everyone.
MAX_OPEN_CASES = 10
# The intake by the labels an English-speaking requester presses, from the language to the description:
# for themselves, this week, serving and mobilised, abroad, healthy, one document, one kind of help.
INTAKE_PRESSES = (
    "English",
    "I understand, continue",
    "I agree",
    "I am writing about myself",
    "It has to be solved this week",
    "Serving now",
    "Done",
    "Mobilised",
    "Done",
    "Abroad",
    "No",
    "Done",
    "Internal passport at hand",
    "Done",
    "A lawyer's advice",
    "Done",
)


@dataclass
class LoadConfig:
    requesters: int = 50
    replicas: int = 2
    volunteers: int = 10
    kill_midway: bool = True
    concurrency: int = 40  # parallel webhook deliveries, like Telegram's max_connections
    deadline: float = 300.0  # seconds for the whole run


@dataclass
class LoadResult:
    config: LoadConfig
    elapsed: float
    updates: int
    attempts: int
    errors: int
    failed_in_bot: int
    updates_per_second: float
    p50_ms: float
    p99_ms: float
    submitted: int
    completed: int
    invariants: dict[str, bool]
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.__dict__,
            "elapsed_s": round(self.elapsed, 2),
            "updates": self.updates,
            "webhook_attempts": self.attempts,
            "webhook_errors": self.errors,
            "updates_failed_in_bot": self.failed_in_bot,
            "updates_per_second": round(self.updates_per_second, 1),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "submitted": self.submitted,
            "completed_cases": self.completed,
            "invariants": self.invariants,
            "details": self.details,
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Balancer:
    """Takes updates from the emulator and POSTs each to a replica, round-robin, until one answers 2xx."""

    def __init__(self, world: FakeTelegram, urls: list[str], secret: str, concurrency: int) -> None:
        self.world = world
        self.urls = urls
        self.secret = secret
        self.concurrency = concurrency
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.latencies: list[float] = []
        self.attempts = 0
        self.errors = 0
        self.delivered = 0
        self.trail: dict[int, list[tuple[int, str]]] = {}  # update id -> (replica, outcome) per attempt
        self._next = itertools.count()

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            workers = [asyncio.create_task(self._worker(session)) for _ in range(self.concurrency)]
            try:
                while True:
                    for update in self.world.take_updates():
                        self.queue.put_nowait(update)
                    await asyncio.sleep(0.005)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, session: aiohttp.ClientSession) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.secret, "Content-Type": "application/json"}
        while True:
            update = await self.queue.get()
            body = json.dumps(update)
            while True:
                index = next(self._next) % len(self.urls)
                self.attempts += 1
                started = time.perf_counter()
                trail = self.trail.setdefault(int(update["update_id"]), [])
                try:
                    async with session.post(self.urls[index], data=body, headers=headers) as response:
                        await response.read()
                        trail.append((index, str(response.status)))
                        if 200 <= response.status < 300:
                            self.latencies.append(time.perf_counter() - started)
                            self.delivered += 1
                            break
                except (aiohttp.ClientError, TimeoutError) as error:
                    trail.append((index, type(error).__name__))
                self.errors += 1  # as Telegram does: try again, here on the next replica
                await asyncio.sleep(0.1)


class People:
    """Requesters and volunteers acting through the emulator, each waiting for the bot like a person: the
    crowd's patience (how long, and what to do when a replica died under a press) on top of ``Person``."""

    def __init__(self, world: FakeTelegram, timeout: float) -> None:
        self.world = world
        self.timeout = timeout
        self.sent: dict[int, list[int]] = {}  # person -> their update ids, for diagnosing a stuck walk

    async def until(
        self,
        predicate: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - a deadline for a predicate, not one awaitable
        *,
        chat: Person | None = None,
    ) -> Any:
        """Wait for ``predicate``, re-checked on every change in the world, or only on changes to ``chat``'s
        chat (and once a second) when it looks at that chat alone."""
        timeout = timeout or self.timeout
        if chat is None:
            return await self.world.wait_for(predicate, timeout=timeout, interval=0.05)
        return await self.world.wait_for(predicate, timeout=timeout, interval=1.0, chat_id=chat.id)

    def _look(self, user: Person) -> tuple[Any, ...]:
        """What the person sees at the end of their chat. An edit shows in the text and the buttons themselves:
        ``edit_date`` has whole seconds, and two quick presses on one question are edited within the same one."""
        chat = self.world.stored_chat(user.id)
        last = [chat.messages[i] for i in sorted(chat.messages)[-3:]]
        return (
            chat.next_message_id,
            *((m.message_id, m.deleted, m.data.get("edit_date"), m.text, repr(m.inline_keyboard)) for m in last),
        )

    async def press(
        self, user: Person, label: str, message_id: int | None = None, look_for: float | None = None
    ) -> str:
        """Press and wait for the answer. A press handled only after a replica died can be past Telegram's
        15 seconds for answering it: then, as a person would, wait for the chat to change instead. A press
        on a message the dead replica sent before the update was handled again elsewhere is answered
        "earlier message": the person presses the same button on the newest message. ``look_for``: how long
        to wait for the button to be shown (the people's patience by default)."""
        text = ""
        for _ in range(3):
            before = self._look(user)
            # Buttons come with the screen the bot shows after committing; a person presses what is there
            # (at once: nothing runs between seeing the button and pressing it).
            await self.until(lambda: user.can_press(label, message_id), look_for, chat=user)
            update = (await user.press(label, message_id, translate=False, wait=False)).update
            self.sent.setdefault(user.id, []).append(int(update["update_id"]))
            query = update["callback_query"]["id"]
            try:
                await self.until(lambda q=query: q in self.world.callback_answers, timeout=20, chat=user)
            except TimeoutError:
                await self.until(lambda b=before: self._look(user) != b, chat=user)
            answer = self.world.callback_answers.get(query)
            text = (answer.text or "") if answer else ""
            pressed = int(update["callback_query"]["message"]["message_id"])
            # Pressed on a screen a dying replica sent before its update was redone elsewhere: the bot says
            # "earlier message", or says nothing when that answer comes past Telegram's 15 seconds. Either
            # way the person presses the same button on the newer screen.
            stale = "earlier message" in text or (answer is None and self._newer_button(user, label, pressed))
            if message_id is not None or not stale:
                return text
            await asyncio.sleep(0.2)
        return text

    def _newer_button(self, user: Person, label: str, pressed: int) -> bool:
        messages = self.world.stored_chat(user.id).messages
        return any(
            button.get("text") == label
            for message_id, message in messages.items()
            if message_id > pressed and message.from_bot and not message.deleted
            for row in message.inline_keyboard
            for button in row
        )

    async def send(self, user: Person, text: str, reply: Any = None) -> str:
        """Send ``text`` and wait for the bot's next message (the first that ``reply(text)`` accepts, when
        given: other messages, relays say, may arrive in between); returns its text."""
        action = await user.send(text, wait=False)
        self.sent.setdefault(user.id, []).append(action.update_id)
        sent = action.message_id
        chat = self.world.stored_chat(user.id)

        def answered() -> str | None:
            for message_id, message in chat.messages.items():
                if message_id > sent and message.from_bot and (reply is None or reply(message.text or "")):
                    return message.text or " "
            return None

        return str(await self.until(answered, chat=user))

    def texts(self, user: Person) -> list[str]:
        # Read the emulator's records directly: building full message views on every poll of every
        # volunteer's long chat made the driver, not the bot, the bottleneck of the load test.
        messages = self.world.stored_chat(user.id).messages.values()
        return [m.text or "" for m in messages if m.from_bot and not m.deleted]

    @staticmethod
    def ever_shown(user: Person) -> list[str]:
        """Everything the bot ever put in this chat, deleted or not (hygiene deletes after a close)."""
        return [m.text for m in user.all_messages() if m.from_bot]


async def _requester(people: People, user: Person, n: int, state: dict[str, Any]) -> None:
    await people.send(user, "/start")
    for label in INTAKE_PRESSES:
        await people.press(user, label)
    await people.send(user, f"description-{n}-{state['canary']}")
    state["submitted"].add(n)  # pressed: from now on exactly one request must exist for this person
    await people.press(user, "Submit")
    confirmation = await people.until(
        lambda: next((t for t in people.texts(user) if "Your request is sent." in t), None), timeout=120, chat=user
    )
    found = re.search(r"R-[0-9A-Z]{6}", confirmation)
    assert found is not None, confirmation
    code = found.group(0)
    state["codes"][n] = code
    await user.send(f"hello-{n}-{state['canary']}", wait=False)
    await people.until(lambda: any(f"answer-{code}" in t for t in people.texts(user)), timeout=240, chat=user)
    await user.send(f"thanks-{n}", wait=False)
    await people.until(lambda: any("is closed" in t for t in people.texts(user)), timeout=240, chat=user)
    state["completed"].add(n)
    state["completed_at"].append(time.perf_counter())


async def _volunteer(people: People, user: Person, state: dict[str, Any], stop: asyncio.Event) -> None:
    cases: list[asyncio.Task[None]] = []
    mine: set[str] = set()
    try:
        await _work_the_queue(people, user, state, stop, cases, mine)
    finally:
        for case in cases:
            case.cancel()
        await asyncio.gather(*cases, return_exceptions=True)


async def _work_the_queue(
    people: People,
    user: Person,
    state: dict[str, Any],
    stop: asyncio.Event,
    cases: list[asyncio.Task[None]],
    mine: set[str],
) -> None:
    while not stop.is_set():
        if sum(not case.done() for case in cases) >= MAX_OPEN_CASES:  # a person's hands are full
            await asyncio.sleep(1.0)
            continue
        try:
            await _claim_one(people, user, state, cases, mine)
        except _WaitedInVain as waited:  # as a person would: note it, and look at the queue again
            state["volunteer_waits"].append(str(waited))


class _WaitedInVain(Exception):
    """What a simulated volunteer waited for and never saw."""


async def _claim_one(
    people: People, user: Person, state: dict[str, Any], cases: list[asyncio.Task[None]], mine: set[str]
) -> None:
    try:
        listing = await people.send(user, "/queue", reply=lambda t: t.startswith("Waiting:") or "queue is empty" in t)
    except TimeoutError as error:
        raise _WaitedInVain("the reply to /queue") from error
    codes = re.findall(r"R-[0-9A-Z]{6}", listing)
    # Paced as a person would look at the queue, not as fast as the bot answers: otherwise most of
    # the load is volunteers listing the queue, which tells nothing about requesters being served.
    if not codes:
        await asyncio.sleep(3.0)  # an empty queue: look again in a while
        return
    # Volunteers pick different requests from the page, not all the top one: claims still collide
    # (and must stay atomic), but a team shares the work instead of one person winning every race.
    choices = [c for c in codes if c not in mine]
    if not choices:  # the page still lists what this volunteer holds: its claims not yet committed
        await asyncio.sleep(1.0)
        return
    code = random.choice(choices)
    try:
        answer = await people.press(user, f"Claim {code}", look_for=20)
    except TimeoutError as error:
        raise _WaitedInVain("the Claim button, or the chat to change after pressing it") from error
    # Won when the full request is shown to this volunteer; a lost race is said in the press's answer.
    if not answer:
        try:
            await people.until(lambda c=code: _shown_request(people, user, c), timeout=30, chat=user)
        except TimeoutError:
            state["claims_unanswered"].append(code)
    if _shown_request(people, user, code):
        mine.add(code)
        state["claims"][user.id] = len(mine)
        cases.append(asyncio.create_task(_case(people, user, code, state)))
    await asyncio.sleep(1.0)


def _shown_request(people: People, user: Person, code: str) -> bool:
    return any(t.startswith(f"Request {code}") for t in people.texts(user))


async def _case(people: People, user: Person, code: str, state: dict[str, Any]) -> None:
    """A volunteer works the case by its buttons: Reply (answering the bot's prompt), then Close with the
    goodbye."""
    await people.until(
        lambda: any(t.startswith(f"{code}:\nhello-") for t in people.texts(user)), timeout=240, chat=user
    )
    case = await people.until(lambda: _shown(people, user, lambda m: m.text.startswith(f"Request {code}")), chat=user)
    await _answer_by_button(people, user, code, case.message_id)
    await people.until(
        lambda: any(t.startswith(f"{code}:\nthanks-") for t in people.texts(user)), timeout=240, chat=user
    )
    await people.press(user, "Close", case.message_id)
    closing = await people.until(lambda: _shown(people, user, lambda m: m.text == f"How did {code} end?"), chat=user)
    await people.press(user, "Helped to leave", closing.message_id)
    await people.press(user, "Send and close", closing.message_id)


def _after_answer(message: StoredMessage, sent: int, code: str) -> bool:
    """The bot's word on an answer: where it went, or that the prompt bound nothing."""
    return message.message_id > sent and (
        message.text.startswith(f"→ {code} ✓") or "not about a request" in message.text
    )


def _shown(people: People, user: Person, match: Callable[[StoredMessage], bool]) -> StoredMessage | None:
    """The newest message of the bot on this volunteer's screen that ``match`` accepts."""
    messages = people.world.stored_chat(user.id).messages.values()
    return next((m for m in reversed(list(messages)) if m.from_bot and not m.deleted and match(m)), None)


async def _answer_by_button(people: People, user: Person, code: str, case_id: int) -> None:
    """Reply, then the answer as a reply to the bot's prompt; confirmed by "→ R-… ✓". A prompt a dying replica
    sent but never recorded binds nothing ("not about a request"): as a person would, press Reply again."""
    asking = f"Write to {code}: reply to this message."
    for _ in range(3):
        before = max(people.world.stored_chat(user.id).messages)
        await people.press(user, "Reply", case_id)
        prompt = await people.until(
            lambda b=before: _shown(people, user, lambda m: m.message_id > b and m.text == asking), chat=user
        )
        answer = await user.reply(prompt.message_id, f"answer-{code}", wait=False)
        sent = int(answer.update["message"]["message_id"])
        outcome = await people.until(
            lambda s=sent: _shown(people, user, lambda m: _after_answer(m, s, code)), 120, chat=user
        )
        if outcome.text.startswith(f"→ {code} ✓"):
            return


async def _join(people: People, admin: Person, user: Person) -> None:
    await people.send(admin, "/invite volunteer")
    invite = re.search(r"/join (\w+)", people.texts(admin)[-1])
    assert invite is not None, people.texts(admin)[-1]
    await people.send(user, f"/join {invite.group(1)}")


def _busiest_second(stamps: list[float]) -> int:
    stamps.sort()
    busiest, start = 0, 0
    for end, moment in enumerate(stamps):
        while moment - stamps[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


async def run_load(config: LoadConfig, workdir: Path, database_url: str, redis_url: str) -> LoadResult:
    world = FakeTelegram()
    emulator = BotApiEmulator(world)
    api_base = await emulator.start()
    secret = secrets.token_urlsafe(24)
    keys = workdir / "keys"
    settings = make_settings(keys, database_url=database_url)
    await (await open_runtime(settings, create_if_fresh=True, say=lambda _line: None)).close()
    ports = [free_port() for _ in range(config.replicas)]
    replicas = []
    for index, port in enumerate(ports):
        data = workdir / f"replica-{index}"
        data.mkdir(parents=True, exist_ok=True)
        env = bot_environment(api_base, data, database_url)
        env.update(
            TROPA_KEY_FILE=str(keys / "keyring.json"),
            TROPA_REDIS_URL=redis_url,
            TROPA_WEBHOOK_URL=f"https://tropa.test{WEBHOOK_PATH}",  # what Telegram is told; the balancer posts locally
            TROPA_WEBHOOK_SECRET=secret,
            TROPA_WEBHOOK_HOST="127.0.0.1",
            TROPA_WEBHOOK_PORT=str(port),
            TROPA_LOG_LEVEL="INFO",
            TROPA_SEND_PER_SECOND=str(GLOBAL_RATE),
            TROPA_VOLUNTEER_CHAT_ID=str(GROUP_ID),  # triage cards to the team's group, as a team of this size has
        )
        replicas.append(BotProcess(env, data, data))
    await asyncio.gather(*(replica.start(timeout=60) for replica in replicas))
    balancer = Balancer(world, [f"http://127.0.0.1:{p}{WEBHOOK_PATH}" for p in ports], secret, config.concurrency)
    pushing = asyncio.create_task(balancer.run())
    people = People(world, timeout=90)
    state: dict[str, Any] = {
        "submitted": set(),
        "codes": {},
        "completed": set(),
        "canary": secrets.token_hex(8),
        "volunteers": config.volunteers,
        "claims": {},  # volunteer -> cases they won
        "claims_unanswered": [],  # a press on Claim that neither showed the request nor said why not
        "volunteer_waits": [],  # what a volunteer waited for in vain before looking at the queue again
        "completed_at": [],
    }
    stop = asyncio.Event()
    started = time.perf_counter()
    try:
        admin = world.person(ADMIN_ID, language_code="en")
        await people.send(admin, "/start")
        volunteers = [world.person(80_000 + v, language_code="en") for v in range(config.volunteers)]
        for volunteer in volunteers:
            await _join(people, admin, volunteer)
        world.group(GROUP_ID, "Volunteers", members=[admin, *volunteers])
        requesters = [world.person(100_000 + n, language_code="en") for n in range(config.requesters)]
        walking = [asyncio.create_task(_requester(people, user, n, state)) for n, user in enumerate(requesters)]
        working = [asyncio.create_task(_volunteer(people, user, state, stop)) for user in volunteers]
        if config.kill_midway:
            await people.until(lambda: len(state["submitted"]) >= config.requesters // 2, timeout=config.deadline)
            state["killed_at"] = time.perf_counter() - started
            await replicas[0].kill()
            await asyncio.sleep(1.0)
            await replicas[0].start(timeout=60)
        all_submitted = asyncio.create_task(
            people.until(lambda: len(state["codes"]) == config.requesters, timeout=config.deadline)
        )
        done, pending = await asyncio.wait(walking, timeout=config.deadline)
        elapsed = time.perf_counter() - started  # the last requester is done (or the deadline passed)
        state["all_confirmed_at"] = (time.perf_counter() - started) if all_submitted.done() else None
        all_submitted.cancel()
        for task in pending:
            task.cancel()
        stop.set()
        # Volunteers end their shift now, not after whatever they were waiting for.
        volunteer_errors = [repr(task.exception()) for task in working if task.done() and task.exception()]
        for task in working:
            task.cancel()
        await asyncio.gather(*working, return_exceptions=True)
        errors_in_walk = [repr(task.exception()) for task in done if task.exception() is not None]
        await asyncio.sleep(2.0)  # let the outboxes settle before counting
    finally:
        pushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pushing
        for replica in replicas:
            await replica.stop()
        await emulator.stop()

    invariants, details = await _check(world, replicas, database_url, state)
    details["requester_errors"] = errors_in_walk[:5]
    details["volunteer_errors"] = volunteer_errors[:5]
    details["killed_at_s"] = round(state.get("killed_at", 0.0), 1)
    # When cases closed (seconds from the start, at each tenth) and how they were shared among volunteers:
    # one volunteer's chat takes one message a second, so a volunteer with many cases sets the pace.
    closed = sorted(moment - started for moment in state["completed_at"])
    details["closed_at_s"] = (
        [round(closed[min(len(closed) - 1, len(closed) * k // 10)], 1) for k in range(1, 11)] if closed else []
    )
    details["cases_per_volunteer"] = sorted(state["claims"].values(), reverse=True)
    details["claims_unanswered"] = state["claims_unanswered"][:5]
    details["volunteer_waits"] = state["volunteer_waits"][:5]
    details["stuck"] = {
        n: [(m.message_id, (m.text or "")[:40], m.buttons[:1], m.deleted) for m in requesters[n].all_messages()][-6:]
        for n in sorted(set(range(config.requesters)) - state["completed"])
    }
    stuck_codes = [state["codes"][n] for n in sorted(set(state["codes"]) - state["completed"])][:2]
    details["stuck_volunteer_side"] = {
        code: [
            (v.id, m.message_id, (m.text or "")[:50], m.deleted, [row[:2] for row in m.buttons][:2])
            for v in (world.person(80_000 + i) for i in range(config.volunteers))
            for m in v.all_messages()
            if code in (m.text or "") or (m.from_bot is False and code in (m.text or ""))
        ][-8:]
        for code in stuck_codes
    }
    details["stuck_answers"] = [a.text for a in world.callback_answers.values() if a.text and "earlier" in a.text]
    details["retried_updates"] = len([trail for trail in balancer.trail.values() if len(trail) > 1])
    logs_by_update: dict[int, list[str]] = {}
    for replica_index, replica in enumerate(replicas):
        for line in replica.log_text().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                if "update_id" in record:
                    logs_by_update.setdefault(int(record["update_id"]), []).append(f"{replica_index}:{record['event']}")
    details["stuck_updates"] = {
        n: [(u, balancer.trail.get(u), logs_by_update.get(u, [])[-3:]) for u in people.sent.get(100_000 + n, [])[-3:]]
        for n in sorted(set(range(config.requesters)) - state["completed"])
    }
    latencies = sorted(balancer.latencies) or [0.0]
    logs = "".join(replica.log_text() for replica in replicas)
    details["failures"] = [line[-1500:] for line in logs.splitlines() if '"update.failed"' in line][:3]
    details["after_commit_timeouts"] = [line[:300] for line in logs.splitlines() if '"after_commit.timeout"' in line]
    details["lock_waits"] = [line[:300] for line in logs.splitlines() if '"person_lock.waited"' in line][:10]
    return LoadResult(
        config=config,
        elapsed=elapsed,
        updates=balancer.delivered,
        attempts=balancer.attempts,
        errors=balancer.errors,
        failed_in_bot=logs.count('"update.failed"'),
        updates_per_second=balancer.delivered / elapsed if elapsed else 0.0,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        submitted=len(state["submitted"]),
        completed=len(state["completed"]),
        invariants=invariants,
        details=details,
    )


async def _check(
    world: FakeTelegram, replicas: list[BotProcess], database_url: str, state: dict[str, Any]
) -> tuple[dict[str, bool], dict[str, Any]]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        requests = await connection.fetchval("SELECT count(*) FROM requests")
        per_requester = await connection.fetchval(
            "SELECT count(*) FROM (SELECT requester_index FROM requests GROUP BY requester_index "
            "HAVING count(*) > 1) AS twice"
        )
        claimed_twice = await connection.fetchval(
            "SELECT count(*) FROM (SELECT request_id FROM audit_events WHERE action = 'claimed' "
            "GROUP BY request_id HAVING count(*) > 1) AS twice"
        )
        job_runs = await connection.fetch("SELECT name, period FROM job_runs")
    finally:
        await connection.close()

    broken: dict[str, tuple[int, int]] = {}
    volunteers = [world.person(80_000 + v) for v in range(state["volunteers"])]
    for n in state["completed"]:
        code = state["codes"][n]
        answers = sum(f"answer-{code}" in t for t in People.ever_shown(world.person(100_000 + n)))
        hellos = sum(t.startswith(f"{code}:\nhello-{n}-") for v in volunteers for t in People.ever_shown(v))
        if (answers, hellos) != (1, 1):
            broken[code] = (answers, hellos)
    relayed_once = not broken

    logs = [replica.log_text() for replica in replicas]
    done_lines = [line for text in logs for line in text.splitlines() if '"job.done"' in line]
    job_periods = [(json.loads(line)["job"], json.loads(line)["period"]) for line in done_lines]
    sent = [
        datetime.fromisoformat(json.loads(line)["sent_at"]).timestamp()
        for text in logs
        for line in text.splitlines()
        # An update's own deferred edits answer the person who acted, like its direct replies: the
        # sender's rate limit is about the background traffic.
        if '"outbox.sent"' in line and '"purpose": "effect"' not in line
        for _ in range(json.loads(line).get("count", 1))
    ]
    busiest = _busiest_second(sent) if sent else 0
    invariants = {
        "one_request_per_submitter": requests == len(state["submitted"]) and per_requester == 0,
        "relayed_exactly_once": relayed_once,
        "no_request_claimed_twice": claimed_twice == 0,
        "no_job_twice_in_a_period": len(job_periods) == len(set(job_periods))
        and len(job_runs) == len({(row["name"], row["period"]) for row in job_runs}),
        "outbox_within_global_rate": busiest <= GLOBAL_RATE,
    }
    details = {
        "requests": requests,
        "outbox_sent": len(sent),
        "busiest_second": busiest,
        "job_runs": len(job_runs),
        "relays_not_once": broken,
        "jobs_done_twice": sorted({period for period in job_periods if job_periods.count(period) > 1}),
    }
    return invariants, details

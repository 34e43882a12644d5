"""The composition root: builds the Bot, the Dispatcher and the background workers from settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy.exc
import structlog
from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import DisabledEventIsolation, SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine.url import make_url

from bot.delivery import OutboxSender
from bot.i18n import create_i18n
from bot.inline_filters import check_filters_in_place
from bot.log import register_secret
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.person_lock import PersonLockMiddleware, RenewedRedisLocks
from bot.middlewares.responses import KeepResponseTypes
from bot.middlewares.retry import AfterCommit, BestEffortCallbackAnswers, RetryAfterMiddleware
from bot.middlewares.roles import RoleMiddleware
from bot.middlewares.throttling import MemoryCounter, RedisCounter, ThrottlingMiddleware
from bot.middlewares.transaction import TransactionMiddleware
from bot.notices import NoticeRenderer
from bot.runtime import Runtime
from bot.settings import SUPPORTED_LANGUAGES, Settings
from handlers import case, fallback, intake, operator, relay, requester, stats, team
from handlers.filters import HasRole
from services import maintenance
from services.context import Services
from services.events import Events, RequestSubmitted
from services.hygiene import clear_stray_views
from services.jobs import Job, JobRunner
from services.policy import Policy
from services.queue import announce_submitted
from services.ratelimit import Limits, MemoryLimiter, NoLimits, RedisLimiter, SendLimiter
from services.team import AdminsReport
from storage.epochs import MAX_TICK, KeyEpochs
from storage.fsm import DatabaseStorage, EncryptedStorage, RedisKeyBuilder, SweepableRedisStorage
from storage.vault import EphemeralKeys
from views.errors import something_went_wrong
from views.language import pick_language
from views.requester import REQUESTER_COMMANDS, requester_command_descriptions

log = structlog.get_logger()
ABANDONED_SWEEP_EVERY = timedelta(minutes=10)
SETTLE_AFTER_SECONDS = 2.0


def policy_from(settings: Settings) -> Policy:
    return Policy(
        retention=timedelta(days=settings.retention_days),
        inactive_after=timedelta(days=settings.inactive_days),
        abandoned_after=timedelta(hours=settings.abandoned_hours),
        shred_bound=timedelta(hours=settings.shred_bound_hours),
        claim_lease=timedelta(hours=settings.claim_lease_hours),
        escalate_after=timedelta(minutes=settings.escalate_minutes),
        invite_valid_for=timedelta(hours=settings.invite_valid_hours),
        stats_min_cell=settings.stats_min_cell,
        volunteer_chat_id=settings.volunteer_chat_id,
        chat_hygiene=settings.chat_hygiene,
        default_language=settings.default_language,
        team_zone=settings.hours.zone,
    )


def send_limiter(settings: Settings, redis: Redis | None, blind: Callable[[str, int], str]) -> SendLimiter:
    if settings.send_per_second == 0:
        return NoLimits()
    limits = Limits(settings.send_per_second, settings.send_chat_interval, settings.send_group_interval)
    return RedisLimiter(redis, limits, blind) if redis else MemoryLimiter(limits)


def install_request_middlewares(session: BaseSession) -> AfterCommit:
    """Outermost first: defer what can wait for the commit, then retry flood waits, then soften answers;
    and keep the answer types aiogram parses with."""
    deferring = AfterCommit()
    session.middleware(deferring)
    session.middleware(RetryAfterMiddleware())
    session.middleware(BestEffortCallbackAnswers())
    session.middleware(KeepResponseTypes())
    return deferring


# No default parse mode: texts go out plain, formatting as entities (aiogram.utils.formatting), so nothing a
# person typed is ever parsed as markup and no call has to opt out of it.
BOT_DEFAULTS = DefaultBotProperties(link_preview_is_disabled=True)


def bot_on(session: BaseSession, token: str) -> tuple[Bot, AfterCommit]:
    """Tropa's bot on any session (production's, or a test's): its request middlewares and defaults."""
    deferring = install_request_middlewares(session)
    return Bot(token=token, session=session, default=BOT_DEFAULTS), deferring


def build_bot(settings: Settings, token: str, **session_kwargs: Any) -> tuple[Bot, AfterCommit]:
    session = AiohttpSession(**session_kwargs)
    if settings.telegram_api_base:
        session.api = TelegramAPIServer.from_base(settings.telegram_api_base)
    return bot_on(session, token)


@dataclass
class App:
    runtime: Runtime
    bot: Bot
    dispatcher: Dispatcher
    storage: EncryptedStorage
    i18n: I18n
    policy: Policy
    events: Events
    sender: OutboxSender
    jobs: JobRunner
    epochs: KeyEpochs
    redis: Redis | None = None
    admins: AdminsReport | None = None

    async def close(self) -> None:
        await self.epochs.close()
        with contextlib.suppress(ValueError):
            self.runtime.db.after_shred.remove(self.epochs.kick)
        await self.sender.close()
        await self.storage.close()
        if self.redis is not None:
            await self.redis.aclose()


async def build_app(
    runtime: Runtime,
    bot: Bot,
    *,
    inner_storage: BaseStorage | None = None,
    isolation: BaseEventIsolation | None = None,
    deferring: AfterCommit | None = None,
) -> App:
    settings = runtime.settings
    policy = policy_from(settings)
    events = Events()
    i18n = create_i18n(settings.default_language)
    # Several replicas share Redis for FSM state, per-person locks, flood counting and sending limits;
    # one box keeps all of it in the database and in memory (docs/decisions/0006-replicas.md).
    # No Redis command may wait forever: a hung one becomes an outage the update is retried after.
    redis = (
        Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5) if settings.redis_url else None
    )
    if inner_storage is None:
        inner_storage = (
            SweepableRedisStorage(
                redis, key_builder=RedisKeyBuilder(), state_ttl=fsm_ttl(policy), data_ttl=fsm_ttl(policy)
            )
            if redis
            else DatabaseStorage(runtime.db)
        )
    if isolation is None:
        isolation = RenewedRedisLocks(redis) if redis else SimpleEventIsolation()
    storage = EncryptedStorage(
        inner_storage, EphemeralKeys(runtime.db, runtime.vault), runtime.keyring.blind, journal=runtime.db
    )
    epochs = KeyEpochs(
        runtime.db,
        runtime.vault,
        policy.shred_bound,
        reseal_outside=storage.reseal_outside,
        tick_every=min(timedelta(seconds=settings.job_interval_seconds), MAX_TICK),
    )
    runtime.db.after_shred.append(epochs.kick)
    sender = OutboxSender(
        runtime.db,
        runtime.vault,
        policy,
        events,
        bot,
        NoticeRenderer(i18n, settings.hours),
        send_limiter(settings, redis, runtime.keyring.blind),
    )

    if deferring is not None:
        deferring.store = sender
    # Per update: the person's lock, then the transaction, then the FSM state read inside it; so the read,
    # every FSM write and the handler's own writes commit together, and the person's next update starts
    # only after that commit (decision 0005). aiogram's own isolation is off: ours locks blinded keys.
    dispatcher = Dispatcher(storage=storage, events_isolation=DisabledEventIsolation(), disable_fsm=True)
    dispatcher["i18n_catalog"] = i18n
    dispatcher.update.outer_middleware(PersonLockMiddleware(dispatcher.fsm, storage, isolation))
    dispatcher.update.outer_middleware(TransactionMiddleware(runtime.db, runtime.vault, policy, events, sender.ring))
    dispatcher.update.outer_middleware(dispatcher.fsm)
    roles, locale = RoleMiddleware(), LocaleMiddleware(i18n)
    counter = (
        RedisCounter(redis, settings.throttle_per_minute) if redis else MemoryCounter(settings.throttle_per_minute)
    )
    throttling = ThrottlingMiddleware(counter, settings.throttle_per_minute, runtime.keyring.blind)
    for observer in (dispatcher.message, dispatcher.edited_message, dispatcher.callback_query):
        observer.outer_middleware(roles)
        observer.outer_middleware(locale)
        observer.outer_middleware(throttling)
    dispatcher.errors.register(on_error)
    dispatcher.include_routers(
        team.build_joining(),
        team_side(
            operator.build_router(),
            case.build_router(),
            team.build_router(),
            stats.build_router(),
            relay.build_volunteer_side(),
        ),
        intake.build_blocked_gate(),
        requester.build_router(),
        intake.build_router(),
        relay.build_requester_side(),
        fallback.build_router(),
    )
    check_filters_in_place(dispatcher)
    events.subscribe(RequestSubmitted, announce_submitted)

    jobs = JobRunner(
        runtime.db,
        runtime.vault,
        policy,
        events,
        [
            Job("abandoned_intakes", ABANDONED_SWEEP_EVERY, maintenance.abandoned_intake_sweep(storage)),
            # Before the lease expiry: a case erased for inactivity is erased while its holder still holds it.
            Job("retention", timedelta(hours=1), lambda services: services.retention.purge_expired()),
            Job("lease_expiry", timedelta(minutes=10), lambda services: services.deadlines.expire_leases()),
            Job("stray_views", timedelta(minutes=10), clear_stray_views),
            Job("reconnect_keys", timedelta(minutes=10), lambda services: services.reconnect.expire_keys()),
            Job("escalation", timedelta(minutes=1), lambda services: services.deadlines.escalate()),
            Job("forget_updates", timedelta(hours=6), maintenance.forget_old_updates),
            Job("drop_failed_outbox", timedelta(hours=24), maintenance.drop_old_failed_messages),
        ],
        after_run=sender.ring,
    )
    async with runtime.db.transaction() as session:
        admins = await Services(session, runtime.vault, policy, events).team.ensure_admins(
            settings.admin_ids, settings.default_language
        )
    if admins.kept_revoked:
        log.warning("admins.kept_revoked", count=len(admins.kept_revoked))
    return App(runtime, bot, dispatcher, storage, i18n, policy, events, sender, jobs, epochs, redis, admins)


def team_side(*routers: Router) -> Router:
    """The routers only team members reach, behind one check: everyone else's update passes them all at the cost of
    one filter, instead of each router's middleware and filters in turn (each router still checks the role it needs)."""
    side = Router(name="team-side")
    for observer in (side.message, side.edited_message, side.callback_query):
        observer.filter(HasRole())
    side.include_routers(*routers)
    return side


def settle_after_start() -> None:
    """What was built while starting (aiogram's ~300 types, the ORM's mappers, the catalogs) lives as long as
    the process: frozen out of the garbage collector's sight, so a full collection walks only what updates
    made, not the whole heap (bench/intake_profile.py measures the collector's share per update)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)  # fewer young collections: an update makes thousands of short-lived objects
    gc.enable()  # off since the process started (bot.launch)


def fsm_ttl(policy: Policy) -> timedelta:
    """How long Redis keeps a person's FSM record untouched: the abandoned-intake period, plus the time the
    sweep needs to find it first (it also deletes the intake's messages from the chat, which Redis cannot)."""
    return policy.abandoned_after + 3 * ABANDONED_SWEEP_EVERY


def admin_notices(report: AdminsReport | None) -> list[str]:
    """What the operator reads at start about the admins named in TROPA_ADMIN_IDS."""
    lines = []
    for name, revoked_at in report.kept_revoked if report else []:
        when = f" on {revoked_at:%Y-%m-%d}" if revoked_at else ""
        lines.append(
            f"TROPA_ADMIN_IDS names {name}, who was revoked through the bot{when}: they stay revoked. "
            "Remove them from TROPA_ADMIN_IDS, or invite them again with `tropa volunteers invite admin`."
        )
    return lines


# The database or Redis out of reach for a moment: the update was rolled back whole, so it is safe to
# run again, and on a webhook Telegram delivers it again when it is not answered with 200.
OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    ConnectionError,
)


async def on_error(event: ErrorEvent, i18n_catalog: I18n, redelivered_on_failure: bool = False) -> bool:
    """Log the failure (type and frames only) and tell the person something went wrong; on a webhook,
    an outage instead fails the call, so Telegram delivers the update again (to this or another replica)."""
    if redelivered_on_failure and isinstance(event.exception, OUTAGES):
        log.warning("update.redelivery_requested", error=type(event.exception).__name__)
        raise SkipHandler  # no error handler took it: the exception reaches the webhook, which answers 500
    log.error("update.failed", error=type(event.exception).__name__, exc_info=event.exception)
    update = event.update
    user = update.message.from_user if update.message else None
    if update.callback_query:
        user = update.callback_query.from_user
    locale = pick_language(user.language_code if user else None, i18n_catalog.default_locale)
    with i18n_catalog.context(), i18n_catalog.use_locale(locale):
        text = something_went_wrong()
        with contextlib.suppress(Exception):
            if update.callback_query:
                await update.callback_query.answer(text, show_alert=True)
            elif update.message and update.message.chat.type == "private":
                await update.message.answer(text)
    return True


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """The command menu requesters see, in each language, and a default for everyone else."""
    for language in (None, *SUPPORTED_LANGUAGES):
        with i18n.context(), i18n.use_locale(language or i18n.default_locale):
            descriptions = requester_command_descriptions()
        commands = [BotCommand(command=name, description=descriptions[name]) for name in REQUESTER_COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code=language)


async def serve(runtime: Runtime, token: str) -> None:
    """Run until stopped: long polling by default, or a webhook server when TROPA_WEBHOOK_URL is set."""
    settings = runtime.settings
    for secret in (
        token,
        settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
        make_url(settings.resolved_database_url).password,
        urlsplit(settings.redis_url).password if settings.redis_url else None,
    ):
        register_secret(str(secret) if secret else None)  # no log line can carry them (bot/log.py)
    bot, deferring = build_bot(settings, token)
    app = await build_app(runtime, bot, deferring=deferring)
    # A full collection takes a fifth of a second: after the first poll, not before it.
    asyncio.get_running_loop().call_later(SETTLE_AFTER_SECONDS, settle_after_start)
    workers: list[asyncio.Task[None]] = []
    try:
        me = await bot.get_me()
        mode = "webhook" if settings.webhook_url else "polling"
        log.info("bot.starting", mode=mode, database="sqlite" if runtime.db.is_sqlite else "postgresql")
        for line in admin_notices(app.admins):
            print(line, flush=True)
        await register_commands(bot, app.i18n)
        workers = [
            asyncio.create_task(app.sender.run(settings.outbox_interval_seconds), name="outbox"),
            asyncio.create_task(app.jobs.run(settings.job_interval_seconds), name="jobs"),
            asyncio.create_task(app.epochs.run(), name="key-epochs"),
        ]
        if settings.webhook_url:
            await serve_webhook(app, me.username or "")
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            print(f"Tropa is running as @{me.username}. Press Ctrl+C to stop.", flush=True)
            await app.dispatcher.start_polling(
                bot,
                polling_timeout=settings.polling_timeout,
                allowed_updates=app.dispatcher.resolve_used_update_types(),
                handle_signals=True,
            )
    finally:
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.close()
        await bot.session.close()


def webhook_application(app: App) -> web.Application:
    """The webhook endpoint (secret checked by aiogram, the update handled before Telegram gets its 200,
    so an update a dying replica never finished is delivered again), /healthz and /readyz."""
    settings = app.runtime.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    web_app = web.Application()
    app.dispatcher["redelivered_on_failure"] = True
    SimpleRequestHandler(
        dispatcher=app.dispatcher,
        bot=app.bot,
        secret_token=settings.webhook_secret.get_secret_value(),
        handle_in_background=False,
    ).register(web_app, path=urlsplit(settings.webhook_url).path or "/")
    setup_application(web_app, app.dispatcher, bot=app.bot)

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(_request: web.Request) -> web.Response:
        checks = {"keyring": True, "database": False, "redis": None}
        with contextlib.suppress(Exception):
            async with app.runtime.db.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            checks["database"] = True
        if app.redis is not None:
            checks["redis"] = False
            with contextlib.suppress(Exception):
                checks["redis"] = bool(await app.redis.ping())
        ready = all(value is not False for value in checks.values())
        return web.json_response({"ok": ready, **checks}, status=200 if ready else 503)

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    return web_app


async def serve_webhook(app: App, username: str) -> None:
    settings = app.runtime.settings
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    # Every replica calls this on start; Telegram answers the same call with the same result.
    await app.bot.set_webhook(
        url=settings.webhook_url,
        secret_token=settings.webhook_secret.get_secret_value(),
        allowed_updates=app.dispatcher.resolve_used_update_types(),
        drop_pending_updates=False,
    )
    runner = web.AppRunner(webhook_application(app), handle_signals=False, shutdown_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("webhook.listening", host=settings.webhook_host, port=settings.webhook_port)
    print(f"Tropa is running as @{username} (webhook on port {settings.webhook_port}).", flush=True)
    await stop.wait()
    # SIGTERM: stop taking updates, finish the ones in flight (aiohttp waits for them), then exit.
    log.info("webhook.stopping")
    await site.stop()
    await runner.cleanup()

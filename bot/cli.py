"""The ``tropa`` command line. Every refusal is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keys, stats_cli
from bot.log import configure_logging
from bot.runtime import Runtime, open_runtime, unlock_ahead
from bot.settings import Settings, SettingsError, load_settings
from services.context import Services
from services.errors import TeamError
from services.events import Events
from storage import migrate as migrations
from storage.keyring import KeyringError
from storage.kinds import Role

EXIT_REFUSED = 2

BOTFATHER_STEPS = (
    "TROPA_BOT_TOKEN is not set. Open Telegram, talk to @BotFather, send /newbot and follow the "
    "steps; it replies with a token like 123456789:AA... Then run: export TROPA_BOT_TOKEN='<token>' "
    "(or put TROPA_BOT_TOKEN=<token> in a .env file here)."
)


class Refused(Exception):
    """The command cannot go on; the message says why and what to do."""


def say(line: str) -> None:
    print(line, flush=True)


def _require_token(settings: Settings) -> str:
    if settings.bot_token is None or not settings.bot_token.get_secret_value().strip():
        raise Refused(BOTFATHER_STEPS)
    from aiogram.utils.token import TokenValidationError, validate_token  # aiogram takes seconds to import

    token = settings.bot_token.get_secret_value().strip()
    try:
        validate_token(token)
    except TokenValidationError:
        raise Refused("TROPA_BOT_TOKEN does not look like a bot token (digits, a colon, then letters)") from None
    return token


async def _with_runtime(
    settings: Settings,
    action: Callable[[Runtime], Awaitable[None]],
    *,
    create_if_fresh: bool = False,
    allow_unlocked: bool = False,
    writable_keyring: bool = False,
) -> None:
    runtime = await open_runtime(
        settings,
        create_if_fresh=create_if_fresh,
        say=say,
        allow_unlocked=allow_unlocked,
        writable_keyring=writable_keyring,
    )
    try:
        await action(runtime)
    finally:
        await runtime.close()


def cmd_run(settings: Settings, _args: argparse.Namespace) -> None:
    unlock_ahead(settings)  # Argon2id on its own thread while aiogram is imported (for the token check)
    token = _require_token(settings)

    async def run(runtime: Runtime) -> None:
        from bot.app import serve  # aiogram's handlers take seconds to import: only once there is a bot to run

        await serve(runtime, token)

    asyncio.run(_with_runtime(settings, run, create_if_fresh=True, writable_keyring=True))


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> None:
    async def report(runtime: Runtime) -> None:
        say(f"Database schema is at revision {await migrations.current_revision(runtime.db)}.")

    asyncio.run(_with_runtime(settings, report))


def cmd_keys(settings: Settings, args: argparse.Namespace) -> None:
    if args.keys_command == "init":
        keys.init_keyring(settings, say, unsafe_no_passphrase=args.unsafe_no_passphrase)
        return
    actions: dict[str, Callable[[Runtime], Awaitable[None]]] = {
        "rotate": lambda runtime: keys.rotate_keys(runtime, say),
        "retire": lambda runtime: keys.retire_key(runtime, args.key_id, say),
        "list": lambda runtime: keys.list_keys(runtime, say),
        "passphrase": lambda runtime: keys.change_passphrase(runtime, args.new_passphrase_file, say),
    }
    locking = args.keys_command == "passphrase"  # the way to lock a keyring that has no passphrase yet
    asyncio.run(_with_runtime(settings, actions[args.keys_command], allow_unlocked=locking))


def _services(runtime: Runtime, session: AsyncSession) -> Services:
    from bot.app import policy_from

    return Services(session, runtime.vault, policy_from(runtime.settings), Events())


def cmd_volunteers(settings: Settings, args: argparse.Namespace) -> None:
    async def invite(runtime: Runtime) -> None:
        async with runtime.db.transaction() as session:
            try:
                issued = await _services(runtime, session).team.invite(None, args.role)
            except TeamError as error:
                raise Refused(f"cannot invite: {error.reason}") from None
        say(f"One-time invite for a {issued.role}, valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC.")
        say("The person sends this to the bot in a private chat:")
        say(f"/join {issued.code}")

    async def roster(runtime: Runtime) -> None:
        async with runtime.db.transaction() as session:
            services = _services(runtime, session)
            for volunteer in await services.volunteers.list_all():
                held = len(await services.requests.list_assigned(volunteer.id))
                say(f"{volunteer.pseudonym:<24} {volunteer.role:<12} holds {held}")

    action = invite if args.volunteers_command == "invite" else roster
    asyncio.run(_with_runtime(settings, action))


def cmd_purge(settings: Settings, _args: argparse.Namespace) -> None:
    async def purge(runtime: Runtime) -> None:
        shredded = 0
        while True:  # in batches, each a short transaction of its own
            async with runtime.db.transaction() as session:
                batch = await _services(runtime, session).retention.purge_expired()
            shredded += batch
            if not batch:
                break
        say(
            f"Shredded {shredded} requests: closed more than {settings.retention_days} days ago, or with no "
            f"activity for {settings.inactive_days} days."
        )
        if shredded:
            due = "at once" if settings.shred_bound_hours == 0 else f"within {settings.shred_bound_hours} hours"
            say(f"A running bot destroys the keys that could open what they left behind {due}.")

    asyncio.run(_with_runtime(settings, purge))


def cmd_backup(settings: Settings, args: argparse.Namespace) -> None:
    from bot import backup

    if args.command == "backup":
        backup.backup(settings, args.file, say)
    else:
        asyncio.run(backup.restore(settings, args.file, say))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tropa",
        description="Tropa: an encrypted Telegram helpline bot. Settings come from TROPA_* variables "
        "or a .env file (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="start the bot (long polling, or a webhook if configured)")
    run.set_defaults(handler=cmd_run)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(handler=cmd_migrate)

    keys_parser = commands.add_parser("keys", help="manage the keyring: init, rotate, retire, list")
    keys_commands = keys_parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    init = keys_commands.add_parser("init", help="create a new keyring file (refuses to overwrite one)")
    init.add_argument(
        "--unsafe-no-passphrase",
        action="store_true",
        help="UNSAFE: leave the keyring unlocked, readable by whoever copies the disk (development only)",
    )
    keys_commands.add_parser("rotate", help="new active key, every data key re-wrapped with it, the old keys destroyed")
    retire = keys_commands.add_parser("retire", help="remove a key that wraps nothing (rotate destroys them already)")
    retire.add_argument("key_id", help="the key id, as shown by `tropa keys list`")
    keys_commands.add_parser("list", help="show key ids, the active one, and what each wraps")
    change = keys_commands.add_parser("passphrase", help="lock the keyring with a new passphrase (data untouched)")
    change.add_argument("--new-passphrase-file", type=Path, help="read the new passphrase from this file")
    keys_parser.set_defaults(handler=cmd_keys)

    volunteers = commands.add_parser("volunteers", help="the team: invite someone, or list who is on it")
    volunteer_commands = volunteers.add_subparsers(dest="volunteers_command", required=True, metavar="ACTION")
    invite = volunteer_commands.add_parser("invite", help="print a one-time invite code for a role")
    invite.add_argument("role", choices=[role.value for role in Role])
    volunteer_commands.add_parser("list", help="pseudonyms, roles and how many requests each holds")
    volunteers.set_defaults(handler=cmd_volunteers)

    backup = commands.add_parser("backup", help="copy the database into one file, safe while the bot runs")
    backup.add_argument("file", type=Path)
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser("restore", help="put a backup back (stop the bot first)")
    restore.add_argument("file", type=Path)
    restore.set_defaults(handler=cmd_backup)

    purge = commands.add_parser("purge", help="shred requests past their retention period now")
    purge.set_defaults(handler=cmd_purge)

    stats = commands.add_parser("stats", help="aggregate statistics, the same numbers coordinators see")
    stats_cli.add_arguments(stats)
    stats.set_defaults(handler=stats_cli.run)

    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.handler is not cmd_run:
        gc.enable()  # off while importing (bot.launch); only a serving bot waits until its start-up has settled
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        args.handler(settings, args)
    except (SettingsError, KeyringError, Refused) as error:
        print(f"tropa: {error}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence: no raw traceback on stderr
        refusal = telegram_refusal(error)
        if refusal:
            print(f"tropa: {refusal}", file=sys.stderr)
            sys.exit(EXIT_REFUSED)
        structlog.get_logger().error("tropa.crashed", error=type(error).__name__, exc_info=error)
        print(f"tropa: stopped by an unexpected {type(error).__name__}; see the log above", file=sys.stderr)
        sys.exit(1)


def telegram_refusal(error: Exception) -> str | None:
    """One line for Telegram refusing the bot at start-up (a wrong token, a webhook URL it rejects)."""
    module = type(error).__module__
    if not module.startswith("aiogram.exceptions"):
        return None
    from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError

    if isinstance(error, TelegramUnauthorizedError):
        return "Telegram refused the bot token (Unauthorized): check TROPA_BOT_TOKEN with @BotFather"
    if isinstance(error, TelegramAPIError):
        return f"Telegram refused {type(error.method).__name__}: {error.message}"
    return None

"""The bot's own settings: who it is (``getMe``), its command menus and its webhook."""

from __future__ import annotations

import json
import re
from typing import Any

from testkit.telegram.errors import Json, bad_request
from testkit.telegram.params import Params
from testkit.telegram.state import WorldState
from testkit.telegram.stored import WebhookConfig


def get_me(world: WorldState, p: Params) -> Json:
    return {
        **world.bot_json(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def scope_key(scope: Any, language_code: str | None) -> tuple[str, str]:
    """Where a command list is kept: one list per scope and language, as Telegram keeps them."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""


def set_my_commands(world: WorldState, p: Params) -> bool:
    commands = p.decoded("commands")
    if commands is None:
        raise bad_request('parameter "commands" is required')
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    stored = []
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        description = str(command.get("description", "")) if isinstance(command, dict) else ""
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        stored.append({"command": name, "description": description})
    world.commands[scope_key(p.decoded("scope"), p.text("language_code"))] = stored
    return True


def set_webhook(world: WorldState, p: Params) -> bool:
    url = p.text("url") or ""
    if url:
        match = re.fullmatch(r"https://[^/:]+(?::(\d+))?(/.*)?", url)
        if match is None:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if match.group(1) and match.group(1) not in ("80", "88", "443", "8443"):
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = p.text("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    world.webhook = WebhookConfig(url, secret, p.integer("max_connections") or 40, p.decoded("allowed_updates"))
    if p.flag("drop_pending_updates"):
        world.pending.clear()
    return True


def delete_webhook(world: WorldState, p: Params) -> bool:
    world.webhook = WebhookConfig()
    if p.flag("drop_pending_updates"):
        world.pending.clear()
    return True

"""A method's parameters as they arrive: JSON-decoded (``{"chat_id": 1, "reply_markup": {...}}``) or as a
form carries them (``{"chat_id": "1", "reply_markup": "{...}"}``); both mean the same request."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from testkit.telegram.errors import bad_request

# How parameters are decoded when they arrive as strings (form bodies carry everything as text).
# fmt: off
JSON_PARAMS = frozenset((
    "reply_markup", "entities", "caption_entities", "reply_parameters", "media", "commands", "scope",
    "allowed_updates", "message_ids", "link_preview_options",
))
INT_PARAMS = frozenset((
    "chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id", "cache_time", "duration",
    "width", "height", "length", "max_connections",
))
BOOL_PARAMS = frozenset((
    "protect_content", "disable_notification", "show_alert", "allow_sending_without_reply",
    "drop_pending_updates", "show_caption_above_media", "has_spoiler", "disable_content_type_detection",
))
# fmt: on


def decode_param(key: str, value: Any) -> Any:
    """``value`` as it would have been in a JSON body: JSON strings parsed, numbers and booleans typed."""
    if not isinstance(value, str):
        return value
    if key in JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if key in BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


class Params:
    """Typed access to a method's parameters in either encoding; a wrong one is Telegram's 400."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def get(self, key: str) -> Any:
        value = self.raw.get(key)
        return None if value == "" else value

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, dict | list):
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)

    def integer(self, key: str, *, required: str | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            if required is not None:
                raise bad_request(required)
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise bad_request(f'parameter "{key}" must be an Integer')
        try:
            return int(value)
        except ValueError:
            raise bad_request(f'parameter "{key}" must be an Integer') from None

    def required_integer(self, key: str, missing: str) -> int:
        value = self.integer(key, required=missing)
        assert value is not None
        return value

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def decoded(self, key: str, *, error: str | None = None) -> Any:
        value = self.get(key)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {key} JSON object") from None

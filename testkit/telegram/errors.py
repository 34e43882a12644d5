"""How the Bot API says no: its error answers, the limits behind them, and what this model does not model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

Json = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_PLACEHOLDER = 64  # a forced reply's input_field_placeholder
DELETE_WINDOW = timedelta(hours=48)
DEFAULT_CALLBACK_TIMEOUT = timedelta(seconds=15)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"


class ApiError(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code", "description", "parameters"}``."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> Json:
        payload: Json = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class DroppedConnection(ConnectionError):
    """An injected network failure: the server closed the connection without answering."""


class NotModelled(NotImplementedError):
    """Something Telegram has that this model leaves out because Tropa never used it (a method, a parse
    mode, a kind of keyboard). Not an answer Telegram would give: model it before the bot relies on it."""

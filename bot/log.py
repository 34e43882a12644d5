"""One structlog configuration for the process, with redaction that does not rely on good habits.

- Tropa's own events keep only keys from ``SAFE_KEYS``; any other key's value becomes ``[redacted]``,
  so a careless call that passes a person's words under some new key leaks nothing.
- Records from other libraries (aiogram, aiosqlite, SQLAlchemy, asyncio) keep their format string but
  lose its arguments: aiosqlite at DEBUG logs every SQL parameter, aiogram logs exception messages, and
  either can carry what a person typed.
- Exceptions are logged as type and stack frames, never their message (messages quote input).
- Digit runs long enough to be a Telegram id are masked in every string value that survives.

See docs/decisions/0004-logging-redaction.md.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

SAFE_KEYS = frozenset(
    {
        "event", "level", "logger", "timestamp", "exception",
        "update_id", "who", "request", "volunteer", "role", "step", "action", "outcome", "kind",
        "method", "status", "error", "reason", "count", "attempt", "retry_after", "duration_ms",
        "job", "period", "key_id", "revision", "mode", "path", "url", "database", "shredded",
        "delivered", "pending", "language", "purpose", "since", "rewrapped", "host", "port", "outbox_id",
        "callback", "sent_at",
    }
)  # fmt: skip
REDACTED = "[redacted]"
_ID_LIKE = re.compile(r"(?<![\w.])-?\d{6,}(?![\w.])")
_NOISY_LIBRARIES = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool", "aiohttp.access", "alembic")
# Third-party format strings whose arguments are known to be only numbers and fixed words.
_SAFE_FOREIGN_FORMATS = frozenset(
    {
        ("aiogram.event", "Update id=%s is %s. Duration %d ms by bot id=%d"),
        ("aiogram.dispatcher", "Sleep for %f seconds and try again... (tryings = %d, bot id = %d)"),
        ("aiogram.dispatcher", "Connection established (tryings = %d, bot id = %d)"),
    }
)


def mask_ids(value: str) -> str:
    return _ID_LIKE.sub("[id]", value)


def _safe_exception(exc_info: Any) -> str:
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return ""
    kind: type[BaseException] = exc_info[0]
    tb: TracebackType | None = exc_info[2]
    frames = "".join(traceback.format_tb(tb)) if tb else ""
    return f"{frames}{kind.__module__}.{kind.__qualname__} (message withheld)"


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if record is not None and not event_dict.get("_from_structlog"):
        # A record from another library: its format string is code, its arguments may be data.
        if (record.name, record.msg) in _SAFE_FOREIGN_FORMATS:
            event_dict["event"] = mask_ids(str(event_dict["event"]))  # already formatted by structlog
        else:
            event_dict["event"] = str(record.msg) if isinstance(record.msg, str) else type(record.msg).__name__
        event_dict["logger"] = record.name
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        event_dict["exception"] = _safe_exception(exc_info)
    for key in list(event_dict):
        if key.startswith("_"):
            continue
        if key not in SAFE_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(event_dict[key], str) and key != "exception":
            event_dict[key] = mask_ids(event_dict[key])
    return event_dict


def _renderer(fmt: str) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)


def configure_logging(level: str = "INFO", fmt: str = "console", stream: TextIO | None = None) -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[redact, structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(fmt)],
        pass_foreign_args=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def bind_update(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def clear_update_context() -> None:
    structlog.contextvars.clear_contextvars()

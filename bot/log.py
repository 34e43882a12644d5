"""One structlog configuration for the process, with redaction that does not rely on good habits.

Redaction happens where records are made, not in one handler: every handler attached anywhere (ours,
a syslog or error-tracker handler an operator adds, pytest's capture) receives records already redacted.

- Tropa's own events are redacted inside structlog's chain, before they become stdlib records: they keep
  only keys from ``SAFE_KEYS``; any other key's value becomes ``[redacted]``, so a careless call that
  passes a person's words under some new key leaks nothing.
- Every stdlib record, whoever logs it, passes a record factory (``logging.setLogRecordFactory``) as it
  is created. A record from another library (aiogram, aiosqlite, SQLAlchemy, asyncio) keeps its format
  string and loses its arguments (aiosqlite at DEBUG logs every SQL parameter, aiogram logs exception
  messages); the text that is left is then scrubbed as it will be read, because some libraries format
  before logging (asyncio's "Task exception was never retrieved" quotes the exception, whose message can
  quote what a person typed): quoted literals, bot tokens and registered secrets are masked.
- Exceptions are logged as type and stack frames, never their message (messages quote input); the
  exception object itself is taken off the record, so no handler can render it.
- Digit runs long enough to be a Telegram id are masked in every string value that survives.

See docs/decisions/0004-logging-redaction.md.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Callable
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
        "callback", "sent_at", "destroyed", "resealed", "part", "attempts", "work",
    }
)  # fmt: skip
REDACTED = "[redacted]"
_ID_LIKE = re.compile(r"(?<![\w.])-?\d{6,}(?![\w.])")
# A bot token ("123456789:AA..."), also inside an API URL ("/bot123456789:AA.../sendMessage").
_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?:bot)?\d{1,20}:[A-Za-z0-9_-]{20,}")
# What a repr puts between quotes is a value: an exception's message, a string argument, a field.
_QUOTED = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\"""")
_NOISY_LIBRARIES = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool", "aiohttp.access", "alembic")
# Third-party format strings whose arguments are known to be only numbers and fixed words.
_SAFE_FOREIGN_FORMATS = frozenset(
    {
        ("aiogram.event", "Update id=%s is %s. Duration %d ms by bot id=%d"),
        ("aiogram.dispatcher", "Sleep for %f seconds and try again... (tryings = %d, bot id = %d)"),
        ("aiogram.dispatcher", "Connection established (tryings = %d, bot id = %d)"),
    }
)
# The safe rendering of a record's exception, kept where structlog's formatter (which clears
# ``exc_text`` on its copy of the record) still finds it.
_EXCEPTION_ATTRIBUTE = "tropa_exception"
_REDACTED_MARK = "tropa_redacted"
_secrets: set[str] = set()
_original_factory: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()


def register_secret(value: str | None) -> None:
    """Mask this exact string (the bot token, the webhook secret) wherever it would appear in a log."""
    if value and len(value) >= 8:
        _secrets.add(value)


def mask_ids(value: str) -> str:
    return _ID_LIKE.sub("[id]", value)


def scrub(text: str) -> str:
    """What is left of a text that code we do not control wrote: no secret, token, quoted value or id."""
    for secret in _secrets:
        text = text.replace(secret, "[secret]")
    text = _TOKEN.sub("[token]", text)
    text = _QUOTED.sub("'…'", text)
    return mask_ids(text)


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


def _redact_fields(event_dict: EventDict) -> EventDict:
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


def _foreign_message(record: logging.LogRecord) -> str:
    message = record.msg
    if not isinstance(message, str):
        return type(message).__name__  # an object logged as the message: its str() may hold anything
    if record.args and (record.name, message) in _SAFE_FOREIGN_FORMATS:
        try:
            return scrub(message % record.args)
        except (TypeError, ValueError):
            return scrub(message)
    # The format string is code, its arguments may be data and are dropped; the format string itself may
    # have been formatted already by the library, so it is scrubbed as text.
    return scrub(message)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Make ``record`` safe for any handler: called as every record is created."""
    if isinstance(record.msg, dict):  # a structlog event (already redacted in its chain; again is harmless)
        record.msg = _redact_fields(dict(record.msg))
    else:
        record.msg = _foreign_message(record)
        record.args = ()
    if record.exc_info:
        safe = _safe_exception(record.exc_info)
        record.exc_text = safe  # standard formatters append it, and never render the exception object
        record.__dict__[_EXCEPTION_ATTRIBUTE] = safe
        record.exc_info = None
    # The message as it was made safe: a copy made with ``logging.makeLogRecord`` passes the factory empty
    # and then takes another record's fields, so a plain flag would vouch for a message it never saw.
    record.__dict__[_REDACTED_MARK] = record.msg
    return record


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    return redact_record(_original_factory(*args, **kwargs))


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: Tropa's events before they leave structlog, and every record once more as
    Tropa's handler formats it (third-party records arrive redacted by the record factory)."""
    record = event_dict.get("_record")
    if record is not None and not event_dict.get("_from_structlog"):
        # A record made before logging was configured never passed the factory: redact it here.
        redacted = getattr(record, _REDACTED_MARK, None) is record.msg
        event_dict["event"] = str(event_dict["event"]) if redacted else _foreign_message(record)
        event_dict["logger"] = record.name
        exception = getattr(record, _EXCEPTION_ATTRIBUTE, None)
        if exception:
            event_dict["exception"] = exception
    return _redact_fields(event_dict)


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
        # An event below the level is dropped first, before any processor spends time on it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    # The root of redaction: every record, from any logger, to any handler, is made through this.
    logging.setLogRecordFactory(_redacting_factory)
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

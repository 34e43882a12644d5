"""Log redaction is a component with tests: nothing typed, no Telegram id, whatever the caller does."""

from __future__ import annotations

import io
import json
import logging

import structlog

from bot.log import configure_logging

SECRET = "SECRET-typed-by-a-person"
USER_ID = 987654321


def _lines(level: str = "DEBUG") -> tuple[io.StringIO, structlog.stdlib.BoundLogger]:
    stream = io.StringIO()
    configure_logging(level, "json", stream)
    return stream, structlog.get_logger("tropa.test")


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_unknown_keys_are_redacted_and_safe_keys_kept() -> None:
    stream, log = _lines()
    log.info("request.claimed", request="R-ABCDEF", text=SECRET, chat_id=USER_ID, count=3)
    (record,) = _records(stream)
    assert record["request"] == "R-ABCDEF" and record["count"] == 3
    assert record["text"] == "[redacted]" and record["chat_id"] == "[redacted]"
    assert SECRET not in stream.getvalue() and str(USER_ID) not in stream.getvalue()


def test_ids_are_masked_even_under_safe_keys() -> None:
    stream, log = _lines()
    log.info("x", reason=f"user {USER_ID} did something", error=str(USER_ID))
    assert str(USER_ID) not in stream.getvalue()
    assert "[id]" in stream.getvalue()


def test_third_party_arguments_are_dropped() -> None:
    stream, _ = _lines()
    logging.getLogger("aiosqlite").warning("executing %s with %r", "INSERT", (SECRET, USER_ID))
    logging.getLogger("some.library").error("user said: %s", SECRET)
    output = stream.getvalue()
    assert SECRET not in output and str(USER_ID) not in output
    assert "user said: %s" in output


def test_known_safe_third_party_lines_keep_their_numbers() -> None:
    stream, _ = _lines()
    logging.getLogger("aiogram.event").info("Update id=%s is %s. Duration %d ms by bot id=%d", 42, "handled", 7, 1)
    assert "Duration 7 ms" in stream.getvalue()


def test_exception_messages_are_withheld_but_the_stack_is_kept() -> None:
    stream, log = _lines()
    try:
        raise ValueError(f"bad input: {SECRET}")
    except ValueError:
        log.exception("handler.failed")
        logging.getLogger("aiogram.event").exception("Cause exception while process update %s", SECRET)
    output = stream.getvalue()
    assert SECRET not in output
    assert "ValueError (message withheld)" in output and "test_logging.py" in output


def test_noisy_sql_loggers_stay_quiet_even_at_debug() -> None:
    stream, _ = _lines("DEBUG")
    logging.getLogger("aiosqlite").debug("executing %s", SECRET)
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT ... %s", SECRET)
    assert stream.getvalue() == ""


def test_console_format_redacts_too() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream)
    structlog.get_logger().info("x", message_text=SECRET, who="abc123")
    assert SECRET not in stream.getvalue() and "who=abc123" in stream.getvalue()

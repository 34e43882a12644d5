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


def _plain_handler() -> tuple[io.StringIO, logging.Handler]:
    """A handler as an operator would add one (syslog, an error tracker): the standard formatter, no Tropa."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    return stream, handler


def test_every_handler_receives_redacted_records() -> None:
    """An operator adds a second root handler and one on a library's logger; a third-party library logs data
    in its arguments, pre-formatted into its message, and in an exception. No canary reaches any output."""
    import asyncio
    import gc

    from bot.log import register_secret
    from tests.support.canary import canary, find_in_bytes

    said, quoted, raised, ours = canary("said"), canary("quoted"), canary("raised"), canary("ours")
    token = "7123456789:AAHk3mJr_secretsecretsecretsecret123"
    secret = "webhook-" + canary("secret")
    tropa_stream, log = _lines()
    register_secret(secret)
    root_stream, root_handler = _plain_handler()
    library_stream, library_handler = _plain_handler()
    logging.getLogger().addHandler(root_handler)
    library = logging.getLogger("somelibrary.client")
    library.addHandler(library_handler)
    try:
        log.info("relay.sent", text=ours, chat_id=USER_ID, request="R-ABCDEF")
        try:
            raise ValueError(f"could not parse {ours}")
        except ValueError:
            log.exception("handler.failed")
        library.warning("user %s said: %s", USER_ID, said)
        library.error(f"request failed: ValueError('{quoted}') for chat {USER_ID}")  # formatted by the library
        library.info("calling https://api.telegram.org/bot%s/sendMessage", token)
        library.info(f"calling https://api.telegram.org/bot{token}/getMe with secret {secret}")
        try:
            raise RuntimeError(f"text from an update: {raised}")
        except RuntimeError:
            library.exception("Cause exception while process update %s", raised)

        async def fails() -> None:
            raise ValueError(f"the requester wrote {raised}")

        async def forget_a_task() -> None:
            task = asyncio.get_running_loop().create_task(fails())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            del task
            gc.collect()  # asyncio: "Task exception was never retrieved", quoting the exception

        asyncio.run(forget_a_task())
    finally:
        logging.getLogger().removeHandler(root_handler)
        library.removeHandler(library_handler)
    planted = [said, quoted, raised, ours, str(USER_ID), token, secret, "AAHk3mJr_secret"]
    outputs = {"tropa": tropa_stream.getvalue(), "root": root_stream.getvalue(), "library": library_stream.getvalue()}
    for name, output in outputs.items():
        assert find_in_bytes(output.encode(), planted) == [], (name, output)
    root_output = outputs["root"]
    assert "Task exception was never retrieved" in root_output  # the line is there, its contents are not
    assert "ValueError (message withheld)" in root_output and "user %s said: %s" in root_output
    assert "relay.sent" in root_output and "[redacted]" in root_output and "R-ABCDEF" in root_output
    assert "[token]" in outputs["library"] and "[secret]" in outputs["library"]


def test_records_logged_before_configuration_are_redacted_too() -> None:
    stream = io.StringIO()
    record = logging.LogRecord("early", logging.ERROR, __file__, 1, "early %s", (SECRET,), None)
    configure_logging("INFO", "json", stream)
    logging.getLogger().handle(record)
    assert SECRET not in stream.getvalue() and "early %s" in stream.getvalue()

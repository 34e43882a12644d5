"""The `tropa` command as an operator uses it: help, refusals in one line, keys, migrate."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

TROPA = str(Path(sys.executable).parent / "tropa")


def tropa(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TROPA_")}
    return subprocess.run(
        [TROPA, *args], capture_output=True, text=True, env={**clean, **(env or {})}, cwd=cwd, timeout=60, check=False
    )


def test_help_lists_every_command() -> None:
    result = tropa("--help")
    assert result.returncode == 0
    for command in ("run", "migrate", "keys", "volunteers", "purge", "stats"):
        assert f"    {command}" in result.stdout
    keys = tropa("keys", "--help").stdout
    for action in ("init", "rotate", "retire", "list"):
        assert action in keys


def test_run_without_a_token_says_how_to_get_one(tmp_path: Path) -> None:
    result = tropa("run", env={"TROPA_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "@BotFather" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing created before the token check


def test_a_malformed_token_is_refused(tmp_path: Path) -> None:
    result = tropa("run", env={"TROPA_BOT_TOKEN": "not-a-token", "TROPA_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 2 and "does not look like a bot token" in result.stderr


class Cli:
    """``tropa`` called in-process (a subprocess costs seconds of imports), as an operator would call it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys
        for name in [n for n in os.environ if n.startswith("TROPA_")]:
            monkeypatch.delenv(name)
        monkeypatch.chdir(cwd)

    def __call__(self, *args: str, **env: str) -> tuple[int, str, str]:
        from bot.cli import main

        with self.monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            try:
                main(list(args))
                status = 0
            except SystemExit as exit_:
                status = int(exit_.code or 0)
        captured = self.capsys.readouterr()
        return status, captured.out, captured.err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    return Cli(monkeypatch, capsys, tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TROPA_RETENTION_DAYS", "soon"),
        ("TROPA_ADMIN_IDS", "alice,bob"),
        ("TROPA_WORKING_HOURS", "always"),
        ("TROPA_DATABASE_URL", "mysql://x"),
        ("TROPA_LOG_FORMAT", "xml"),
        ("TROPA_WEBHOOK_URL", "https://example.org/hook"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(cli: Cli, name: str, value: str) -> None:
    status, _, err = cli("migrate", **{name: value})
    assert status == 2
    assert err.startswith("tropa: ") and err.count("\n") == 1 and "Traceback" not in err
    assert name in err or (name == "TROPA_WEBHOOK_URL" and "TROPA_WEBHOOK_SECRET" in err)


def test_only_a_serving_bot_starts_without_the_garbage_collector(cli: Cli) -> None:
    """bot.launch turns the collector off for the imports; a command that does not serve (a key roll over every
    data key, a purge) must not run without it, even when it is refused."""
    try:
        gc.disable()
        cli("migrate", TROPA_RETENTION_DAYS="soon")
        assert gc.isenabled()
        gc.disable()
        cli("run")  # refused: no token
        assert not gc.isenabled()  # bot.app.settle_after_start turns it on once the bot has started
    finally:
        gc.enable()


def test_a_settled_start_freezes_its_heap_and_turns_the_collector_back_on() -> None:
    from bot.app import settle_after_start

    thresholds = gc.get_threshold()
    try:
        gc.disable()
        settle_after_start()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc.enable()


def test_settings_come_from_a_dotenv_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TROPA_RETENTION_DAYS=soon\n")
    status, _, err = cli("migrate")
    assert status == 2 and "TROPA_RETENTION_DAYS" in err


def test_keys_and_migrate_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    status, _, err = cli("migrate")
    assert status == 2 and "tropa keys init" in err
    status, _, err = cli("keys", "init")  # no terminal, no passphrase file
    assert status == 2 and err.count("\n") == 1 and "TROPA_KEY_PASSPHRASE_FILE" in err
    assert cli("keys", "init", "--unsafe-no-passphrase")[0] == 0
    status, _, err = cli("keys", "init", "--unsafe-no-passphrase")
    assert status == 2 and "refusing to overwrite" in err
    status, _, err = cli("migrate")  # an unlocked keyring is used only when asked for by name
    assert status == 2 and err.count("\n") == 1 and "TROPA_UNSAFE_UNLOCKED_KEYRING" in err
    cli.monkeypatch.setenv("TROPA_UNSAFE_UNLOCKED_KEYRING", "true")
    status, out, _ = cli("migrate")
    assert status == 0 and "revision" in out
    listed = cli("keys", "list")[1]
    assert "active" in listed and "wraps 2 data keys" in listed  # the system key and the ephemeral key
    old = next(line for line in listed.splitlines() if "active" in line).split()[0]
    status, out, _ = cli("keys", "rotate")
    assert status == 0 and "re-wrapped 2 data keys" in out and f"Destroyed {old}" in out
    status, _, err = cli("keys", "retire", old)
    assert status == 2 and "no key" in err
    status, _, err = cli("keys", "retire", "nothex!")
    assert status == 2 and "not a key id" in err
    status, out, _ = cli("volunteers", "invite", "coordinator")
    assert status == 0 and "/join " in out
    status, out, _ = cli("purge")
    assert status == 0 and "Shredded 0 requests" in out


def test_a_foreign_keyring_is_refused_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cli.monkeypatch.setenv("TROPA_UNSAFE_UNLOCKED_KEYRING", "true")
    cli("keys", "init", "--unsafe-no-passphrase")
    cli("migrate")
    other = tmp_path / "other"
    cli("keys", "init", "--unsafe-no-passphrase", TROPA_DATA_DIR=str(other))
    status, _, err = cli("migrate", TROPA_KEY_FILE=str(other / "keyring.json"))
    assert status == 2 and "does not belong to this database" in err

"""All configuration, read once from the environment (prefix ``TROPA_``) and an optional ``.env``.

Nothing else in Tropa reads ``os.environ``: every module receives what it needs from ``Settings``.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.kinds import Language

ENV_PREFIX = "TROPA_"
SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(Language)


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line that names it."""


class WorkingHours:
    """``10-22 Europe/Moscow``: when volunteers usually answer, told to the requester after submit."""

    _pattern = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s+(\S+)\s*$")

    def __init__(self, start: time, end: time, zone: ZoneInfo) -> None:
        self.start, self.end, self.zone = start, end, zone

    @classmethod
    def parse(cls, raw: str) -> WorkingHours:
        match = cls._pattern.match(raw)
        if not match:
            raise ValueError("expected a form like '10-22 Europe/Moscow'")
        h1, m1, h2, m2, zone_name = match.groups()
        try:
            start, end = time(int(h1) % 24, int(m1 or 0)), time(int(h2) % 24, int(m2 or 0))
        except ValueError as error:
            raise ValueError("hours must be 0-24 and minutes 0-59") from error
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone_name!r}") from error
        return cls(start, end, zone)

    def covers(self, moment: datetime) -> bool:
        """Whether ``moment`` falls within the hours (which may run past midnight: ``20-8``)."""
        local = moment.astimezone(self.zone).time()
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def offset(self, moment: datetime) -> timedelta | None:
        return moment.astimezone(self.zone).utcoffset()

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M} ({self.zone.key})"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_base: str | None = Field(
        default=None, description="Base URL of a self-hosted Bot API server (or the test emulator)"
    )
    data_dir: Path = Path("./data")
    database_url: str | None = None
    key_file: Path | None = None
    # No longer read: key rolls rewrite the keyring, so it has to be a file. Kept only to refuse it clearly.
    keyring: SecretStr | None = None
    key_passphrase_file: Path | None = None
    # An unlocked keyring (plain JSON, readable by whoever copies the disk) only when asked for by name.
    unsafe_unlocked_keyring: bool = False
    redis_url: str | None = None

    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    volunteer_chat_id: int | None = None

    retention_days: int = Field(default=30, ge=1, le=3650)
    inactive_days: int = Field(default=90, ge=1, le=3650)
    # Under Telegram's 48 hours for deleting messages, with the sweep's 10 minutes and a margin to spare.
    abandoned_hours: int = Field(default=40, ge=1, le=46)
    shred_bound_hours: int = Field(default=12, ge=0, le=24)
    claim_lease_hours: int = Field(default=72, ge=1, le=24 * 90)
    escalate_minutes: int = Field(default=60, ge=1, le=24 * 60 * 7)
    invite_valid_hours: int = Field(default=48, ge=1, le=24 * 30)
    stats_min_cell: int = Field(default=5, ge=1, le=1000)
    working_hours: str = "10-22 Europe/Moscow"
    chat_hygiene: bool = True
    default_language: Language = Language.RU
    throttle_per_minute: int = Field(default=60, ge=1, le=10_000)
    send_per_second: int = Field(default=30, ge=0, le=1000, description="0 turns the sending limiter off")
    send_chat_interval: float = Field(default=1.0, ge=0, le=60)
    send_group_interval: float = Field(default=3.0, ge=0, le=600)
    job_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    outbox_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    polling_timeout: int = Field(default=25, ge=0, le=50)

    log_format: Literal["console", "json"] = "console"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 - a container listens on all interfaces behind its proxy
    webhook_port: int = Field(default=8080, ge=1, le=65535)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, raw: object) -> object:
        if isinstance(raw, str):
            parts = [part for part in re.split(r"[,\s]+", raw.strip()) if part]
            try:
                return tuple(int(part) for part in parts)
            except ValueError as error:
                raise ValueError("expected Telegram user ids separated by commas") from error
        return raw

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, raw: str) -> str:
        WorkingHours.parse(raw)
        return raw

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, raw: object) -> object:
        return raw.upper() if isinstance(raw, str) else raw

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, raw: str | None) -> str | None:
        if raw is None:
            return raw
        if raw.startswith(("postgres://", "postgresql://")):
            # Accept the form every hosting panel prints and use the async driver Tropa ships with.
            return "postgresql+asyncpg://" + raw.split("://", 1)[1]
        if not raw.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db")
        return raw

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, raw: str | None) -> str | None:
        if raw is None:
            return raw
        parts = urlsplit(raw)
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("Telegram only posts to https:// URLs (ports 443, 80, 88 or 8443)")
        return raw

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, raw: SecretStr | None) -> SecretStr | None:
        if raw is not None and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", raw.get_secret_value()):
            raise ValueError("use 16 to 256 characters from A-Z, a-z, 0-9, _ and -")
        return raw

    @field_validator("keyring")
    @classmethod
    def _refuse_inline_keyring(cls, raw: SecretStr | None) -> SecretStr | None:
        if raw is not None:
            raise ValueError(
                "is no longer read: key rolls rewrite the keyring, so it must be a file. Write it to a file "
                "(mode 0600) on a volume every bot can write, set TROPA_KEY_FILE to it and unset TROPA_KEYRING"
            )
        return raw

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("TROPA_WEBHOOK_SECRET is required when TROPA_WEBHOOK_URL is set")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'tropa.db').resolve()}"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "keyring.json"

    @property
    def hours(self) -> WorkingHours:
        return WorkingHours.parse(self.working_hours)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line per bad setting named as in the env."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = ENV_PREFIX + "_".join(str(part) for part in problem["loc"] if part != "__root__").upper()
            message = problem["msg"].removeprefix("Value error, ")
            if name == ENV_PREFIX:
                lines.append(message)
            else:
                lines.append(f"{name}: {message}")
        raise SettingsError("; ".join(lines)) from None

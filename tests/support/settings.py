"""Settings for tests: never read the developer's .env or environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "bot_token": "42:TEST-token-not-real"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]

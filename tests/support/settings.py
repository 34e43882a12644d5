"""Settings for tests: never read the developer's .env or environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test keyrings are unlocked (Argon2id costs a third of a second per start); the tests about
    passphrases and refusals say so."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "bot_token": "42:TEST-token-not-real",
        "unsafe_unlocked_keyring": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]

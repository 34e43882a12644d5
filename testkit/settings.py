"""Settings for a bot under test: never read from the developer's .env or environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings

TOKEN = "42:TEST-token-not-real"  # noqa: S105 - a fake token for a fake server
ADMIN_ID = 9001  # every bot under test has this admin (TROPA_ADMIN_IDS)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test keyrings are unlocked (Argon2id costs a third of a second per start); the tests about
    passphrases and refusals say so."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "bot_token": TOKEN,
        "unsafe_unlocked_keyring": True,
        # Round the clock, so what a requester is told after Submit does not depend on when the test runs.
        "working_hours": "0-24 Europe/Moscow",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)

"""The deployment files: the passphrase never lies on the data disk, the keyring is where every bot can
rewrite it, the image builds from the lock file and smoke-tests itself."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNLOCK = ROOT / "deploy" / "unlock"
SHM = Path("/dev/shm")


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return document


def test_compose_keeps_the_passphrase_on_a_tmpfs_and_the_keyring_writable_for_every_bot() -> None:
    document = compose()
    services = document["services"]
    secrets = document["secrets"]
    assert secrets == {"tropa_passphrase": {"file": "/run/tropa/passphrase"}}  # host tmpfs, not ./secrets
    for name in ("migrate", "bot1", "bot2", "bot3"):
        service = services[name]
        env = service["environment"]
        assert env["TROPA_KEY_FILE"] == "/keys/keyring.json"
        assert env["TROPA_KEY_PASSPHRASE_FILE"] == "/run/secrets/tropa_passphrase"
        assert "./keys:/keys" in service["volumes"]  # read-write: key rolls rewrite it
        assert "TROPA_KEYRING" not in env and "TROPA_UNSAFE_UNLOCKED_KEYRING" not in env
    assert all("passphrase" not in volume for s in services.values() for volume in s.get("volumes", []))


def test_the_image_installs_from_the_lock_and_smoke_tests_itself() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes -r requirements/runtime.txt" in dockerfile
    assert "pip install --no-deps --no-build-isolation ." in dockerfile and "tropa --help" in dockerfile
    assert "TROPA_KEY_FILE=/keys/keyring.json" in dockerfile and '"/keys"' in dockerfile
    assert "TROPA_UNSAFE_UNLOCKED_KEYRING" not in dockerfile


def test_the_image_copies_every_package_the_wheel_ships() -> None:
    """A package added to pyproject.toml but not copied into the image builds a bot that cannot start."""
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for top in sorted({package.split(".")[0] for package in packages}):
        assert f"COPY {top} ./{top}" in dockerfile, top


def _unlock(directory: Path, typed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TROPA_UNLOCK_DIR": str(directory), "TROPA_UNLOCK_OWNER": f"{os.getuid()}:{os.getgid()}"}
    return subprocess.run(
        [str(UNLOCK)], input=typed + "\n", capture_output=True, text=True, env=env, timeout=30, check=False
    )


@pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm tmpfs on this machine")
def test_unlock_writes_the_passphrase_to_a_tmpfs_only_and_private_whatever_the_umask(tmp_path: Path) -> None:
    directory = SHM / f"tropa-test-{uuid.uuid4().hex}"
    old_umask = os.umask(0o000)  # the most permissive umask an operator's shell could have
    try:
        done = _unlock(directory, "  correct horse battery staple  ")
        assert done.returncode == 0, done.stderr
        written = directory / "passphrase"
        assert written.read_text(encoding="utf-8") == "  correct horse battery staple  "  # as typed
        assert written.stat().st_mode & 0o777 == 0o600 and directory.stat().st_mode & 0o777 == 0o700
        assert not [p for p in directory.iterdir() if p.name != "passphrase"]  # no temporary left behind

        refused = _unlock(tmp_path / "tropa", "correct horse battery staple")  # a real disk
        assert refused.returncode == 2 and "not a tmpfs" in refused.stderr
        assert not (tmp_path / "tropa").exists()
        short = _unlock(directory, "short")
        assert short.returncode == 2 and "at least 12" in short.stderr
        assert written.read_text(encoding="utf-8") == "  correct horse battery staple  "  # untouched
    finally:
        os.umask(old_umask)
        for path in directory.glob("*"):
            path.unlink()
        if directory.exists():
            directory.rmdir()

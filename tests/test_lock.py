"""The lock files: what the tests run against is what they pin, and they pin everything pyproject.toml asks for."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from tests.support import lock

ROOT = Path(__file__).resolve().parent.parent


def declared(*, with_test: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = [*project["dependencies"], *(project["optional-dependencies"]["test"] if with_test else [])]
    return [Requirement(text) for text in texts]


def test_what_is_installed_is_what_the_lock_pins() -> None:
    differ = lock.not_as_locked()
    assert not differ, "installed packages differ from requirements/test.txt (reinstall from it): " + "; ".join(differ)


def test_the_locks_pin_every_declared_dependency_within_its_range() -> None:
    for path, with_test in ((lock.RUNTIME_LOCK, False), (lock.TEST_LOCK, True)):
        pinned = lock.pins(path)
        for requirement in declared(with_test=with_test):
            versions = pinned.get(lock.canonical(requirement.name))
            assert versions, f"{path.name} does not pin {requirement.name}: run requirements/lock"
            outside = [v for v in versions if not requirement.specifier.contains(v, prereleases=True)]
            assert not outside, f"{path.name}: {requirement.name}=={outside} is outside {requirement}: relock"


def test_runtime_and_test_locks_agree() -> None:
    runtime, test = lock.pins(lock.RUNTIME_LOCK), lock.pins(lock.TEST_LOCK)
    disagree = {name: (versions, test.get(name)) for name, versions in runtime.items() if test.get(name) != versions}
    assert not disagree, f"requirements/test.txt pins differently from runtime.txt: {disagree}; run requirements/lock"


def test_every_pin_carries_a_hash() -> None:
    for path in (lock.RUNTIME_LOCK, lock.TEST_LOCK):
        blocks = path.read_text(encoding="utf-8").split("\n")
        pinned_lines = [i for i, line in enumerate(blocks) if "==" in line and not line.startswith("#")]
        unhashed = [blocks[i] for i in pinned_lines if "--hash=sha256:" not in blocks[i + 1]]
        assert not unhashed, f"{path.name}: pins without a hash: {unhashed}"

"""Copies of what the model stores and hands out, so nobody outside it can change its records."""

from __future__ import annotations

import copy
from typing import TypeVar, cast

Value = TypeVar("Value")


def clone(value: Value) -> Value:
    """A deep copy. What the model keeps is JSON (dicts, lists, strings, numbers), copied here without
    ``copy.deepcopy``'s memo and dispatch, which cost four times as much on a screen with a dozen buttons:
    the benchmarks drive the model too, and what it spends is counted against the bot (bench/intake_profile.py)."""
    if isinstance(value, dict):
        return cast(Value, {key: clone(item) for key, item in value.items()})
    if isinstance(value, list):
        return cast(Value, [clone(item) for item in value])
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return value
    return copy.deepcopy(value)

"""`tropa stats`. Placeholder until issue 5 lands."""

from __future__ import annotations

import argparse

from bot.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def run(settings: Settings, args: argparse.Namespace) -> None:
    raise NotImplementedError

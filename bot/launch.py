"""The ``tropa`` console command's entry point."""

from __future__ import annotations

import gc


def main() -> None:
    # Starting builds aiogram's ~300 pydantic types, the ORM's mappers and the catalogs: objects that live as long
    # as the process. With the cyclic collector on, it walks the growing heap again and again while they are built
    # (0.45 s of a 3.5 s start on the 2-core box, bench/startup.py). A serving bot turns it back on once start-up
    # has settled (bot.app.settle_after_start); every other command turns it on as soon as its arguments are read.
    gc.disable()
    from bot.cli import main as run_command

    run_command()

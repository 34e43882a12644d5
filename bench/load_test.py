"""Load test of several webhook replicas (a script, not a test; see bench/README.md).

Runs `tropa run` replicas in webhook mode against the project's Bot API emulator, on the real
PostgreSQL and Redis, behind a round-robin balancer: N requesters walk the intake at once while
volunteers claim and relay; midway one replica is killed with SIGKILL and started again. Prints
updates/s, p50/p99 handling time, errors and the invariants; then the same load on 1 replica and on
3 (no kill) and their ratio.

    .venv/bin/python bench/load_test.py                 # 500 requesters, 3 replicas
    .venv/bin/python bench/load_test.py --requesters 100 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.load import LoadConfig, run_load

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


async def _one(config: LoadConfig) -> dict[str, Any]:
    name = f"tropa_load_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    redis = Redis.from_url(REDIS_URL)
    stale = [key async for key in redis.scan_iter(match="tropa:rate:*")]
    if stale:
        await redis.delete(*stale)
    await redis.aclose()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            result = await run_load(
                config, Path(workdir), f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", REDIS_URL
            )
            return result.as_dict()
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _line(label: str, report: dict[str, Any]) -> str:
    held = all(report["invariants"].values())
    return (
        f"{label:<28} {report['updates_per_second']:>7.1f} updates/s   p50 {report['p50_ms']:>7.1f} ms   "
        f"p99 {report['p99_ms']:>8.1f} ms   webhook errors {report['webhook_errors']:>4}   "
        f"cases {report['completed_cases']}/{report['config']['requesters']}   "
        f"invariants {'held' if held else 'BROKEN'}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requesters", type=int, default=500)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--volunteers", type=int, default=60)
    parser.add_argument("--deadline", type=float, default=900.0)
    parser.add_argument("--no-comparison", action="store_true", help="skip the 1-vs-N replica comparison")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    base = {"requesters": args.requesters, "volunteers": args.volunteers, "deadline": args.deadline}
    reports: dict[str, Any] = {"with_kill": await _one(LoadConfig(replicas=args.replicas, kill_midway=True, **base))}
    if not args.no_comparison:
        reports["one_replica"] = await _one(LoadConfig(replicas=1, kill_midway=False, **base))
        reports["n_replicas"] = await _one(LoadConfig(replicas=args.replicas, kill_midway=False, **base))
        one, many = reports["one_replica"], reports["n_replicas"]
        reports["ratio_updates_per_second"] = round(many["updates_per_second"] / one["updates_per_second"], 2)
    if args.json:
        print(json.dumps(reports, indent=2))
        return
    print(_line(f"{args.replicas} replicas, one SIGKILL", reports["with_kill"]))
    for name, value in reports["with_kill"]["invariants"].items():
        print(f"    {name:<32} {'yes' if value else 'NO'}")
    if not args.no_comparison:
        print(_line("1 replica, no kill", reports["one_replica"]))
        print(_line(f"{args.replicas} replicas, no kill", reports["n_replicas"]))
        print(f"{args.replicas} replicas / 1 replica, updates/s: {reports['ratio_updates_per_second']}")


if __name__ == "__main__":
    asyncio.run(main())

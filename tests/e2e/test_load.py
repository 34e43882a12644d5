"""The load test at a small size, in the test suite: 50 requesters, 2 webhook replicas on the real
PostgreSQL and Redis, one replica killed with SIGKILL midway and started again. The full size is
`bench/load_test.py`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from testkit.load import LoadConfig, run_load

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


async def test_replicas_under_load_keep_every_invariant(tmp_path: Path, postgres_url: str, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    stale = [key async for key in redis.scan_iter(match="tropa:rate:*")]
    if stale:
        await redis.delete(*stale)
    await redis.aclose()

    config = LoadConfig(requesters=50, replicas=2, volunteers=15, kill_midway=True, deadline=200)
    result = await run_load(config, tmp_path, postgres_url, redis_url)
    report = result.as_dict()
    print(json.dumps(report, indent=1, default=str))  # the whole report, shown when an assertion fails
    assert all(result.invariants.values()), report
    assert result.submitted == config.requesters, report
    assert result.completed == config.requesters, report
    assert result.failed_in_bot == 0, report
    assert not report["details"]["claims_unanswered"], "a Claim press that shows nothing and says nothing"
    assert result.elapsed < 120, f"the small load took {result.elapsed:.0f} s, the issue asks under 2 minutes"
    assert result.errors > 0, "the killed replica should have refused some deliveries"

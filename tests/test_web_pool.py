"""The worker pool: a burst queues, a runaway task is stopped and the pool recovers."""

from __future__ import annotations

import asyncio
import time

import pytest

from mitrasim.errors import InputError
from mitrasim.web import services
from mitrasim.web.pool import PoolBusy, PoolTimeout, WorkerPool


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(workers=1, queue_limit=4, timeout_s=1.5)
    p.start(warm=True)
    yield p
    p.shutdown()


def test_burst_queues_then_refuses_past_the_limit(pool: WorkerPool) -> None:
    async def burst() -> list:
        return await asyncio.gather(*(pool.run(time.sleep, 0.2) for _ in range(6)), return_exceptions=True)

    out = asyncio.run(burst())
    busy = [o for o in out if isinstance(o, PoolBusy)]
    assert len(busy) == 2 and sum(o is None for o in out) == 4  # 4 admitted (queued behind one worker)
    assert pool.admitted == 0


def test_runaway_task_is_stopped_and_pool_restarts(pool: WorkerPool) -> None:
    before = pool.restarts
    t0 = time.time()
    with pytest.raises(PoolTimeout):
        asyncio.run(pool.run(time.sleep, 30))
    assert time.time() - t0 < 10
    assert pool.restarts == before + 1
    res = asyncio.run(pool.run(services.simulate_patients, "regazzoni2022", None, [0.2], None, None, False, 300))
    assert res["n"] == 1


def test_input_error_crosses_the_process_boundary(pool: WorkerPool) -> None:
    with pytest.raises(InputError) as e:
        asyncio.run(pool.run(services.simulate_patients, "regazzoni2022", None, [9.0], None, None, False, 300))
    assert e.value.field == "eroa_cm2"

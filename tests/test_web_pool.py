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


def test_a_worker_process_runs_one_engine_thread(pool: WorkerPool) -> None:
    """A worker process uses one engine thread (one core per request; the pool's size sets the
    parallelism): its process setting, a batch asked for 0 or for several threads, and a trial's chunks at once."""
    from mitrasim.cohort import trial
    from mitrasim.physiology import dispatch, engine

    assert asyncio.run(pool.run(engine.default_threads)) == 1
    assert asyncio.run(pool.run(dispatch.batch_threads, 0, 64 * engine.LANES)) == 1
    assert asyncio.run(pool.run(dispatch.batch_threads, 4, 64 * engine.LANES)) == 1
    assert asyncio.run(pool.run(trial._default_chunk_threads)) == 1


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


def test_timeout_does_not_fail_unrelated_queued_requests(pool: WorkerPool) -> None:
    """A runaway task's time-out restarts the pool; a request queued behind it is retried, not failed."""

    async def both() -> list:
        runaway = asyncio.ensure_future(pool.run(time.sleep, 30))
        await asyncio.sleep(0.3)  # the runaway holds the only worker
        queued = asyncio.ensure_future(pool.run(time.sleep, 0.1))
        return await asyncio.gather(runaway, queued, return_exceptions=True)

    runaway, queued = asyncio.run(both())
    assert isinstance(runaway, PoolTimeout)
    assert queued is None, repr(queued)
    assert pool.admitted == 0
    # Finalise the killed executor's futures now: CPython 3.11 raises "AST constructor recursion depth
    # mismatch" when such finalizers run inside a later compile() (pytest's import rewriting).
    import gc

    gc.collect()


def test_gone_client_frees_its_queue_slot(pool: WorkerPool) -> None:
    from mitrasim.web.pool import ClientGone

    async def scenario() -> list:
        blocker = asyncio.ensure_future(pool.run(time.sleep, 1.0))
        # a process pool moves tasks to its call queue (workers + 1 places) and marks them running there
        fillers = [asyncio.ensure_future(pool.run(time.sleep, 0.1)) for _ in range(2)]
        await asyncio.sleep(0.3)

        async def gone() -> bool:
            return True

        waiting = asyncio.ensure_future(pool.run(time.sleep, 5.0, disconnected=gone))
        await asyncio.sleep(0.5)
        admitted_while_blocked = pool.admitted  # the gone client's slot is already free
        return [admitted_while_blocked, *await asyncio.gather(blocker, *fillers, waiting, return_exceptions=True)]

    t0 = time.time()
    admitted, blocker, f1, f2, waiting = asyncio.run(scenario())
    assert isinstance(waiting, ClientGone) and blocker is None and f1 is None and f2 is None
    assert admitted == 3
    assert time.time() - t0 < 4  # the 5 s task never ran
    import gc

    gc.collect()  # see test_timeout_does_not_fail_unrelated_queued_requests

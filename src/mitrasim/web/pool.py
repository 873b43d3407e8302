"""A bounded pool of warm worker processes for simulation work.

Why processes: the compiled engine (numba) releases the GIL, but the Python
around its calls (about a quarter of the CPU) does not, and a task past its
time can be stopped only by ending its process.  Each worker sets
``MITRASIM_THREADS=1`` (one engine thread per process, the setting read by
``engine.default_threads``: one core per request; the pool size sets the
parallelism) and loads the compiled engine once (:func:`services.warm_up`).

Bounds:

* **queue**: at most ``queue_limit`` tasks admitted (waiting + running); a
  burst beyond the workers waits in the executor's queue, and only past
  ``queue_limit`` does :class:`PoolBusy` (HTTP 503, Retry-After) answer;
* **time**: each task gets ``timeout_s`` from when a worker starts it; a task
  past it gets :class:`PoolTimeout` (HTTP 504) and, since a running process
  task cannot be cancelled, the pool's processes are terminated and a fresh
  pool is started (tasks that shared the old pool are retried once).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing as mp
import os
import threading
import time
from typing import Any, Awaitable, Callable

from mitrasim.errors import InputError

__all__ = ["WorkerPool", "PoolBusy", "PoolTimeout", "ClientGone"]


class PoolBusy(RuntimeError):
    """The queue is full."""


class PoolTimeout(RuntimeError):
    """A task ran past its time limit."""


class ClientGone(RuntimeError):
    """The client went away before its task started; the task was dropped."""


WARM_UP_LIMIT_S = 120.0
"""Longest wait for restarted workers to load the engine before a task is submitted to them."""

DISCONNECT_POLLS = 4
"""Check for a gone client every this many 50 ms queue polls."""


def _init_worker() -> None:
    os.environ["MITRASIM_THREADS"] = "1"
    _exit_with_parent()
    from mitrasim.web import services

    services.warm_up()


PARENT_POLL_S = 1.0
"""How often a worker checks that the server that started it is still alive."""


def _exit_with_parent() -> None:
    """End this worker when the server dies, even by ``kill -9`` (no shutdown code runs then):
    a daemon thread exits the process once its parent has changed (it was re-parented).
    (Not ``PR_SET_PDEATHSIG``: it fires when the *thread* that spawned the worker ends.)
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="mitrasim-parent-watch", daemon=True).start()


def _timed_call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[float, Any, dict[str, Any] | None]:
    """Run ``fn`` in the worker; return (start time, result, input error).

    An :class:`InputError` travels back as its fields (its constructor's signature
    does not round-trip through pickle) and is raised again in the server.
    """
    t0 = time.time()
    try:
        return t0, fn(*args, **kwargs), None
    except InputError as exc:
        return t0, None, {"field": exc.field, "value": exc.value if isinstance(exc.value, (str, int, float, bool, type(None))) else repr(exc.value), "allowed": exc.allowed, "hint": exc.hint, "message": exc.sentence}


class WorkerPool:
    """``await pool.run(fn, *args)``: bounded, timed, in warm workers."""

    def __init__(self, workers: int = 2, queue_limit: int = 64, timeout_s: float = 30.0, use_processes: bool = True):
        self.workers = workers
        self.queue_limit = queue_limit
        self.timeout_s = timeout_s
        self.use_processes = use_processes
        self._admitted = 0
        self._lock = threading.Lock()
        self._executor: cf.Executor | None = None
        self.restarts = 0
        self.completed = 0
        self._warming: list[cf.Future] = []

    # -- lifecycle -------------------------------------------------------------
    def _new_executor(self) -> cf.Executor:
        if self.use_processes:
            return cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
        return cf.ThreadPoolExecutor(self.workers, thread_name_prefix="mitrasim-sim")

    def start(self, warm: bool = True) -> None:
        """Create the executor; with ``warm`` start every worker now (not on the first request)."""
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()
        if warm and self.use_processes:
            futs = [self._executor.submit(time.sleep, 0.05) for _ in range(self.workers)]
            cf.wait(futs, timeout=120)

    def shutdown(self) -> None:
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            self._kill(ex)

    @staticmethod
    def _kill(ex: cf.Executor) -> None:
        procs = list(getattr(ex, "_processes", {}).values()) if isinstance(ex, cf.ProcessPoolExecutor) else []
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def _restart(self, broken: cf.Executor) -> None:
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = self._new_executor()
            self.restarts += 1
            if self.use_processes:  # start the new workers now; tasks wait for them (warm-up is not run time)
                self._warming = [self._executor.submit(time.sleep, 0) for _ in range(self.workers)]
        self._kill(broken)

    # -- state -----------------------------------------------------------------
    @property
    def admitted(self) -> int:
        return self._admitted

    def stats(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "kind": "process" if self.use_processes else "thread",
            "admitted": self._admitted,
            "queue_limit": self.queue_limit,
            "timeout_s": self.timeout_s,
            "restarts": self.restarts,
            "completed": self.completed,
        }

    # -- running ---------------------------------------------------------------
    async def run(self, fn: Callable[..., Any], *args: Any, disconnected: Callable[[], Awaitable[bool]] | None = None, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` in a worker; raise PoolBusy / PoolTimeout / the task's error.

        ``disconnected``: an async check (the request's ``is_disconnected``); a request whose client
        has gone while it waits in the queue is dropped there (:class:`ClientGone`), freeing its slot.
        """
        with self._lock:
            if self._admitted >= self.queue_limit:
                raise PoolBusy(f"{self._admitted} simulation tasks queued (limit {self.queue_limit}); retry shortly")
            self._admitted += 1
        try:
            for attempt in (0, 1):
                if self._executor is None:
                    self.start(warm=False)
                if self._warming:
                    await asyncio.wait([asyncio.wrap_future(f) for f in self._warming], timeout=WARM_UP_LIMIT_S)
                    self._warming = [f for f in self._warming if not f.done()]
                ex = self._executor
                assert ex is not None
                try:
                    fut = ex.submit(_timed_call, fn, args, kwargs)
                except (RuntimeError, cf.BrokenExecutor):
                    self._restart(ex)
                    continue
                try:
                    result = await self._await(fut, ex, disconnected)
                    self.completed += 1
                    return result
                except cf.BrokenExecutor:
                    if attempt == 1:
                        raise
                    continue  # the pool was restarted under us (another task's timeout): retry once
            raise PoolBusy("worker pool unavailable; retry shortly")
        finally:
            with self._lock:
                self._admitted -= 1

    async def _await(self, fut: cf.Future, ex: cf.Executor, disconnected: Callable[[], Awaitable[bool]] | None = None) -> Any:
        afut = asyncio.wrap_future(fut)
        # Queue time is free; run time is bounded.  Poll until the task starts.
        polls = 0
        while not fut.running() and not fut.done():
            await asyncio.wait({afut}, timeout=0.05)
            polls += 1
            if disconnected is not None and polls % DISCONNECT_POLLS == 0 and not fut.running() and await disconnected():
                if fut.cancel():
                    raise ClientGone("the client disconnected while its request waited")
        started = time.time()
        done, _ = await asyncio.wait({afut}, timeout=max(0.0, self.timeout_s - (time.time() - started)))
        if not done:
            fut.cancel()
            if self.use_processes:
                self._restart(ex)
            raise PoolTimeout(f"simulation ran past {self.timeout_s:g} s and was stopped")
        if fut.cancelled():  # cancelled by a restart of the pool (another task's time-out): not this task's failure
            raise cf.BrokenExecutor("the worker pool was restarted")
        _t0, result, input_error = afut.result()
        if input_error is not None:
            raise InputError(**input_error)
        return result

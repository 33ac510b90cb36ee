"""The queue runner of one API process: claims queued plans and solves them off the event loop.

Solves run in a bounded pool of solver processes (``concurrent.futures.ProcessPoolExecutor``
started from a fork server, ``max_workers = --workers``), or on a Dask cluster when a scheduler
address is given (``Client.submit``; at most ``--workers`` tasks in flight from this process).
Each solver process loads the road network once (:mod:`shipahead.service.solver`).

The runner is one asyncio task: it claims work from the store (a compare-and-set on the plan
row, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), hands it to the pool, renews the leases of the
plans it is solving, writes each finished revision, and re-queues plans whose lease expired in
another process. It wakes on every accepted post and at least every ``poll_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import socket
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from shipahead.service import solver
from shipahead.service.settings import ServiceSettings
from shipahead.store import Store
from shipahead.store import dispatch as db

__all__ = ["Dispatcher"]

log = logging.getLogger("shipahead.service.dispatcher")


@dataclass
class _InFlight:
    claim: db.Claim
    started: float
    task: asyncio.Task[None] | None = None
    future: Any = field(default=None, repr=False)


class Dispatcher:
    """Runs the solves of one API process (see the module docstring)."""

    def __init__(self, store: Store, settings: ServiceSettings) -> None:
        self.store = store
        self.settings = settings
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.capacity = max(1, int(settings.workers))
        self.inflight: dict[str, _InFlight] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._stopping = False
        self._last_renew = 0.0
        self._last_stale = 0.0
        self.solved = 0

    # --- life cycle ---------------------------------------------------------------------------

    def _files(self) -> tuple[str | None, str | None, str | None]:
        s = self.settings
        return tuple(None if p is None else str(p) for p in (s.roads, s.traffic, s.weather))  # type: ignore[return-value]

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            max_workers=self.capacity,
            mp_context=context,
            initializer=solver.warm,
            initargs=(*self._files(), os.getpid()),
        )

    async def start(self) -> None:
        """Recover interrupted work, start the solver pool (or connect to Dask) and the loop."""
        everything = self.store.backend == "sqlite"  # one process per SQLite store
        requeued = await asyncio.to_thread(
            db.requeue_stale,
            self.store,
            max_attempts=self.settings.limits.solve_attempts,
            everything=everything,
        )
        if requeued:
            log.info("re-queued %d plan(s) whose solve was interrupted", len(requeued))
        if self.settings.scheduler:
            from dask.distributed import Client

            self._client = await asyncio.to_thread(
                Client, self.settings.scheduler, timeout="30s", set_as_default=False
            )
        else:
            self._pool = self._new_pool()
        self._loop_task = asyncio.create_task(self._run(), name="shipahead-dispatcher")

    async def stop(self) -> None:
        """Stop claiming, put this process's unfinished plans back in the queue, stop the pool."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        for item in list(self.inflight.values()):
            if item.task is not None:
                item.task.cancel()
        ids = list(self.inflight)
        if ids:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(db.release, self.store, self.owner, ids)
        self.inflight.clear()
        if self._pool is not None:
            self._kill_pool(self._pool)
            self._pool = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._client.close)
            self._client = None

    def wake(self, after_s: float = 0.0) -> None:
        """Look at the queue now (or in ``after_s`` seconds)."""
        if after_s > 0:
            asyncio.get_running_loop().call_later(after_s, self._wake.set)
        else:
            self._wake.set()

    # --- the loop -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the loop
                log.exception("dispatcher tick failed; retrying")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_s)
            self._wake.clear()

    async def _tick(self) -> None:
        now = time.time()
        lease = self.settings.lease_s
        if self.inflight and now - self._last_renew >= lease / 3:
            await asyncio.to_thread(
                db.renew_leases, self.store, self.owner, list(self.inflight), lease_s=lease
            )
            self._last_renew = now
        if now - self._last_stale >= lease / 2:
            await asyncio.to_thread(
                db.requeue_stale, self.store, max_attempts=self.settings.limits.solve_attempts
            )
            self._last_stale = now
        self._abandon_overdue(now)
        while len(self.inflight) < self.capacity and not self._stopping:
            claim = await asyncio.to_thread(db.claim_next, self.store, self.owner, lease_s=lease)
            if claim is None:
                break
            self._submit(claim)

    def _wall_cap(self, claim: db.Claim) -> float:
        options = claim.problem.get("options") or {}
        limit = options.get("time_limit_s")
        if not isinstance(limit, int | float) or limit <= 0:
            limit = self.settings.default_time_limit_s
        return float(limit) * self.settings.solve_wall_factor + 120.0

    def _submit(self, claim: db.Claim) -> None:
        roads, traffic, weather = self._files()
        task = json.dumps(
            {
                "kind": "solve" if claim.state is None else "replan",
                "problem": claim.problem,
                "state": claim.state,
                "events": claim.events,
                "roads": roads,
                "traffic": traffic,
                "weather": weather,
            },
            allow_nan=False,
        )
        item = _InFlight(claim=claim, started=time.time())
        self.inflight[claim.plan_id] = item
        item.task = asyncio.create_task(self._solve(item, task))

    async def _solve(self, item: _InFlight, task: str) -> None:
        claim = item.claim
        limits = self.settings.limits
        try:
            if self._client is not None:
                item.future = self._client.submit(
                    solver.run,
                    task,
                    pure=False,
                    key=f"shipahead-{claim.plan_id}-{claim.revision}-{uuid.uuid4().hex[:8]}",
                )
                raw = await asyncio.to_thread(item.future.result)
            else:
                assert self._pool is not None
                pool = self._pool
                try:
                    future: Future[str] = pool.submit(solver.run, task)
                except (BrokenProcessPool, RuntimeError):
                    self._replace_pool(pool)
                    assert self._pool is not None
                    future = self._pool.submit(solver.run, task)
                item.future = future
                raw = await asyncio.wrap_future(future)
            result = json.loads(raw)
            if result.get("ok"):
                stored = await asyncio.to_thread(
                    db.finish_solve,
                    self.store,
                    claim,
                    self.owner,
                    output=result["output"],
                    state=result["state"],
                    geometry=result["geometry"],
                    changes=result["changes"],
                    solve_s=float(result.get("solve_s", time.time() - item.started)),
                )
                if stored:
                    self.solved += 1
            else:
                await asyncio.to_thread(
                    db.fail_solve,
                    self.store,
                    claim,
                    self.owner,
                    str(result.get("error", "the solve failed")),
                    retry=False,
                    max_attempts=limits.solve_attempts,
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the solver process died (killed, out of memory) or Dask lost it
            broken = isinstance(exc, BrokenProcessPool)
            reason = (
                "the solver process stopped unexpectedly (killed or out of memory)"
                if broken
                else f"the solve did not complete: {type(exc).__name__}: {exc}"
            )
            log.warning("plan %s: %s", claim.plan_id, reason)
            if broken and self._pool is not None:
                self._replace_pool(self._pool)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    db.fail_solve,
                    self.store,
                    claim,
                    self.owner,
                    " ".join(reason.split()),
                    retry=True,
                    max_attempts=limits.solve_attempts,
                )
        finally:
            if self.inflight.get(claim.plan_id) is item:
                del self.inflight[claim.plan_id]
            self._wake.set()

    def _abandon_overdue(self, now: float) -> None:
        """Fail solves that ran far past their time limit; restart the pool they hang in."""
        for item in list(self.inflight.values()):
            cap = self._wall_cap(item.claim)
            if now - item.started <= cap or item.task is None:
                continue
            log.warning("plan %s: solve ran %.0f s, abandoned", item.claim.plan_id, cap)
            item.task.cancel()
            del self.inflight[item.claim.plan_id]
            reason = f"the solve ran longer than {cap:.0f} s and was stopped"
            if self._pool is not None:
                self._replace_pool(self._pool)
            elif item.future is not None:
                with contextlib.suppress(Exception):
                    item.future.cancel()
            asyncio.create_task(  # noqa: RUF006 (fire and forget; it logs nothing to keep)
                asyncio.to_thread(
                    db.fail_solve,
                    self.store,
                    item.claim,
                    self.owner,
                    reason,
                    retry=False,
                    max_attempts=self.settings.limits.solve_attempts,
                )
            )

    # --- the pool -----------------------------------------------------------------------------

    @staticmethod
    def _kill_pool(pool: ProcessPoolExecutor) -> None:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()

    def _replace_pool(self, pool: ProcessPoolExecutor) -> None:
        """Start a new pool in place of ``pool`` (once, however many solves saw it break)."""
        if self._pool is not pool or self._stopping:
            return
        self._pool = self._new_pool()
        self._kill_pool(pool)

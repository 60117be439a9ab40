"""Inspection of documents in worker processes, off the web process's event loop.

`inspect_document` decodes whole images and parses hostile PDFs: run on the event loop
(or in a thread, under the GIL) it would stall every request for as long as it takes.
`InspectionPool` runs it in a small pool of worker processes, each with an address-space
limit and a lower CPU priority, with a bounded number of inspections at once, a bounded
wait for a free slot, and a timeout per file. A file that exceeds its time, or whose
worker dies (the memory limit), is refused as too complex and the pool is made anew.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from aiohttp import web

from bot.documents import (
    CleanDocument,
    DocumentLimits,
    DocumentRefused,
    inspect_in_worker,
    limit_worker,
    too_complex,
)
from bot.web.keys import SETTINGS

log = logging.getLogger(__name__)

_GIB = 1024 * 1024 * 1024
_START_TIMEOUT = 120.0  # seconds for the first workers to start, on a loaded machine


@dataclass(frozen=True)
class InspectionLimits:
    """How much the inspection of uploaded files may take of the machine."""

    workers: int = 2  # inspections at once, one per worker process
    timeout: float = 15.0  # seconds per file
    queue_timeout: float = 30.0  # seconds a file may wait for a free worker
    memory_bytes: int = _GIB  # address space of a worker process


class InspectionPool:
    """Worker processes that inspect documents; made on startup, closed on cleanup."""

    def __init__(self, limits: InspectionLimits = InspectionLimits()) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.workers)
        self._executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        # forkserver: workers are forked from a small server process that imported
        # bot.documents (Pillow, pypdf) once, never from the web process (its event loop,
        # database connections and threads). The worker's functions live in bot.documents
        # too, so that a worker imports nothing more.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", "bot.documents"])
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.limits.workers,
            mp_context=context,
            initializer=limit_worker,
            initargs=(self.limits.memory_bytes,),
        )
        # Start the workers now, not on the first file (whose time would include it).
        self._warming = [executor.submit(os.getpid) for _ in range(self.limits.workers)]
        return executor

    async def ready(self) -> None:
        """Wait until the workers are up (the forkserver imports Pillow and pypdf once)."""
        warming = [asyncio.wrap_future(future) for future in self._warming]
        await asyncio.wait_for(asyncio.gather(*warming), _START_TIMEOUT)

    async def inspect(
        self, data: bytes, filename: str | None, limits: DocumentLimits
    ) -> CleanDocument:
        """Inspect a document in a worker process.

        Raises:
            DocumentRefused: the inspection's own refusals, and `too_complex` when the file
                exceeds its time or memory, or no worker freed up in time.
        """
        try:
            await asyncio.wait_for(self._slots.acquire(), self.limits.queue_timeout)
        except asyncio.TimeoutError:
            log.warning(
                "no inspection worker free in %.0f s: file refused", self.limits.queue_timeout
            )
            raise _busy() from None
        try:
            return await self._run(data, filename, limits)
        finally:
            self._slots.release()

    async def _run(
        self, data: bytes, filename: str | None, limits: DocumentLimits
    ) -> CleanDocument:
        # A pool broken by another file's inspection is retried once, on the new pool.
        for attempt in range(2):
            executor = self._executor
            future = asyncio.get_running_loop().run_in_executor(
                executor, inspect_in_worker, data, filename, limits
            )
            try:
                return await asyncio.wait_for(future, self.limits.timeout)
            except asyncio.TimeoutError:
                log.warning(
                    "a document inspection exceeded %.0f s: workers restarted",
                    self.limits.timeout,
                )
                self._restart(executor)
                raise too_complex() from None
            except (BrokenProcessPool, MemoryError):
                if executor is self._executor or attempt:
                    log.warning("an inspection worker died (memory limit?): workers restarted")
                    self._restart(executor)
                    raise too_complex() from None
        raise AssertionError("unreachable")

    def _restart(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """Kill the workers of `broken` and make a new pool, once per broken pool."""
        if broken is not self._executor:
            return  # another inspection already restarted it
        self._executor = self._new_executor()
        _kill(broken)

    def close(self) -> None:
        _kill(self._executor)


INSPECTOR = web.AppKey("inspector", InspectionPool)


async def inspection_pool(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context of the app factory: the pool lives as long as the application."""
    settings = app[SETTINGS]
    pool = InspectionPool(
        InspectionLimits(
            workers=settings.inspection_workers,
            timeout=settings.inspection_timeout.total_seconds(),
            memory_bytes=settings.inspection_memory_bytes,
        )
    )
    app[INSPECTOR] = pool
    try:
        await pool.ready()
    except BaseException:
        pool.close()
        raise
    yield
    app[INSPECTOR].close()


def _kill(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Stop a pool now: its workers are killed, whatever they are doing."""
    # ProcessPoolExecutor has no public way to stop a running task before Python 3.14
    # (kill_workers): its `_processes` are the worker processes.
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.kill()
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)


def _busy() -> DocumentRefused:
    return DocumentRefused(
        "busy",
        "Beaucoup de fichiers sont en cours de vérification : le vôtre n'a pas pu être "
        "examiné. Envoyez-le de nouveau dans quelques instants, ou envoyez une photo (JPEG "
        "ou PNG) ou un scan PDF de votre pièce d'identité.",
    )

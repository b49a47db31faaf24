"""The thread budget of model fits: how many threads the native pools inside scikit-learn,
statsforecast and numpy (OpenMP, BLAS) may use, so that they never multiply with salesml's own
process pools.

``[compute] threads`` (0 = every core this process may run on, as the operating system's CPU
affinity says — not the machine's count, which a container's limit hides) is applied with
threadpoolctl around a fit (:func:`thread_budget`); a worker process of a pool runs with one
thread per pool (:func:`one_thread_per_worker`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from salesml.config import Settings


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def threads(settings: Settings) -> int:
    """The threads one fit may use: ``[compute] threads``, or every available core."""
    return settings.compute.threads or available_cores()


@contextmanager
def thread_budget(settings: Settings) -> Iterator[int]:
    """Run the block with the native thread pools limited to :func:`threads`; yields it."""
    n = threads(settings)
    with threadpool_limits(limits=n):
        yield n


def budgeted(fn: Callable) -> Callable:
    """Decorator: run ``fn(settings, ...)`` under :func:`thread_budget` of its settings."""

    @functools.wraps(fn)
    def run(settings: Settings, *args, **kwargs):
        with thread_budget(settings):
            return fn(settings, *args, **kwargs)

    return run


#: the limits a worker process keeps for its lifetime (see one_thread_per_worker)
_WORKER_LIMITS: list = []


def one_thread_per_worker() -> None:
    """In a pool's worker process: one thread per native pool for the worker's lifetime (the
    pool's processes are the parallelism)."""
    _WORKER_LIMITS.append(threadpool_limits(limits=1))

"""Single-threaded model fits and predictions run side by side: one thread each, one per core.

LightGBM releases the GIL while it trains and predicts, so threads give the cores real work without
copying the data into processes. Each call keeps its own seed, so the results do not depend on how
the calls are scheduled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from joblib import Parallel, delayed

T = TypeVar("T")
U = TypeVar("U")


def core_count() -> int:
    """The machine's cores (at least one)."""
    return max(1, os.cpu_count() or 1)


def thread_count(tasks: int) -> int:
    """Threads for ``tasks`` single-threaded calls: one each, at most one per core."""
    return max(1, min(tasks, core_count()))


def threaded(calls: Sequence[Callable[[], T]]) -> list[T]:
    """The results of ``calls``, in their order, computed on :func:`thread_count` threads."""
    if len(calls) <= 1:
        return [call() for call in calls]
    parallel = Parallel(n_jobs=thread_count(len(calls)), prefer="threads")
    return list(parallel(delayed(call)() for call in calls))


def side_by_side(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """The results of two independent calls, each run on its own plain thread (so a call that runs
    :func:`threaded` inside keeps its own pool); an exception of ``first``, then of ``second``, is
    raised once both have ended.

    For calls whose heavy work releases the GIL (LightGBM): each fills the core the other leaves
    idle, and with seeded single-threaded fits the results are those of running them in turn.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        one, two = pool.submit(first), pool.submit(second)
        return one.result(), two.result()

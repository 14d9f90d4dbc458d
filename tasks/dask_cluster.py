"""The Dask cluster the stages hand their per-customer work to, and that work done by partition.

With ``runtime.task_runner: dask`` the stages themselves run in this process (on Prefect's threaded
Dask runner, see :func:`flows.training.dask_task_runner`). Their data-parallel work goes to the
cluster at ``runtime.dask_address`` when one is set, whose workers are separate processes (possibly
other machines: they need the ``segmint`` package installed), else to that threaded local cluster.
Every result is gathered back here in partition order, so it equals a local run's.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import pandas as pd

from segmint.settings import RuntimeSettings


@dataclass(frozen=True)
class PartitionResults:
    """What the partitions returned, in partition order, and where they ran.

    Attributes:
        parts: One result per partition.
        workers: How many distinct workers ran them (1 when run here).
    """

    parts: list[Any]
    workers: int

    def summary(self) -> dict[str, int]:
        """The metrics entry: partitions and workers."""
        return {"partitions": len(self.parts), "workers": self.workers}


def _task_runner_client() -> Any | None:
    """A client of the Dask cluster this thread is a worker of (Prefect's DaskTaskRunner), else None.

    The thread secedes from its worker while the client is open, so that worker runs partitions too
    instead of waiting on them with its only thread.
    """
    try:
        from distributed import get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):
        return None
    return worker_client()


@contextmanager
def compute_client(runtime: RuntimeSettings) -> Iterator[Any | None]:
    """A client of the cluster to hand per-customer work to, or None to do it here.

    ``runtime.dask_address`` when set (workers in separate processes), else the cluster that runs
    this stage on Dask; None with ``task_runner: local``.
    """
    if runtime.task_runner != "dask":
        yield None
        return
    if runtime.dask_address:
        from distributed import Client

        with Client(runtime.dask_address, set_as_default=False, timeout="30s") as client:
            yield client
        return
    context = _task_runner_client()
    with context if context is not None else nullcontext() as client:
        yield client


def map_partitions(
    client: Any | None, function: Callable[..., Any], parts: Sequence[Any], **shared: Any
) -> PartitionResults:
    """``function(part, **shared)`` for every part, on the cluster's workers when ``client`` is set.

    The shared arguments (a model, exclusions) are sent once to every worker, not once per part.
    """
    if client is None or len(parts) < 2:
        return PartitionResults([function(part, **shared) for part in parts], workers=1)
    # Lists of one: scatter would split a list or dict argument into futures of its items.
    scattered = {
        name: value if value is None else _scattered(client, [value], broadcast=True)[0]
        for name, value in shared.items()
    }
    # The parts go to the workers as data, not inside the task graph.
    futures = client.map(function, _scattered(client, list(parts)), pure=False, **scattered)
    results = client.gather(futures)
    ran_on = {worker for holders in client.who_has(futures).values() for worker in holders}
    return PartitionResults(list(results), workers=max(len(ran_on), 1))


def _scattered(client: Any, values: list[Any], broadcast: bool = False) -> list[Any]:
    """Futures of ``values`` held by ``client``'s workers.

    Called from a task of another cluster (a stage on the threaded task runner), ``Client.scatter``
    would store the data on that task's own worker and report it to this client's scheduler, which
    has no such worker; an empty context hides the task's worker from it.
    """
    return contextvars.Context().run(client.scatter, values, broadcast=broadcast, hash=False)


def concat_parts(results: PartitionResults) -> pd.DataFrame:
    """The partitions' frames stacked in partition order."""
    return pd.concat(results.parts, ignore_index=True)

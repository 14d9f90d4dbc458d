"""The training flow: the whole DAG of tasks.stages, in order, as Prefect tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow

from flows.prefect_tasks import PREFECT_TASKS
from segmint.settings import RuntimeSettings, Settings, load_settings
from tasks import data_summary, dvc_lock, tracking
from tasks.artifacts import publish_training_artifacts
from tasks.locking import project_lock
from tasks.paths import ProjectPaths
from tasks.runlog import flow_run_namer
from tasks.stages import STAGES, TRAINING_ORDER

StageListener = Callable[[str, str, dict[str, Any] | None], None]
_listeners: list[StageListener] = []


def add_listener(listener: StageListener) -> None:
    """Be told when each stage starts and ends (the CLI draws its progress bar from this)."""
    _listeners.append(listener)


def _notify(stage: str, event: str, result: dict[str, Any] | None = None) -> None:
    for listener in _listeners:
        listener(stage, event, result)


@flow(name="training", log_prints=False, flow_run_name=flow_run_namer("train"))
def training_flow(project_dir: str = ".", stages: list[str] | None = None) -> dict[str, Any]:
    """Run the training DAG (validate → … → report) on the project's ``data/raw``, holding the project
    lock; the run publishes its gate decisions, candidate tables and links as Prefect artifacts."""
    paths = ProjectPaths(Path(project_dir).resolve())
    results: dict[str, Any] = {}
    with project_lock(paths):
        settings = load_settings(paths.params)
        chosen = [s for s in TRAINING_ORDER if stages is None or s in stages]
        with tracking.flow_run("training", settings, paths) as run_id:
            results["mlflow_run_id"] = run_id
            if settings.runtime.task_runner == "dask":
                results.update(_run_on_dask(chosen, settings, paths))
            else:
                results.update(_run_in_turn(chosen, settings, paths))
            results["artifacts"] = publish_training_artifacts(settings, paths, run_id)
        results["dvc_lock"] = dvc_lock.recorded_stages(paths, chosen)
    return results


def _run_in_turn(chosen: list[str], settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Run the chosen stages one after another in this process. The gate's data summary, which reads
    only the features, is made ahead in a separate process once they are written
    (:mod:`tasks.data_summary`)."""
    results: dict[str, Any] = {}
    try:
        for name in chosen:
            _notify(name, "start")
            results[name] = PREFECT_TASKS[name](name, settings, paths)
            _notify(name, "end", results[name])
            if name == "features" and "gate" in chosen:
                data_summary.start_for_gate(settings, paths)
    finally:
        data_summary.discard_ahead()
    return results


def _producers(chosen: list[str]) -> dict[str, list[str]]:
    """For each chosen stage, the chosen stages whose outputs it reads (from the stage registry)."""
    made_by: dict[str, str] = {}
    for name in chosen:
        for out in (*STAGES[name].outs, *STAGES[name].metrics, *STAGES[name].plots):
            made_by[out] = name
    graph: dict[str, list[str]] = {}
    for name in chosen:
        graph[name] = sorted(
            {
                producer
                for dep in STAGES[name].deps
                for out, producer in made_by.items()
                if producer != name and (dep == out or dep.startswith(out + "/") or out.startswith(dep + "/"))
            }
        )
    return graph


def dask_task_runner(runtime: RuntimeSettings) -> Any:
    """Prefect's Dask task runner for the stage graph: a local cluster of threads in this process.

    The stages stay in this process even when ``runtime.dask_address`` names a cluster: a stage run
    in a separate worker process would start its own temporary Prefect API server and lose its MLflow
    parent run. Their per-customer work (features, uplift and recommendation scoring) is what goes to
    the cluster at ``dask_address``, by customer partition (see :mod:`tasks.dask_cluster`). The
    threads' HTTP endpoints (which Dask opens even without a dashboard) listen on loopback only.
    """
    # Lazy: prefect_dask brings in dask.distributed (seconds of start-up) for a runner only some use.
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": runtime.dask_workers,
            "threads_per_worker": 1,
            "processes": False,
            "dashboard_address": None,
            "worker_dashboard_address": "127.0.0.1:0",
            "scheduler_kwargs": {"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        },
    )


def _run_on_dask(chosen: list[str], settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Submit the chosen stages to Dask, each waiting only for the stages it reads from.

    Independent stages (segment, anomaly, uplift) then run side by side on the cluster's workers; the
    results are collected and reported in DAG order, so callers see the same sequence as locally.
    """
    graph = _producers(chosen)
    results: dict[str, Any] = {}
    with dask_task_runner(settings.runtime) as runner:
        futures: dict[str, Any] = {}
        for name in chosen:
            _notify(name, "start")
            futures[name] = runner.submit(
                PREFECT_TASKS[name],
                parameters={"name": name, "settings": settings, "paths": paths},
                wait_for=[futures[p] for p in graph[name]],
            )
        for name in chosen:
            results[name] = futures[name].result()
            _notify(name, "end", results[name])
    return results

"""The training flow: the whole DAG of tasks.stages, in order, as Prefect tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow

from segmint.settings import load_settings
from tasks import tracking
from tasks.paths import ProjectPaths
from tasks.stages import PREFECT_TASKS, TRAINING_ORDER

StageListener = Callable[[str, str, dict[str, Any] | None], None]
_listeners: list[StageListener] = []


def add_listener(listener: StageListener) -> None:
    """Be told when each stage starts and ends (the CLI draws its progress bar from this)."""
    _listeners.append(listener)


def _notify(stage: str, event: str, result: dict[str, Any] | None = None) -> None:
    for listener in _listeners:
        listener(stage, event, result)


@flow(name="training", log_prints=False)
def training_flow(project_dir: str = ".", stages: list[str] | None = None) -> dict[str, Any]:
    """Run the training DAG (validate → … → report) on the project's ``data/raw``."""
    paths = ProjectPaths(Path(project_dir).resolve())
    settings = load_settings(paths.params)
    chosen = [s for s in TRAINING_ORDER if stages is None or s in stages]
    results: dict[str, Any] = {}
    with tracking.flow_run("training", settings, paths) as run_id:
        results["mlflow_run_id"] = run_id
        for name in chosen:
            _notify(name, "start")
            results[name] = PREFECT_TASKS[name](name, settings, paths)
            _notify(name, "end", results[name])
    return results

"""The campaign flow: batch scoring with the champion models, then the reviewer report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows.prefect_tasks import PREFECT_TASKS, anomaly_scores_task, scoring_features_task
from segmint.settings import load_settings
from tasks import tracking
from tasks.fresh import stale_scoring_steps
from tasks.locking import project_lock
from tasks.paths import ProjectPaths
from tasks.runlog import flow_run_namer


@flow(name="campaign", log_prints=False, flow_run_name=flow_run_namer("campaign"))
def campaign_flow(project_dir: str = ".") -> dict[str, Any]:
    """Score every customer with the champions (the campaign stage), then rebuild the report, holding
    the project lock. When ``data/raw/`` is newer than what scoring reads, it is validated, its
    features built with the trained sentiment model and its customers scored by the trained anomaly
    detector first (no model is refitted)."""
    paths = ProjectPaths(Path(project_dir).resolve())
    with project_lock(paths):
        settings = load_settings(paths.params)
        with tracking.flow_run("campaign", settings, paths) as run_id:
            refreshed: dict[str, Any] = {}
            refresh = {"features": scoring_features_task, "anomaly_scores": anomaly_scores_task}
            for step in stale_scoring_steps(paths):
                if step == "validate":
                    refreshed[step] = PREFECT_TASKS[step](step, settings, paths)
                else:
                    refreshed[step] = refresh[step](settings, paths)
            scored = PREFECT_TASKS["campaign"]("campaign", settings, paths)
            report = PREFECT_TASKS["report"]("report", settings, paths)
    return {"mlflow_run_id": run_id, "refreshed": refreshed, "campaign": scored, "report": report}

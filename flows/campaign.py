"""The campaign flow: batch scoring with the champion models, then the reviewer report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from segmint.settings import load_settings
from tasks import tracking
from tasks.locking import project_lock
from tasks.paths import ProjectPaths
from tasks.runlog import flow_run_namer
from tasks.stages import PREFECT_TASKS


@flow(name="campaign", log_prints=False, flow_run_name=flow_run_namer("campaign"))
def campaign_flow(project_dir: str = ".") -> dict[str, Any]:
    """Score every customer with the champions (the campaign stage), then rebuild the report, holding
    the project lock."""
    paths = ProjectPaths(Path(project_dir).resolve())
    with project_lock(paths):
        settings = load_settings(paths.params)
        with tracking.flow_run("campaign", settings, paths) as run_id:
            scored = PREFECT_TASKS["campaign"]("campaign", settings, paths)
            report = PREFECT_TASKS["report"]("report", settings, paths)
    return {"mlflow_run_id": run_id, "campaign": scored, "report": report}

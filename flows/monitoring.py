"""The monitoring flow: validate and featurise fresh ``data/raw``, check drift against the champion's
reference and, past the thresholds, start the training flow (a deployment run when one is deployed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from flows.prefect_tasks import PREFECT_TASKS, drift_task, record_monitoring_task
from flows.training import training_flow
from segmint.settings import Settings, load_settings
from tasks import tracking
from tasks.locking import project_lock
from tasks.paths import ProjectPaths
from tasks.prefect_api import uses_temporary_server
from tasks.runlog import flow_run_namer

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

DEPLOYMENT_ENV = "SEGMINT_TRAINING_DEPLOYMENT"


def training_deployment(settings: Settings) -> str | None:
    """The training deployment to run, when a Prefect server knows it (None: train in-process).

    ``$SEGMINT_TRAINING_DEPLOYMENT`` overrides ``gate.training_deployment``; the command's temporary
    local API (no server configured) has no workers to run a deployment, so it never counts as deployed.
    """
    name = os.environ.get(DEPLOYMENT_ENV) or settings.gate.training_deployment
    if not name or uses_temporary_server():
        return None
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None
    return name


@flow(name="monitoring", log_prints=False, flow_run_name=flow_run_namer("monitor"))
def monitoring_flow(project_dir: str = ".") -> dict[str, Any]:
    """Check fresh data for drift and retrain when it calls for it; the finding is in metrics/drift.json."""
    paths = ProjectPaths(Path(project_dir).resolve())
    settings = load_settings(paths.params)
    results: dict[str, Any] = {}
    # The lock covers this run's own writes; a training run it starts takes the lock itself.
    with project_lock(paths), tracking.flow_run("monitoring", settings, paths) as run_id:
        results["mlflow_run_id"] = run_id
        for name in ("validate", "features"):
            results[name] = PREFECT_TASKS[name](name, settings, paths)
        results["drift"] = drift_task(settings, paths)
    retraining: dict[str, Any] = {"triggered": False}
    if results["drift"]["retrain"]:
        deployment = training_deployment(settings)
        if deployment is not None:
            # Called from a synchronous flow, run_deployment returns the flow run, not a coroutine.
            run = cast(
                "FlowRun", run_deployment(deployment, parameters={"project_dir": str(paths.root)}, timeout=0)
            )
            retraining = {"triggered": True, "how": f"deployment {deployment}", "flow_run_id": str(run.id)}
        else:
            trained = training_flow(str(paths.root))
            retraining = {
                "triggered": True,
                "how": "training subflow",
                "mlflow_run_id": trained.get("mlflow_run_id"),
                "gate": trained.get("gate"),
            }
    results["retraining"] = retraining
    record_monitoring_task(
        paths,
        {
            "mlflow_run_id": run_id,
            "drift": results["drift"],
            "retraining": {k: v for k, v in retraining.items() if k != "gate"},
        },
    )
    return results

"""What a training flow run leaves in Prefect: a readable name, its artifacts, its stage logs; and the MLflow
parent run that names the Prefect flow run and its artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# Asks the Prefect API that `segmint train` reported to: the session's server (PREFECT_API_URL), or
# without one the project's own Prefect home, where the command's temporary server kept its state.
QUERY = """
import json, sys
from prefect.client.orchestration import get_client
from prefect.client.schemas import filters

run_id = sys.argv[1]
with get_client(sync_client=True) as client:
    run = client.read_flow_run(run_id)
    artifacts = client.read_artifacts(
        artifact_filter=filters.ArtifactFilter(flow_run_id=filters.ArtifactFilterFlowRunId(any_=[run_id]))
    )
    logs = client.read_logs(
        log_filter=filters.LogFilter(flow_run_id=filters.LogFilterFlowRunId(any_=[run_id]))
    )
print(json.dumps({
    "name": run.name,
    "state": run.state_type.value,
    "artifacts": {a.key: {"type": a.type, "data": a.data} for a in artifacts},
    "logs": [log.message for log in logs],
}))
"""


@pytest.fixture(scope="module")
def training_run(trained_project) -> dict:
    """The trained project's training flow run as Prefect's API reports it, found through the MLflow
    parent run's ``prefect.flow_run_id`` tag."""
    from segmint.settings import load_settings
    from tasks.paths import ProjectPaths
    from tasks.tracking import tracking_uri

    paths = ProjectPaths(trained_project)
    settings = load_settings(paths.params)
    client = MlflowClient(tracking_uri=tracking_uri(settings, paths))
    experiment = client.get_experiment_by_name(settings.tracking.experiment)
    assert experiment is not None
    parents = client.search_runs([experiment.experiment_id], "tags.`segmint.flow` = 'training'")
    assert len(parents) == 1, [r.info.run_id for r in parents]
    tags = parents[0].data.tags
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(trained_project / ".prefect")}
    proc = subprocess.run(
        [sys.executable, "-c", QUERY, tags["prefect.flow_run_id"]],
        cwd=trained_project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "tags": tags, "parent": parents[0]}


def test_a_training_run_publishes_its_decisions_candidates_and_links(training_run, trained_project):
    artifacts = training_run["artifacts"]
    assert len(artifacts) >= 3, artifacts
    assert set(training_run["tags"]["prefect.artifacts"].split(",")) == set(artifacts)
    for kind in ("segmenter", "recommender", "uplift"):
        assert f"segmint-{kind}-candidates" in artifacts, sorted(artifacts)
        assert artifacts[f"segmint-{kind}-candidates"]["type"] == "table"
    gate = json.loads((trained_project / "metrics" / "gate.json").read_text())
    decisions = artifacts["segmint-gate-decisions"]["data"]
    for kind, decision in gate.items():
        assert f"| {kind} | **{decision['decision']}** |" in decisions
    assert (trained_project / "reports" / "report.html").as_uri() in artifacts["segmint-report"]["data"]
    assert training_run["parent"].info.run_id in artifacts["segmint-mlflow-run"]["data"]


def test_a_training_run_has_a_readable_name_and_its_stage_logs(training_run):
    assert training_run["state"] == "COMPLETED"
    assert training_run["name"].startswith("train-") and training_run["name"].endswith("-segmint")
    logs = " | ".join(training_run["logs"])
    for stage in ("validate", "segment", "gate", "report"):
        assert f"stage {stage} done in" in logs, logs[-2000:]
    assert "gate: segmenter" in logs

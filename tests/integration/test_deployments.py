"""infra/prefect.yaml registers on a real Prefect server, and a process worker runs a deployment.

Everything binds to 127.0.0.1 on free ports; the server has its own PREFECT_HOME (SQLite) in tmp.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from infra import services

ROOT = Path(__file__).resolve().parents[2]
PREFECT_FILE = ROOT / "infra" / "prefect.yaml"
BIN = Path(sys.executable).parent


def _deployments() -> dict[str, dict]:
    return {d["name"]: d for d in yaml.safe_load(PREFECT_FILE.read_text())["deployments"]}


def test_prefect_yaml_declares_the_three_scheduled_deployments() -> None:
    deployments = _deployments()
    assert set(deployments) == {"training-weekly", "campaign-daily", "monitoring-daily"}
    entrypoints = {name: d["entrypoint"] for name, d in deployments.items()}
    assert entrypoints["training-weekly"] == "flows/training.py:training_flow"
    assert entrypoints["campaign-daily"] == "flows/campaign.py:campaign_flow"
    assert entrypoints["monitoring-daily"] == "flows/monitoring.py:monitoring_flow"
    for name, d in deployments.items():
        assert d["work_pool"]["name"] == "segmint-process", name
        assert "project_dir" in d["parameters"], name
        crons = [s["cron"] for s in d["schedules"]]
        assert len(crons) == 1 and len(crons[0].split()) == 5, name
    assert deployments["training-weekly"]["schedules"][0]["cron"].split()[4] != "*"  # weekly
    assert deployments["campaign-daily"]["schedules"][0]["cron"].split()[2:] == ["*", "*", "*"]


# The Prefect server answers these when a request may simply be sent again (503: its database was
# busy); Prefect's own client retries them, and so does this one.
RETRIED_STATUSES = {429, 502, 503}


def _api(url: str, body: dict | None = None, attempts: int = 5) -> object:
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(1, attempts + 1):
        req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRIED_STATUSES or attempt == attempts:
                raise
            time.sleep(2.0 * attempt)
    raise AssertionError("unreachable")


def _small_project(tmp: Path, customers: int = 600) -> Path:
    project = tmp / "project"
    project.mkdir()
    shutil.copy(ROOT / "params.yaml", project / "params.yaml")
    env = services.base_env(PREFECT_HOME=str(project / ".prefect"))
    segmint = str(BIN / "segmint")
    for cmd in (
        [segmint, "generate", "--out", "shop", "--customers", str(customers), "--seed", "5"],
        [segmint, "ingest", "--source", "canonical", "--path", "shop"],
    ):
        subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True, timeout=300)
    return project


@pytest.mark.integration
@pytest.mark.slow
def test_training_deployment_runs_on_a_process_worker(tmp_path: Path) -> None:
    project = _small_project(tmp_path)
    with services.prefect_server(tmp_path / "prefect-home") as server:
        env = {**server.env, "SEGMINT_PROJECT_DIR": str(project), "SEGMINT_CODE_DIR": str(ROOT)}
        env["PREFECT"] = str(BIN / "prefect")
        registered = subprocess.run(
            ["bash", str(ROOT / "infra" / "deploy.sh"), "training-weekly", "campaign-daily"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert registered.returncode == 0, registered.stdout[-3000:] + registered.stderr[-3000:]

        found = {d["name"]: d for d in _api(f"{server.api_url}/deployments/filter", {})}
        assert {"training-weekly", "campaign-daily"} <= set(found)
        training = found["training-weekly"]
        assert training["parameters"]["project_dir"] == str(project)
        assert [s["schedule"]["cron"] for s in training["schedules"]] == ["0 3 * * 1"]

        with services.prefect_worker(server, "segmint-process"):
            # The first two stages of the real training flow keep this test short.
            run = _api(
                f"{server.api_url}/deployments/{training['id']}/create_flow_run",
                {"parameters": {"project_dir": str(project), "stages": ["validate", "features"]}},
            )
            deadline = time.monotonic() + 420
            state = None
            while time.monotonic() < deadline:
                state = _api(f"{server.api_url}/flow_runs/{run['id']}")["state_type"]
                if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                    break
                time.sleep(2)
            log = services.tail(server.home / "worker.log")
            assert state == "COMPLETED", f"flow run ended {state}; worker log: {log}"

    assert (project / "data" / "features" / "features.parquet").exists()
    assert json.loads((project / "metrics" / "validation.json").read_text())

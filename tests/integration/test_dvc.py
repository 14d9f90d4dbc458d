"""`dvc repro` runs the same DAG: a second run is a no-op, a params change reruns only what depends on it,
and `dvc push` / `dvc pull` round-trip the data through the local remote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmarks.project_copy import copy_project_code
from tests.integration.conftest import light_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(cwd)}
    env.pop("PREFECT_HOME", None)
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


@pytest.fixture(scope="module")
def dvc_project(tmp_path_factory, shop_dir) -> Path:
    project = tmp_path_factory.mktemp("dvcproject")
    copy_project_code(project)
    light_params(project / "params.yaml")
    (project / ".gitignore").write_text(
        "/mlflow.db\n/mlartifacts/\n/.prefect/\n/.dvc-remote/\n/.segmint.lock\n"
    )
    assert _run(["git", "init", "-q"], project).returncode == 0
    assert _run(["git", "add", "-A"], project).returncode == 0
    assert _run(["git", "commit", "-qm", "project"], project).returncode == 0
    ingest = _run([str(BIN / "segmint"), "ingest", "--source", "canonical", "--path", str(shop_dir)], project)
    assert ingest.returncode == 0, ingest.stderr
    assert (project / "data" / "raw.dvc").exists(), ingest.stdout
    return project


def test_repro_runs_the_dag_then_is_a_noop_then_reruns_only_what_a_param_touches(dvc_project):
    first = _run([str(BIN / "dvc"), "repro"], dvc_project)
    assert first.returncode == 0, first.stderr[-3000:] + first.stdout[-3000:]
    assert _ran(first.stdout) == set(yaml.safe_load((dvc_project / "dvc.yaml").read_text())["stages"])
    assert (dvc_project / "outputs" / "customer_scores.parquet").exists()

    started = time.perf_counter()
    second = _run([str(BIN / "dvc"), "repro"], dvc_project)
    assert second.returncode == 0 and _ran(second.stdout) == set(), second.stdout
    assert time.perf_counter() - started < 30

    light_params(dvc_project / "params.yaml", {"anomaly": {"contamination": 0.05}})
    third = _run([str(BIN / "dvc"), "repro"], dvc_project)
    assert third.returncode == 0, third.stderr[-3000:]
    ran = _ran(third.stdout)
    assert "anomaly" in ran and ran <= {"anomaly", "campaign", "report"}
    assert not ran & {"validate", "features", "segment", "recommend", "uplift"}


def test_push_and_pull_round_trip_the_raw_data(dvc_project):
    before = pd.read_parquet(dvc_project / "data" / "raw" / "orders.parquet")
    push = _run([str(BIN / "dvc"), "push", "data/raw.dvc"], dvc_project)
    assert push.returncode == 0, push.stderr
    shutil.rmtree(dvc_project / "data" / "raw")
    shutil.rmtree(dvc_project / ".dvc" / "cache")
    pull = _run([str(BIN / "dvc"), "pull", "data/raw.dvc"], dvc_project)
    assert pull.returncode == 0, pull.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(dvc_project / "data" / "raw" / "orders.parquet"), before)

"""`segmint train` leaves a DVC repository as `dvc repro` would: `dvc status` is clean, the next `dvc repro`
is a no-op, `dvc plots show` draws the plots; a params change reruns only what depends on it, and
`dvc push` / `dvc pull` round-trip the data through the local remote. One training run serves the module."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def trained_dvc_project(dvc_project) -> Path:
    """The DVC project after one `segmint train` (the Prefect flow, not `dvc repro`)."""
    train = _run([str(BIN / "segmint"), "train"], dvc_project)
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:]
    assert (dvc_project / "dvc.lock").exists(), train.stdout[-3000:]
    return dvc_project


def test_after_segmint_train_dvc_status_is_clean_and_repro_runs_no_stage(trained_dvc_project):
    lock = yaml.safe_load((trained_dvc_project / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(
        yaml.safe_load((trained_dvc_project / "dvc.yaml").read_text())["stages"]
    )
    status = _run([str(BIN / "dvc"), "status", "--json"], trained_dvc_project)
    assert status.returncode == 0 and json.loads(status.stdout) == {}, status.stdout + status.stderr

    started = time.perf_counter()
    again = _run([str(BIN / "dvc"), "repro"], trained_dvc_project)
    assert again.returncode == 0 and _ran(again.stdout) == set(), again.stdout + again.stderr
    assert "Data and pipelines are up to date" in again.stdout
    assert time.perf_counter() - started < 30


def test_plots_show_and_diff_render_qini_per_offer_gain_ndcg_and_clv_calibration(trained_dvc_project):
    shown = _run([str(BIN / "dvc"), "plots", "show", "--json"], trained_dvc_project)
    assert shown.returncode == 0, shown.stderr
    drawn = {
        plot_id
        for plot_id, renders in json.loads(shown.stdout)["data"].items()
        if any(_values(render) for render in renders)
    }
    offers = sorted(path.stem for path in (trained_dvc_project / "plots" / "qini_by_offer").glob("*.csv"))
    assert len(offers) >= 2, offers
    expected = {f"plots/qini_by_offer/{offer}.csv" for offer in offers} | {
        "plots/clv_gain.csv",
        "plots/clv_calibration.csv",
        "plots/recommend_ndcg.csv",
    }
    assert drawn == expected, shown.stdout[:3000]
    html = _run([str(BIN / "dvc"), "plots", "show"], trained_dvc_project)
    assert html.returncode == 0, html.stderr
    page = (trained_dvc_project / "dvc_plots" / "index.html").read_text()
    assert page.count("vegaEmbed(") >= 4

    # Plot data is git-tracked (uncached outs): `dvc plots diff` draws a commit beside the workspace.
    for command in (["git", "add", "dvc.lock", "plots"], ["git", "commit", "-qm", "trained"]):
        assert _run(command, trained_dvc_project).returncode == 0
    diff = _run([str(BIN / "dvc"), "plots", "diff", "HEAD", "--json"], trained_dvc_project)
    assert diff.returncode == 0, diff.stderr
    revisions = {
        plot_id: {rev for render in renders if _values(render) for rev in render["revisions"]}
        for plot_id, renders in json.loads(diff.stdout)["data"].items()
    }
    assert revisions == dict.fromkeys(expected, {"HEAD", "workspace"})


def _values(render: dict) -> list:
    """The data points of one rendered plot in `dvc plots show --json`."""
    data = render.get("content", {}).get("data", {})
    return data.get("values", []) if isinstance(data, dict) else []


def test_a_params_change_reruns_only_what_depends_on_it(trained_dvc_project):
    light_params(trained_dvc_project / "params.yaml", {"anomaly": {"contamination": 0.05}})
    third = _run([str(BIN / "dvc"), "repro"], trained_dvc_project)
    assert third.returncode == 0, third.stderr[-3000:]
    ran = _ran(third.stdout)
    assert "anomaly" in ran and ran <= {"anomaly", "campaign", "report"}
    assert not ran & {"validate", "features", "segment", "recommend", "uplift"}
    assert (trained_dvc_project / "outputs" / "customer_scores.parquet").exists()


def test_push_and_pull_round_trip_the_raw_data(dvc_project):
    before = pd.read_parquet(dvc_project / "data" / "raw" / "orders.parquet")
    push = _run([str(BIN / "dvc"), "push", "data/raw.dvc"], dvc_project)
    assert push.returncode == 0, push.stderr
    shutil.rmtree(dvc_project / "data" / "raw")
    shutil.rmtree(dvc_project / ".dvc" / "cache")
    pull = _run([str(BIN / "dvc"), "pull", "data/raw.dvc"], dvc_project)
    assert pull.returncode == 0, pull.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(dvc_project / "data" / "raw" / "orders.parquet"), before)

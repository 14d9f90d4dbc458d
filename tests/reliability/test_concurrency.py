"""Two training flows on one project at once: the lock serialises them; registry and outputs stay whole."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tasks.tracking import MODEL_KINDS
from tests.reliability.conftest import ROOT_ENV, SEGMINT, assert_same_frames, copy_project, output_files

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def registry_state(project: Path) -> dict[str, dict[str, str]]:
    """Aliases per registered model, checked to point at existing, finished versions."""
    from segmint.settings import load_settings
    from tasks.paths import ProjectPaths
    from tasks.tracking import registered_name, tracking_uri

    paths = ProjectPaths(project)
    settings = load_settings(paths.params)
    client = MlflowClient(tracking_uri=tracking_uri(settings, paths))
    state = {}
    for kind in MODEL_KINDS:
        name = registered_name(settings, kind)
        model = client.get_registered_model(name)
        for alias, version in model.aliases.items():
            mv = client.get_model_version(name, version)
            assert mv.status == "READY", f"{name}@{alias} → v{version} is {mv.status}"
            run = client.get_run(mv.run_id)
            assert run.info.status == "FINISHED", f"{name}@{alias} comes from an unfinished run"
        assert "champion" in model.aliases, f"{name} has no champion"
        state[kind] = dict(model.aliases)
    return state


def test_two_trainings_at_once_are_serialised(trained_project, tmp_path):
    project = copy_project(trained_project, tmp_path / "shared")
    env = {**os.environ, **ROOT_ENV}
    env.pop("PREFECT_HOME", None)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    runs = [subprocess.Popen([*SEGMINT, "train"], cwd=project, env=env, **pipes)]
    time.sleep(0.5)
    runs.append(subprocess.Popen([*SEGMINT, "train"], cwd=project, env=env, **pipes))
    outcomes = [(r.wait(timeout=900), *r.communicate()) for r in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], [(c, e[-2000:]) for c, _, e in outcomes]
    refused = next(" ".join((out + err).split()) for code, out, err in outcomes if code == 1)
    assert "another segmint run" in refused and "is using this project" in refused

    state = registry_state(project)
    assert set(state) == set(MODEL_KINDS)
    files = output_files(trained_project)
    assert output_files(project) == files
    assert_same_frames(trained_project, project, files)

    # The refused run left no lock behind: a third run starts and finishes.
    third = subprocess.run(
        [*SEGMINT, "stage", "report"], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert third.returncode == 0, third.stderr[-2000:]

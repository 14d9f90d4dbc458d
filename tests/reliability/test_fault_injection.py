"""Fault injection: SIGKILL each stage of the DAG once, mid-writes; the rerun heals the project.

The kill comes from the hook in ``tasks.stages.run_stage`` (``$SEGMINT_FAULT_KILL_STAGE``): just before
the stage's second output file is renamed into place, or when its computation returns. Stages run
through ``segmint stage NAME`` in a copy of a trained project, so no full training is repeated.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd
import pytest

from tasks.stages import FAULT_KILL_ENV, STAGES, TRAINING_ORDER
from tests.reliability.conftest import (
    assert_same_frames,
    copy_project,
    deterministic,
    output_files,
    run_segmint,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

# Their metrics compare the challenger with the registry's champion, which a second pass changes.
REGISTRY_DEPENDENT_METRICS = {"evaluate", "gate", "campaign"}


def assert_outputs_readable(project: Path) -> None:
    """Every output a killed run could have touched is a complete file (old or new), never a torn one."""
    for file in project.rglob("*.parquet"):
        if ".prefect" in file.parts or file.name.startswith("."):
            continue
        pd.read_parquet(file)
    for file in (project / "metrics").glob("*.json"):
        json.loads(file.read_text())


def kill_then_rerun(project: Path, stage: str) -> None:
    killed = run_segmint(project, "stage", stage, env={FAULT_KILL_ENV: stage})
    assert killed.returncode == -signal.SIGKILL, f"{stage} was not killed: {killed.stderr[-2000:]}"
    assert_outputs_readable(project)
    rerun = run_segmint(project, "stage", stage)
    assert rerun.returncode == 0, f"rerun of {stage} failed: {rerun.stderr[-3000:]}"
    leftovers = [p for p in project.rglob(".*.tmp*") if ".prefect" not in p.parts]
    assert leftovers == [], f"temporaries of the killed {stage} survived its rerun: {leftovers}"


def assert_same_deterministic_metrics(left: Path, right: Path, stages: tuple[str, ...]) -> None:
    for stage in stages:
        if stage in REGISTRY_DEPENDENT_METRICS:
            continue
        for metric in STAGES[stage].metrics:  # e.g. validate writes metrics/validation.json
            a, b = (json.loads((p / metric).read_text()) for p in (left, right))
            assert deterministic(a) == deterministic(b), f"{metric} differs after kill + rerun"


def test_killing_each_stage_then_rerunning_equals_a_clean_run(trained_project, tmp_path):
    clean = trained_project
    project = copy_project(trained_project, tmp_path / "faulty")
    for stage in TRAINING_ORDER:
        kill_then_rerun(project, stage)
    files = output_files(clean)
    assert files, "the clean run wrote no outputs to compare"
    assert output_files(project) == files
    assert_same_frames(clean, project, files)
    assert_same_deterministic_metrics(clean, project, TRAINING_ORDER)
    assert (project / "reports" / "report.html").stat().st_size > 0


def test_fault_hook_is_inert_unless_the_variable_names_the_stage(monkeypatch):
    from tasks import io
    from tasks.stages import _arm_fault_injection

    monkeypatch.delenv(FAULT_KILL_ENV, raising=False)
    assert _arm_fault_injection("features") is False
    monkeypatch.setenv(FAULT_KILL_ENV, "segment")
    assert _arm_fault_injection("features") is False
    assert io.BEFORE_REPLACE_HOOKS == []

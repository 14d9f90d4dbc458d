"""Fault injection: SIGKILL a stage of the DAG mid-writes in a copy of a trained project, rerun it, and
compare the project with the clean run.

The kill comes from the hook in ``tasks.stages.run_stage`` (``$SEGMINT_FAULT_KILL_STAGE``): just before
the stage's second output file is renamed into place, or when its computation returns. Stages run
through ``segmint stage NAME``, so no full training is repeated: each stage reads the trained project's
outputs of the stages before it.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pandas as pd

from tasks.stages import FAULT_KILL_ENV, STAGES
from tests.reliability.conftest import (
    assert_same_frames,
    copy_project,
    deterministic,
    output_files,
    run_segmint,
)

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


def killed_and_rerun_equals_clean(trained_project: Path, copy: Path, stages: tuple[str, ...]) -> None:
    """Kill then rerun each of ``stages`` in a copy of the trained project; its outputs stay the clean
    run's: the same files, frames and deterministic metrics."""
    clean = trained_project
    project = copy_project(trained_project, copy)
    for stage in stages:
        kill_then_rerun(project, stage)
    files = output_files(clean)
    assert files, "the clean run wrote no outputs to compare"
    assert output_files(project) == files
    assert_same_frames(clean, project, files)
    assert_same_deterministic_metrics(clean, project, stages)
    assert (project / "reports" / "report.html").stat().st_size > 0

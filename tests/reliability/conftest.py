"""Reliability fixtures: a private copy of the shared trained project, and helpers to compare projects."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import (  # noqa: F401 - helpers the tests of this folder import from here
    copy_project,
    run_segmint,
)

# Metric keys that legitimately differ between two runs with the same seeds.
VOLATILE_KEYS = {
    "stage_seconds",
    "seconds",
    "registered_version",
    "champion_version",
    "challenger_version",
    "mlflow_run_id",
    "run_id",
    "ingested_at",
    "created_at",
    "generated_at",
    "reports",
    "report",
    "decision",
    "reasons",
    "promoted",
}


def deterministic(data: object) -> object:
    """``data`` without run-specific values (timings, versions, run ids) for run-to-run comparison."""
    if isinstance(data, dict):
        return {k: deterministic(v) for k, v in data.items() if k not in VOLATILE_KEYS and "seconds" not in k}
    if isinstance(data, list):
        return [deterministic(v) for v in data]
    return data


def output_files(project: Path) -> list[Path]:
    """The compared outputs: every parquet under data/ (except raw) and outputs/, relative to ``project``."""
    found = [
        p.relative_to(project)
        for folder in ("data", "outputs")
        for p in (project / folder).rglob("*.parquet")
        if "raw" not in p.relative_to(project).parts and not p.name.startswith(".")
    ]
    return sorted(found)


def assert_same_frames(left: Path, right: Path, files: list[Path]) -> None:
    for rel in files:
        a, b = pd.read_parquet(left / rel), pd.read_parquet(right / rel)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12, obj=str(rel))


def read_metrics(project: Path, name: str) -> dict:
    return json.loads((project / "metrics" / f"{name}.json").read_text())


@pytest.fixture
def fresh_copy(trained_project, tmp_path) -> Path:
    """A private copy of the trained project (tests may break it)."""
    return copy_project(trained_project, tmp_path / "project")


ROOT = Path(__file__).resolve().parents[2]
ROOT_ENV = {"PYTHONPATH": str(ROOT)}
SEGMINT = [sys.executable, "-m", "flows.cli"]

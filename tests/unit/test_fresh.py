"""Which scoring inputs a campaign run rebuilds: make's rule over raw → validated → features → flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tasks.fresh import SCORING_STEPS, stale_scoring_steps
from tasks.paths import ProjectPaths


def _touch(path: Path, seconds: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, ns=(seconds * 10**9, seconds * 10**9))


@pytest.fixture
def built(tmp_path: Path) -> ProjectPaths:
    """A project whose raw tables, validated tables, features and flags were written in that order."""
    paths = ProjectPaths(tmp_path)
    _touch(paths.raw / "customers.parquet", 100)
    _touch(paths.raw / "orders.parquet", 101)
    _touch(paths.validated / "customers.parquet", 200)
    _touch(paths.validated / "orders.parquet", 201)
    _touch(paths.features / "features.parquet", 300)
    _touch(paths.anomaly / "anomaly.parquet", 400)
    return paths


def test_nothing_is_rebuilt_when_every_output_is_newer_than_its_inputs(built: ProjectPaths) -> None:
    assert stale_scoring_steps(built) == ()


def test_a_new_raw_delivery_rebuilds_everything_from_validation(built: ProjectPaths) -> None:
    _touch(built.raw / "orders.parquet", 500)
    assert stale_scoring_steps(built) == SCORING_STEPS


def test_validated_tables_newer_than_the_features_rebuild_features_and_flags(built: ProjectPaths) -> None:
    # what a monitoring run leaves behind: validate and features ran, anomaly scoring did not
    _touch(built.validated / "orders.parquet", 350)
    assert stale_scoring_steps(built) == ("features", "anomaly_scores")
    _touch(built.features / "features.parquet", 450)
    assert stale_scoring_steps(built) == ("anomaly_scores",)


def test_a_missing_output_is_stale_and_no_raw_data_means_nothing_to_rebuild(
    built: ProjectPaths, tmp_path: Path
) -> None:
    (built.anomaly / "anomaly.parquet").unlink()
    assert stale_scoring_steps(built) == ("anomaly_scores",)
    for name in ("customers.parquet", "orders.parquet"):
        (built.validated / name).unlink()
    assert stale_scoring_steps(built) == SCORING_STEPS
    assert stale_scoring_steps(ProjectPaths(tmp_path / "empty")) == ()

"""Shared fixtures: the project environment, a small generated shop, throw-away project folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tasks.env import apply_project_environment

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Prefect and MLflow read their settings at import: the environment is set before any test imports them.
os.environ.setdefault("PREFECT_HOME", str(ROOT / ".prefect-tests"))
apply_project_environment(ROOT)


def shared_data_dir() -> Path:
    """../shared/data, or a clear skip where a fresh clone has no such folder."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not present (real datasets are only beside the CI checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_shop():
    """A 2,000-customer generated shop (tables + truth), shared by the whole session."""
    from segmint.generate import generate_shop
    from segmint.settings import GenerateSettings

    return generate_shop(GenerateSettings(customers=2_000, seed=3))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder holding the repository's params.yaml (light settings for tests)."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


@pytest.fixture(autouse=True)
def _tracking_uri_does_not_leak():
    """``mlflow.set_tracking_uri`` also sets ``$MLFLOW_TRACKING_URI``: an in-process test must not
    point every later ``segmint`` subprocess at its own throw-away registry."""
    keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    before = {k: os.environ.get(k) for k in keys}
    yield
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

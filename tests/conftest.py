"""Shared fixtures: the project environment, small generated shops, throw-away and trained projects.

The trained projects are defined here, not in ``tests/integration/conftest.py``: a fixture imported into
another folder's conftest is a second fixture with its own cache, and the reliability tests trained the
same project again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from tasks.env import apply_project_environment
from tests.integration.conftest import copy_project, light_params, run_segmint

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Prefect and MLflow read their settings at import: the environment is set before any test imports them.
# One Prefect home per pytest-xdist worker: two temporary servers on one SQLite file lock each other.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
os.environ.setdefault("PREFECT_HOME", str(ROOT / f".prefect-tests{WORKER}"))
apply_project_environment(ROOT)


def unavailable(message: str) -> NoReturn:
    """Stop a test whose data or service is missing: a failure under CI (``CI=true``), a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}: CI must provide it")
    pytest.skip(message)


def shared_data_dir() -> Path:
    """../shared/data; missing, a failure under CI and a clear skip in a fresh clone without it."""
    if not SHARED_DATA.is_dir():
        unavailable("../shared/data not present (real datasets are only beside the CI checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _one_prefect_server(request, tmp_path_factory):
    """One Prefect server for every ``segmint`` command the session starts, as a deployment has.

    Without ``PREFECT_API_URL`` each command starts Prefect's temporary API server: 11 s here, and 25 s
    in a project whose Prefect database does not exist yet, which was a third of the suite's time. A
    session of unit tests only (no commands) starts none. ``run_segmint(..., own_prefect=True)`` still
    runs a command on its temporary server, the default a user gets.
    """
    unit_only = all(Path(item.path).parent.name == "unit" for item in request.session.items)
    if os.environ.get("PREFECT_API_URL") or unit_only:
        yield
        return
    from infra.services import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as server:
        os.environ["PREFECT_API_URL"] = server.api_url
        try:
            yield
        finally:
            os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def small_shop():
    """A 2,000-customer generated shop (tables + truth), shared by the whole session."""
    from segmint.generate import generate_shop
    from segmint.settings import GenerateSettings

    return generate_shop(GenerateSettings(customers=2_000, seed=3))


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory) -> Path:
    """A 2,000-customer generated shop with three campaign waves, in the canonical layout (with truth/).

    Three waves give the uplift stage an untouched test part (the latest wave) large enough for the
    planted effect to clear random targeting with a paired interval, which a first uplift model must do
    to be promoted; one wave of 1,500 customers left too few rows for that.
    """
    from segmint.generate import generate_shop
    from segmint.settings import GenerateSettings
    from tasks.io import write_parquet, write_tables
    from tasks.paths import ProjectPaths

    out = tmp_path_factory.mktemp("shop")
    shop = generate_shop(GenerateSettings(customers=2_000, seed=5, waves=3))
    write_tables(out, shop.tables, ProjectPaths(out))
    for name, frame in shop.truth.items():
        write_parquet(out / "truth" / f"{name}.parquet", frame)
    return out


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory, shop_dir) -> Path:
    """A project that ingested the small shop and ran `segmint train` once (shared, read-only)."""
    project = tmp_path_factory.mktemp("trained")
    light_params(project / "params.yaml")
    ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(shop_dir))
    assert ingest.returncode == 0, ingest.stderr + ingest.stdout
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:]
    return project


@pytest.fixture(scope="session")
def retrained_project(tmp_path_factory, trained_project) -> Path:
    """A copy of the trained project that ran `segmint train` a second time on the same data (shared,
    read-only): the gate's decisions between the first champions and their same-data challengers."""
    project = copy_project(trained_project, tmp_path_factory.mktemp("retrained") / "project")
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-2000:]
    return project


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

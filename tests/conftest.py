"""Shared fixtures: the project environment, small generated shops, throw-away and trained projects.

The trained projects are defined here, not in ``tests/integration/conftest.py``: a fixture imported into
another folder's conftest is a second fixture with its own cache, and the reliability tests trained the
same project again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
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


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``build(folder)`` once per test run and shared by every worker.

    Under pytest-xdist each worker has its own session, so a session fixture would be built once per
    worker: the first worker that needs it builds it under a file lock, the others wait and read it.
    """
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if WORKER else base  # the run's folder, above the workers' own
    folder, done = root / name, root / f"{name}.built"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            done.touch()
    return folder


def pytest_configure(config: pytest.Config) -> None:
    """One Prefect server for every ``segmint`` command of the test run, as a deployment has one.

    Without ``PREFECT_API_URL`` each command starts a temporary server of its own: 8 s here, more in a
    project whose Prefect database does not exist yet, for each of about a hundred commands. Started
    here, in the controlling process before any pytest-xdist worker, every worker inherits its address,
    and a project trained on one worker has its flow runs on the same server as the tests reading them
    on another. A run of unit tests only (no commands) starts none. ``run_segmint(..., own_prefect=True)``
    still runs a command on its own temporary server, the default a user gets.
    """
    if WORKER or os.environ.get("PREFECT_API_URL") or config.option.collectonly or _unit_tests_only(config):
        return
    from infra.services import prefect_server

    stack = contextlib.ExitStack()
    home = Path(tempfile.mkdtemp(prefix="segmint-tests-prefect-"))
    server = stack.enter_context(prefect_server(home))
    stack.callback(shutil.rmtree, home, ignore_errors=True)
    os.environ["PREFECT_API_URL"] = server.api_url
    config.stash[_SERVER] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_SERVER, None)
    if stack is not None:
        os.environ.pop("PREFECT_API_URL", None)
        stack.close()


_SERVER = pytest.StashKey[contextlib.ExitStack]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with slow tests first, those that do not read the shared trained project before those that
    do; each file's own order is kept. pytest-xdist hands out whole files in this order: the long ones
    start at once, while the first of them to need the trained project builds it, and the many short
    files fill the gaps at the end instead of one long file running alone."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    trained = {item.path for item in items if _SHARED_PROJECTS & set(getattr(item, "fixturenames", ()))}
    items[:] = sorted(items, key=lambda item: (item.path not in slow, item.path in trained))


_SHARED_PROJECTS = {"trained_project", "retrained_project", "fresh_copy"}


def _unit_tests_only(config: pytest.Config) -> bool:
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args] or [ROOT / "tests"]
    return all((ROOT / "tests" / "unit") in (path, *path.parents) for path in paths)


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

    def build(out: Path) -> None:
        from segmint.generate import generate_shop
        from segmint.settings import GenerateSettings
        from tasks.io import write_parquet, write_tables
        from tasks.paths import ProjectPaths

        shop = generate_shop(GenerateSettings(customers=2_000, seed=5, waves=3))
        write_tables(out, shop.tables, ProjectPaths(out))
        for name, frame in shop.truth.items():
            write_parquet(out / "truth" / f"{name}.parquet", frame)

    return built_once(tmp_path_factory, "shop", build)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory, shop_dir) -> Path:
    """A project that ingested the small shop and ran `segmint train` once (shared, read-only)."""

    def build(project: Path) -> None:
        light_params(project / "params.yaml")
        ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(shop_dir))
        assert ingest.returncode == 0, ingest.stderr + ingest.stdout
        train = run_segmint(project, "train")
        assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:]

    return built_once(tmp_path_factory, "trained", build)


@pytest.fixture(scope="session")
def retrained_project(tmp_path_factory, trained_project) -> Path:
    """A copy of the trained project that ran `segmint train` a second time on the same data (shared,
    read-only): the gate's decisions between the first champions and their same-data challengers."""

    def build(folder: Path) -> None:
        project = copy_project(trained_project, folder / "project")
        train = run_segmint(project, "train")
        assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-2000:]

    return built_once(tmp_path_factory, "retrained", build) / "project"


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

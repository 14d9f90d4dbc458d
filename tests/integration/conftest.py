"""Integration fixtures: the segmint command in a throw-away project, on a small generated shop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEGMINT = [sys.executable, "-m", "flows.cli"]

# Light settings so a whole training flow takes seconds, not minutes.
LIGHT = {
    "segment": {"k_min": 4, "k_max": 8, "bootstrap_rounds": 1, "sample_size": 3000},
    # the torch candidate still takes part, with a few epochs: quality is tested in tests/model
    "recommend": {"bootstrap_rounds": 20, "torch_max_epochs": 3},
    "uplift": {"bootstrap_rounds": 20},
}


def light_params(target: Path, overrides: dict | None = None) -> None:
    """The repository's params.yaml with the light test settings (and ``overrides``) merged in."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for source in (LIGHT, overrides or {}):
        for section, values in source.items():
            params.setdefault(section, {}).update(values)
    target.write_text(yaml.safe_dump(params, sort_keys=False))


def run_segmint(
    project: Path, *args: str, timeout: int = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the segmint command in ``project``; returns the completed process (never raises on exit code)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("PREFECT_HOME", None)  # each project keeps its own Prefect state
    return subprocess.run(
        [*SEGMINT, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


@pytest.fixture(scope="session")
def shop_dir(tmp_path_factory) -> Path:
    """A 1,500-customer generated shop in the canonical layout (with truth/)."""
    from segmint.generate import generate_shop
    from segmint.settings import GenerateSettings
    from tasks.io import write_parquet, write_tables
    from tasks.paths import ProjectPaths

    out = tmp_path_factory.mktemp("shop")
    shop = generate_shop(GenerateSettings(customers=1_500, seed=5))
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


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".prefect"))
    return target

"""Integration helpers: the light test settings, the segmint command in a throw-away project, copies.

The shared shop and trained projects are fixtures of ``tests/conftest.py``, so that the integration and
reliability tests use one instance of each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SEGMINT = [sys.executable, "-m", "flows.cli"]

# Light settings so a whole training flow takes seconds, not minutes.
LIGHT = {
    "segment": {"k_min": 4, "k_max": 8, "bootstrap_rounds": 1, "sample_size": 3000},
    # the torch candidate still takes part, with a few epochs: quality is tested in tests/model
    "recommend": {"bootstrap_rounds": 20, "torch_max_epochs": 3},
    "uplift": {"bootstrap_rounds": 20},
    # the data summary costs 15 s a gate here; the monitoring tests that read it switch it on
    "monitor": {"summary_report": False},
}


def light_params(target: Path, overrides: dict | None = None) -> None:
    """The repository's params.yaml with the light test settings (and ``overrides``) merged in."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for source in (LIGHT, overrides or {}):
        for section, values in source.items():
            params.setdefault(section, {}).update(values)
    target.write_text(yaml.safe_dump(params, sort_keys=False))


def run_segmint(
    project: Path, *args: str, timeout: int = 600, env: dict | None = None, own_prefect: bool = False
) -> subprocess.CompletedProcess:
    """Run the segmint command in ``project``; returns the completed process (never raises on exit code).

    The command reports to the session's Prefect server (``PREFECT_API_URL``); with ``own_prefect`` it
    starts its own temporary one with its state in the project, as it does for a user without a server.
    """
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("PREFECT_HOME", None)  # without a server, each project keeps its own Prefect state
    if own_prefect:
        full_env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [*SEGMINT, *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def copy_project(source: Path, target: Path) -> Path:
    """A copy of the project ``source`` at ``target`` without its Prefect state; returns ``target``."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".prefect"))
    return target

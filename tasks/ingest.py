"""Ingest: a source (generator, adapter or a canonical folder) → ``data/raw/``, with its provenance."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from segmint.contracts import Tables
from tasks.io import write_json, write_tables
from tasks.paths import ProjectPaths


def write_raw(tables: Tables, source: dict[str, Any], paths: ProjectPaths) -> dict[str, Any]:
    """Replace ``data/raw/`` with ``tables`` and record where they came from."""
    staging = paths.data / ".raw.staging"
    old = paths.data / ".raw.old"
    if old.exists() and not paths.raw.exists():
        # A run killed between the two renames below: .raw.old is the last complete data/raw.
        old.rename(paths.raw)
    if staging.exists():
        shutil.rmtree(staging)
    write_tables(staging, tables, paths)
    counts = {name: int(len(frame)) for name, frame in tables.items()}
    record = {**source, "tables": counts, "ingested_at": pd.Timestamp.now(tz="UTC").isoformat()}
    write_json(staging / "_source.json", record)
    # Swap the folder in two renames so a crash never leaves a half-written data/raw/.
    if old.exists():
        shutil.rmtree(old)
    if paths.raw.exists():
        paths.raw.rename(old)
    staging.rename(paths.raw)
    if old.exists():
        shutil.rmtree(old)
    record["dvc"] = dvc_track(paths.raw, paths)
    return record


def dvc_track(target: Path, paths: ProjectPaths) -> str:
    """``dvc add`` the raw data when the project is a DVC repository; says what happened."""
    if not (paths.root / ".dvc").is_dir():
        return "not a DVC repository: data/raw is not versioned"
    dvc = shutil.which("dvc") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "dvc")
    proc = subprocess.run(
        [dvc, "add", "--quiet", str(target.relative_to(paths.root))],
        cwd=paths.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return f"dvc add failed: {proc.stderr.strip()[-300:]}"
    return "tracked by DVC (data/raw.dvc)"

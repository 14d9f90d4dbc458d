"""A runnable copy of this checkout's project code in another folder (for DVC runs outside the repo)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what `dvc repro` and `segmint` need besides the data: code folders, suites and configuration
PROJECT_CODE: tuple[str, ...] = (
    "segmint",
    "tasks",
    "flows",
    "expectations",
    "dvc.yaml",
    "pyproject.toml",
    ".dvc/config",
    ".dvcignore",
)


def copy_project_code(target: Path, root: Path = ROOT) -> Path:
    """``target`` holding a copy of every :data:`PROJECT_CODE` item that exists under ``root``."""
    for item in PROJECT_CODE:
        source, dest = root / item, target / item
        if not source.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, dest)
    return target

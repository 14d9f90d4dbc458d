"""One way for a benchmark to show its result and write it under ``benchmarks/results/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROJECT_ROOT = RESULTS_DIR.parents[1]


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file, so a crash leaves the old one whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float) + "\n")
    tmp.replace(path)
    return path


def write_result(name: str, result: dict[str, Any], width: int = 20) -> Path:
    """Print ``result`` as a two-column table and write it to ``benchmarks/results/<name>.json``."""
    print(f"{'metric':<{width}} value")
    for key, value in result.items():
        print(f"{key:<{width}} {value}")
    return write_json(RESULTS_DIR / f"{name}.json", result)

"""One way for a benchmark to show its result and write it under ``benchmarks/results/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, result: dict[str, Any], width: int = 20) -> Path:
    """Print ``result`` as a two-column table and write it to ``benchmarks/results/<name>.json``."""
    print(f"{'metric':<{width}} value")
    for key, value in result.items():
        print(f"{key:<{width}} {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path

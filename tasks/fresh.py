"""Fresh inputs for scoring: what a campaign run must rebuild before it plans.

Scoring reads validated tables, features and anomaly flags. When ``data/raw/`` has changed since they
were built (a new delivery, today's new customers), the campaign validates it, builds the features
and scores anomalies with the trained detector before planning; nothing is retrained.

Staleness follows ``make``: an output is stale when it is missing or older than the newest file it is
built from, and everything after a stale step is stale too. A checkout that rewrites modification
times can only cause a needless rebuild, never a skipped one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tasks.features import FEATURES
from tasks.paths import ProjectPaths

SCORING_STEPS: tuple[str, ...] = ("validate", "features", "anomaly_scores")


@dataclass(frozen=True)
class _Step:
    name: str
    inputs: tuple[Path, ...]
    outputs: tuple[Path, ...]


def _files(folder: Path) -> list[Path]:
    """The visible files directly under ``folder`` (none when it does not exist)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]


def _steps(paths: ProjectPaths) -> list[_Step]:
    validated = tuple(p for p in _files(paths.validated) if p.suffix == ".parquet")
    features = paths.features / FEATURES
    return [
        _Step("validate", tuple(_files(paths.raw)), validated),
        _Step("features", validated, (features,)),
        _Step("anomaly_scores", (features,), (paths.anomaly / "anomaly.parquet",)),
    ]


def _newest(files: Iterable[Path]) -> float:
    return max((p.stat().st_mtime_ns for p in files if p.exists()), default=0)


def _is_stale(step: _Step) -> bool:
    if not step.outputs or not all(p.exists() for p in step.outputs):
        return True
    return _newest(step.inputs) > min(p.stat().st_mtime_ns for p in step.outputs)


def stale_scoring_steps(paths: ProjectPaths) -> tuple[str, ...]:
    """The steps of :data:`SCORING_STEPS` to run before scoring, in order; empty when all is fresh.

    Without raw tables there is nothing to refresh from, and nothing is stale.
    """
    if not _files(paths.raw):
        return ()
    steps = _steps(paths)
    for index, step in enumerate(steps):
        if _is_stale(step):
            return tuple(s.name for s in steps[index:])
    return ()

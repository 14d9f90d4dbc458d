"""Evidently's data summary of the current features (``reports/drift/summary.html``), made in the gate
stage or ahead of it in a separate process.

The summary reads only the features file, and its time is Evidently building figures for every
column in Python: about 7.5 s on one core at 100k customers, while the stages between the features
and the gate leave the other core idle for much of theirs (the recommender stage keeps 1.2 of the 2
busy). So a training flow starts it in a separate process, at a lower priority, as soon as the
features are written (:func:`start_ahead`). The gate then takes that report, when it was made from
the very file the gate reads (the same inode, size and modification time, before and after the
process read it) with the same settings, and makes its own otherwise (:func:`write_summary`).
Processes that nothing took are stopped with the flow (:func:`discard_ahead`).

Run as ``python -m tasks.data_summary FEATURES HTML SETTINGS_JSON`` by :func:`start_ahead`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segmint.settings import MonitorSettings, Settings
from tasks.env import TELEMETRY_OFF
from tasks.io import atomic_path, read_parquet
from tasks.paths import ProjectPaths

log = logging.getLogger(__name__)

_HTML, _STAMP, _ERRORS = "summary.html", "stamp.json", "stderr.txt"
# How much lower the separate process runs than the flow: it yields a core the stages want.
_NICENESS = 10


def summary_report(current: pd.DataFrame, settings: MonitorSettings, html_path: Path) -> None:
    """Evidently's data summary (``DataSummaryPreset``) of ``current``, on a seeded sample of at most
    ``monitor.sample_rows`` rows, saved as HTML; with ``monitor.summary_report`` off, none (and no stale
    one)."""
    if not settings.summary_report:
        html_path.unlink(missing_ok=True)
        return
    from evidently import Report
    from evidently.presets import DataSummaryPreset

    rows = current.sample(min(settings.sample_rows, len(current)), random_state=settings.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataSummaryPreset()]).run(current_data=rows, reference_data=None)
    save_html(snapshot, html_path)


def save_html(snapshot: Any, html_path: Path) -> None:
    """An Evidently snapshot saved as HTML at ``html_path``, through a unique temporary with an .html
    ending renamed into place: a killed run keeps the old report."""
    with atomic_path(html_path, suffix=".tmp.html") as tmp:
        snapshot.save_html(str(tmp))


def file_stamp(path: Path) -> list[int]:
    """The inode, size and modification time (ns) of ``path``: a file rewritten in place or replaced
    by a rename gets a new one."""
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


@dataclass(frozen=True)
class _Ahead:
    """A summary started ahead: the settings it runs with, its folder and its process."""

    settings: MonitorSettings
    folder: Path
    process: subprocess.Popen[bytes]


_AHEAD: dict[Path, _Ahead] = {}


def start_ahead(features: Path, settings: MonitorSettings) -> bool:
    """Start the data summary of the features file ``features`` in a separate, lower-priority process,
    for :func:`write_summary` to take later in this process. Nothing starts when the summary is off or
    the file is missing. Returns whether a process started."""
    if not settings.summary_report or not features.exists():
        return False
    key = features.resolve()
    if key in _AHEAD:  # an earlier start for the same file: its report may be of other contents
        _stop(_AHEAD.pop(key))
    folder = Path(tempfile.mkdtemp(prefix="segmint-summary-"))
    with open(folder / _ERRORS, "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(key), str(folder / _HTML), settings.model_dump_json()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, **TELEMETRY_OFF},
        )
    _AHEAD[key] = _Ahead(settings, folder, process)
    return True


def start_for_gate(settings: Settings, paths: ProjectPaths) -> bool:
    """:func:`start_ahead` for the features file the gate stage summarises."""
    from tasks.features import FEATURES  # lazy: the separate process needs none of that stage's imports

    return start_ahead(paths.features / FEATURES, settings.monitor)


def write_summary(current: pd.DataFrame, source: Path, settings: MonitorSettings, html_path: Path) -> None:
    """The data summary of ``current``, the frame read from the features file ``source``, at
    ``html_path`` (:func:`summary_report`): the report :func:`start_ahead` started for ``source`` when
    its process made it from this very file with these settings, else made here."""
    ahead = _AHEAD.pop(source.resolve(), None)
    if ahead is not None:
        try:
            if _taken(ahead, source, settings, html_path):
                return
        finally:
            _stop(ahead)
    summary_report(current, settings, html_path)


def _taken(ahead: _Ahead, source: Path, settings: MonitorSettings, html_path: Path) -> bool:
    """Whether ``ahead``'s report, waited for, is of ``source`` as it is now with ``settings``; it is
    then at ``html_path``."""
    if ahead.settings != settings or not settings.summary_report:
        return False
    if ahead.process.wait() != 0:
        errors = (ahead.folder / _ERRORS).read_text(errors="replace")[-2000:]
        log.warning(
            "the data summary made ahead failed (%s); making it again: %s", ahead.process.returncode, errors
        )
        return False
    stamp = json.loads((ahead.folder / _STAMP).read_text())
    if not source.exists() or stamp != file_stamp(source):
        return False
    with atomic_path(html_path, suffix=".tmp.html") as tmp:
        shutil.copyfile(ahead.folder / _HTML, tmp)
    return True


def _stop(ahead: _Ahead) -> None:
    """Kill ``ahead``'s process if it still runs, and remove its folder."""
    if ahead.process.poll() is None:
        ahead.process.kill()
    ahead.process.wait()
    shutil.rmtree(ahead.folder, ignore_errors=True)


def discard_ahead() -> None:
    """Stop every summary started ahead that nothing took, and remove its files."""
    while _AHEAD:
        _stop(_AHEAD.popitem()[1])


def _main(source: Path, html_path: Path, settings_json: str) -> int:
    """Write the summary of ``source`` to ``html_path`` and the file stamp it was read at beside it;
    1 when the file changed while it was read."""
    os.nice(_NICENESS)
    settings = MonitorSettings.model_validate_json(settings_json)
    before = file_stamp(source)
    current = read_parquet(source)
    if file_stamp(source) != before:
        print(f"{source} changed while it was read", file=sys.stderr)
        return 1
    summary_report(current, settings, html_path)
    (html_path.parent / _STAMP).write_text(json.dumps(before))
    return 0


if __name__ == "__main__":
    sys.exit(_main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))

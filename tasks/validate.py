"""Validate stage: raw tables → validated + quarantined tables, metrics and an HTML report.

The row rules run vectorised in :mod:`segmint.validation`; the reviewed Great Expectations suites
(``tasks/expectations/<table>.json``) then run as one GX checkpoint over every accepted row, thresholds
passed as suite parameters from the ``validate`` settings, and GX builds its Data Docs site under
``reports/data_docs/``. A failing expectation means the rules and the suites disagree: the run stops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from segmint.contracts import TABLE_NAMES, BadInputError, Tables
from segmint.settings import Settings, ValidateSettings
from segmint.validation import ValidationFailure, ValidationResult, assess_tables
from tasks.gx_checkpoint import SUITES, load_suite, run_checkpoint, suites_folder
from tasks.io import atomic_path, read_json, read_tables, write_json, write_parquet, write_tables, write_text
from tasks.paths import ProjectPaths
from tasks.validation_page import render_validation_page

STAGING_PREFIX = ".validating-"

__all__ = ["SUITES", "load_suite", "run_expectation_suites", "run_validate"]


@contextmanager
def staged_tables(tables: Tables, paths: ProjectPaths) -> Iterator[Path]:
    """A temporary folder under ``data/`` holding ``tables`` as parquet files, removed on exit.

    A validate run killed while the folder existed left it behind: it is removed first (the stage
    runs under the project lock, so no live run owns it). Once written, the folder keeps no
    reference to ``tables``, so a caller that drops its own can free them while the folder is used.
    """
    paths.data.mkdir(parents=True, exist_ok=True)
    for stale in paths.data.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=paths.data) as folder:
        write_tables(Path(folder), tables, paths)
        del tables
        yield Path(folder)


def run_expectation_suites(
    tables: Tables, settings: ValidateSettings, docs_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Per-expectation results of the checkpoint over every row of every present table."""
    with tempfile.TemporaryDirectory(prefix="segmint-gx-") as folder:
        staged = Path(folder)
        write_tables(staged, tables, ProjectPaths(staged))
        return run_checkpoint(staged, tables.present(), settings, docs_dir)


def _empty_quarantine(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {**{column: pd.Series(dtype=object) for column in columns}, "rule": pd.Series(dtype=object)}
    )


def run_validate(settings: Settings, paths: ProjectPaths) -> dict:
    """Validate ``data/raw/`` and write validated, quarantine, metrics and report files.

    Returns:
        The summary written to ``metrics/validation.json``.

    Raises:
        BadInputError: on table-level breakage, after the report and metrics (``passed: false``) are
            written; the error names the report.
    """
    cfg = settings.validate_
    report_path = paths.reports / "validation" / "index.html"
    metrics_path = paths.metric("validation")
    source = read_json(paths.raw / "_source.json", None)
    previous = _previous_counts(read_json(metrics_path, {}) or {}, source)
    try:
        raw = read_tables(paths.raw, paths, arrow_strings=True)
    except BadInputError as exc:
        failure = ValidationFailure(exc.table, exc.rule, str(exc), exc.column, exc.count)
        result = ValidationResult(accepted=None, quarantine={}, summary={}, failure=failure)
        _write_outcome(result, [], previous, source, report_path, metrics_path)
        raise failure.error(str(report_path)) from None
    result = assess_tables(raw, cfg, previous)
    # What is left to do needs the raw tables' names and columns only.
    raw_columns = {name: list(frame.columns) for name, frame in raw.items()}
    del raw
    expectations: list[dict[str, Any]] = []
    if result.failure is None and result.accepted is not None:
        accepted_tables = result.accepted.present()
        with staged_tables(result.accepted, paths) as staged:
            # GX reads the staged files: the accepted rows in memory go before it (at 1M customers
            # they held 4 GB under the checkpoint's own copies)
            result = replace(result, accepted=None)
            docs, suites = paths.reports / "data_docs", suites_folder(paths.root)
            expectations = run_checkpoint(staged, accepted_tables, cfg, docs, suites)
            result = _with_expectation_failure(result, expectations)
            if result.failure is None:
                _write_accepted_and_quarantine(raw_columns, staged, result.quarantine, paths)
    metrics = _write_outcome(result, expectations, previous, source, report_path, metrics_path)
    if result.failure is not None:
        raise result.failure.error(str(report_path))
    return metrics


def _previous_counts(last: dict[str, Any], source: Any) -> dict[str, int]:
    """The accepted row counts of the last run, when it read the same source."""
    # Row counts are only comparable within one source: a re-ingest from another source starts afresh.
    same_source = last.get("source") == source
    return (last.get("accepted_counts") or {}) if same_source else {}


def _with_expectation_failure(
    result: ValidationResult, expectations: list[dict[str, Any]]
) -> ValidationResult:
    """``result`` failed on the first broken expectation, or unchanged when none broke."""
    broken = [row for row in expectations if not row["success"]]
    if not broken:
        return result
    first = broken[0]
    failure = ValidationFailure(
        first["table"],
        f"expectation:{first['expectation']}",
        f"accepted rows break a reviewed expectation the row rules do not enforce ({len(broken)} failing)",
        str(first["column"]) if first["column"] else None,
        first["unexpected_count"],
    )
    return replace(result, failure=failure)


def _write_accepted_and_quarantine(
    raw_columns: dict[str, list[str]], staged: Path, quarantine: dict[str, pd.DataFrame], paths: ProjectPaths
) -> None:
    """Move the staged accepted tables in place and write every present table's quarantine.

    ``raw_columns``: each table of the delivery with its columns (an empty quarantine keeps them).
    Validated and quarantine files of tables absent from this delivery are removed.
    """
    paths.validated.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        source, target = paths.table(staged, name), paths.table(paths.validated, name)
        if source.exists():
            with atomic_path(target) as tmp:
                os.replace(source, tmp)
        elif target.exists():
            target.unlink()
    for name, columns in raw_columns.items():
        frame = quarantine.get(name)
        write_parquet(
            paths.table(paths.quarantine, name),
            frame if frame is not None else _empty_quarantine(columns),
        )
    for name in TABLE_NAMES:
        stale = paths.table(paths.quarantine, name)
        if name not in raw_columns and stale.exists():
            stale.unlink()


def _write_outcome(
    result: ValidationResult,
    expectations: list[dict[str, Any]],
    previous: dict[str, int],
    source: Any,
    report_path: Path,
    metrics_path: Path,
) -> dict:
    write_text(report_path, render_validation_page(result, expectations))
    failure = result.failure
    metrics = {
        "passed": result.passed,
        "tables": result.summary,
        # A failed run keeps the last good counts so the next row-count gate compares like with like.
        "accepted_counts": (
            {name: s["accepted"] for name, s in result.summary.items()} if result.passed else dict(previous)
        ),
        "warnings": list(result.warnings),
        "expectations_failed": sum(1 for row in expectations if not row["success"]),
        "expectations_evaluated": len(expectations),
        "failure": None
        if failure is None
        else {
            "table": failure.table,
            "column": failure.column,
            "rule": failure.rule,
            "count": failure.count,
            "detail": failure.detail,
        },
        "report": str(report_path),
        "source": source,
    }
    write_json(metrics_path, metrics)
    return metrics

"""Validate stage: raw tables → validated + quarantined tables, metrics and an HTML report.

The row rules run vectorised in :mod:`segmint.validation`; the reviewed Great Expectations suites in
``expectations/<table>.json`` are then run on a bounded, seeded sample of each accepted table as a
post-condition (a failing expectation means the rules and the suites disagree: the run stops).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task

from segmint.contracts import TABLE_NAMES, BadInputError, Tables
from segmint.settings import Settings, ValidateSettings
from segmint.validation import ValidationFailure, ValidationResult, assess_tables
from tasks.io import read_json, read_tables, write_json, write_parquet, write_tables, write_text
from tasks.paths import ProjectPaths
from tasks.validation_page import render_validation_page

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"


def load_suite(table: str, settings: ValidateSettings, folder: Path = EXPECTATIONS_DIR) -> dict[str, Any]:
    """The suite of ``table`` as a GX suite mapping, thresholds filled from ``settings``.

    An expectation whose ``meta.settings`` maps a keyword to a validate setting takes that setting's
    value, so the suites and ``params.yaml`` never disagree on a threshold.
    """
    if table not in TABLE_NAMES:
        raise ValueError(f"unknown table {table!r}; valid tables: {', '.join(TABLE_NAMES)}")
    suite = json.loads((folder / f"{table}.json").read_text())
    for expectation in suite["expectations"]:
        for kwarg, setting in expectation.get("meta", {}).get("settings", {}).items():
            expectation["kwargs"][kwarg] = getattr(settings, setting)
    return suite


def run_expectation_suites(
    tables: Tables, settings: ValidateSettings, folder: Path = EXPECTATIONS_DIR
) -> list[dict[str, Any]]:
    """Per-expectation results of every present table's suite on a seeded sample of its rows."""
    import logging

    import great_expectations as gx  # heavy import (seconds): only when the suites actually run
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("segmint")
    rows: list[dict[str, Any]] = []
    for name, frame in tables.items():
        suite = context.suites.add(gx.ExpectationSuite(**load_suite(name, settings, folder)))
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        sample = frame
        if len(frame) > settings.gx_sample_rows:
            sample = frame.sample(settings.gx_sample_rows, random_state=settings.seed)
        outcome = definition.run(batch_parameters={"dataframe": sample}, result_format="SUMMARY")
        for expectation_result in outcome.results:
            config = expectation_result.expectation_config
            # GX types the configuration as optional; the results of a suite run always carry it.
            assert config is not None
            rows.append(
                {
                    "table": name,
                    "expectation": config.type,
                    "column": config.kwargs.get("column") or config.kwargs.get("column_list"),
                    "rule": (config.meta or {}).get("rule"),
                    "success": bool(expectation_result.success),
                    "unexpected_count": expectation_result.result.get("unexpected_count"),
                    "element_count": expectation_result.result.get("element_count", len(sample)),
                }
            )
    return rows


def _empty_quarantine(name: str, tables: Tables) -> pd.DataFrame:
    frame = tables.get(name)
    columns = list(frame.columns) if frame is not None else []
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
        raw = read_tables(paths.raw, paths)
    except BadInputError as exc:
        failure = ValidationFailure(exc.table, exc.rule, str(exc), exc.column, exc.count)
        result = ValidationResult(accepted=None, quarantine={}, summary={}, failure=failure)
        _write_outcome(result, [], previous, source, report_path, metrics_path)
        raise failure.error(str(report_path)) from None
    result = assess_tables(raw, cfg, previous)
    expectations: list[dict[str, Any]] = []
    if result.failure is None and result.accepted is not None:
        expectations = run_expectation_suites(result.accepted, cfg)
        result = _with_expectation_failure(result, expectations)
    if result.failure is None and result.accepted is not None:
        _write_accepted_and_quarantine(raw, result.accepted, result.quarantine, paths)
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
    raw: Tables, accepted: Tables, quarantine: dict[str, pd.DataFrame], paths: ProjectPaths
) -> None:
    """Write the accepted tables and every present table's quarantine; drop stale quarantine files."""
    write_tables(paths.validated, accepted, paths)
    for name in raw.present():
        frame = quarantine.get(name)
        write_parquet(
            paths.table(paths.quarantine, name),
            frame if frame is not None else _empty_quarantine(name, raw),
        )
    for name in TABLE_NAMES:
        stale = paths.table(paths.quarantine, name)
        if name not in raw.present() and stale.exists():
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


validate_task = task(name="validate")(run_validate)

"""The data validation page (``reports/validation/index.html``): the verdict first, then per-table
counts, the table-level checks, the expectation results and a sample of each quarantine. The markup is
``tasks/templates/validation.html.j2``; the library only returns the :class:`ValidationResult`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from segmint.validation import ValidationResult
from tasks.pages import MISSING, number, percent, render, table

QUARANTINE_SAMPLE_ROWS = 20
WHOLE_TABLE = "whole table"
CHECK_COLUMNS = ["table", "check", "column", "status", "observed", "threshold"]
EXPECTATION_COLUMNS = {
    "table": "table",
    "expectation": "expectation",
    "column": "column",
    "rule": "rule",
    "success": "success",
    "unexpected_count": "unexpected",
    "element_count": "rows checked",
}


def _counts(counts: dict[str, Any]) -> str:
    return "; ".join(f"{name}: {number(count)}" for name, count in counts.items()) or "none"


def tables_frame(summary: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Per table: rows read, accepted, quarantined (count and share), unattributed, rules and repairs."""
    return pd.DataFrame(
        [
            {
                "table": name,
                "input": counts.get("input"),
                "accepted": counts.get("accepted"),
                "quarantined": counts.get("quarantined"),
                "quarantined share": (
                    counts["quarantined"] / counts["input"] if counts.get("input") else None
                ),
                "unattributed": counts.get("unattributed"),
                "rules": _counts(counts.get("rules", {})),
                "repairs": _counts(counts.get("repairs", {})),
            }
            for name, counts in summary.items()
        ]
    )


def expectations_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The expectation results with reader-facing headers; a missing field reads "not measured"."""
    frame = pd.DataFrame([{key: row.get(key) for key in EXPECTATION_COLUMNS} for row in rows])
    frame["column"] = frame["column"].astype(object).where(frame["column"].notna(), WHOLE_TABLE)
    return frame.rename(columns=EXPECTATION_COLUMNS)


def checks_frame(checks: list[dict[str, Any]]) -> pd.DataFrame:
    """The table-level checks; a share check's observed value and threshold as percentages."""
    rows = []
    for check in checks:
        row = {column: check.get(column) for column in CHECK_COLUMNS}
        if str(row["check"]).endswith("_share"):
            row["observed"], row["threshold"] = percent(row["observed"]), percent(row["threshold"])
        row["column"] = row["column"] or WHOLE_TABLE
        rows.append(row)
    return pd.DataFrame(rows)


def totals_text(summary: dict[str, dict[str, Any]]) -> str:
    """All tables together in a sentence: rows read, accepted and quarantined."""
    if not summary:
        return "no table could be read"
    read = sum(int(s.get("input") or 0) for s in summary.values())
    accepted = sum(int(s.get("accepted") or 0) for s in summary.values())
    quarantined = sum(int(s.get("quarantined") or 0) for s in summary.values())
    share = percent(quarantined / read) if read else MISSING
    return (
        f"{number(read)} rows read in {number(len(summary))} tables, {number(accepted)} accepted, "
        f"{number(quarantined)} quarantined ({share})"
    )


def render_validation_page(
    result: ValidationResult, expectation_results: list[dict] | None = None, title: str = "Validation report"
) -> str:
    """The validation page for ``result``: every value escaped, numbers formatted for people.

    Args:
        result: the validation outcome.
        expectation_results: per-expectation rows from the suites (``table``, ``expectation``,
            ``column``, ``rule``, ``success``, ``unexpected_count``, ``element_count``).
        title: the page title.
    """
    failure = result.failure
    checks = checks_frame(result.checks)
    quarantine = [
        (name, table(frame, QUARANTINE_SAMPLE_ROWS, percent_columns=()))
        for name, frame in result.quarantine.items()
        if len(frame)
    ]
    return str(
        render(
            "validation.html.j2",
            title=title,
            status="PASSED" if result.passed else "FAILED",
            totals=totals_text(result.summary),
            failure=None
            if failure is None
            else {
                "table": failure.table,
                "column": failure.column or "all columns",
                "rule": failure.rule,
                "count": number(failure.count, "not counted"),
                "detail": failure.detail,
            },
            warnings=list(result.warnings),
            tables=table(tables_frame(result.summary)),
            checks=table(checks if len(checks) else None, 500, missing="not applicable"),
            expectations=table(
                expectations_frame(expectation_results or []) if expectation_results else None,
                500,
                missing="not measured",
            ),
            quarantine=quarantine,
        )
    )

"""Report: one HTML page for reviewers; every value that came from data is escaped."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from segmint.settings import Settings
from tasks import tracking
from tasks.io import read_json, write_text
from tasks.paths import ProjectPaths

STAGE_METRICS = ("validation", "features", "segment", "anomaly", "recommend", "uplift", "evaluate", "campaign")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(frame: pd.DataFrame, max_rows: int = 50) -> str:
    if frame is None or not len(frame):
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.head(max_rows).iterrows():
        cells = "".join(f"<td>{_e(_fmt(v))}</td>" for v in row.tolist())
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _kv(data: dict[str, Any]) -> str:
    flat = tracking.flat_params(data)
    frame = pd.DataFrame({"key": list(flat), "value": list(flat.values())})
    return _table(frame, max_rows=200)


def report_sections(paths: ProjectPaths) -> list[tuple[str, str]]:
    """(title, html) sections built from the stage metrics and outputs."""
    sections: list[tuple[str, str]] = []
    gate = read_json(paths.metric("gate"), {})
    if gate:
        rows = [
            {"model": k, "decision": v.get("decision"), "reasons": "; ".join(v.get("reasons", []))}
            for k, v in gate.items()
        ]
        sections.append(("Promotion decisions", _table(pd.DataFrame(rows))))
    drift = read_json(paths.metric("drift"), {})
    if drift:
        summary = {k: drift.get(k) for k in ("drift_detected", "drifted_share", "drifted_columns", "note")}
        sections.append(("Data drift", _kv({k: v for k, v in summary.items() if v is not None})))
    profiles = paths.segments / "profiles.parquet"
    if profiles.exists():
        sections.append(("Segment profiles", _table(pd.read_parquet(profiles))))
    plan = paths.outputs / "campaign_plan.parquet"
    if plan.exists():
        frame = pd.read_parquet(plan)
        by = frame.groupby(["group", frame["offer"].fillna("(none)")]).agg(
            customers=("customer_id", "size"), expected_incremental_profit=("expected_incremental_profit", "sum")
        )
        sections.append(("Campaign plan", _table(by.reset_index())))
    for stage in STAGE_METRICS:
        data = read_json(paths.metric(stage), None)
        if data:
            sections.append((f"Stage metrics: {stage}", _kv(data)))
    return sections


def render_report(sections: list[tuple[str, str]], title: str) -> str:
    body = "".join(f"<section><h2>{_e(t)}</h2>{content}</section>" for t, content in sections)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}"
        "table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .4rem}"
        "th{background:#f3f3f3}.muted{color:#777}</style></head>"
        f"<body><h1>{_e(title)}</h1>{body}</body></html>"
    )


def run_report(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    import mlflow

    target = paths.reports / "report.html"
    sections = report_sections(paths)
    write_text(target, render_report(sections, f"{settings.project.name} — review report"))
    mlflow.log_artifact(str(target), artifact_path="reports")
    return {"report": str(target.relative_to(paths.root)), "sections": len(sections)}

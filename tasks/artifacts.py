"""Prefect artifacts of a training flow run: the gate's decisions, the candidate tables, the links.

Everything is read from what the stages already wrote (``metrics/*.json``, ``data/segments/``), so a run
of only some stages publishes what it has. The keys are the project's name and what the artifact holds,
lowercase with dashes (Prefect keeps each key's versions across runs); they are also recorded as the
``prefect.artifacts`` tag of the flow's MLflow run, beside ``prefect.flow_run_id``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import mlflow
import pandas as pd
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from segmint.settings import Settings
from tasks.io import read_json
from tasks.paths import ProjectPaths
from tasks.runlog import run_logger, slug
from tasks.tracking import tracking_uri

# Where `mlflow ui` listens by default: the link for a local (SQLite) tracking store.
LOCAL_MLFLOW_UI = "http://127.0.0.1:5000"


def artifact_key(settings: Settings, what: str) -> str:
    """``<project name>-<what>``, lowercase letters, digits and dashes only (Prefect's rule for keys)."""
    return slug(f"{settings.project.name}-{what}", limit=100)


def gate_markdown(decisions: Mapping[str, Mapping[str, Any]]) -> str:
    """The gate's decision per model kind with its reasons, as a markdown table."""
    lines = ["# Promotion decisions", "", "| model | decision | reasons |", "| --- | --- | --- |"]
    for kind, decision in decisions.items():
        reasons = "<br>".join(str(r).replace("|", "\\|") for r in decision.get("reasons", []))
        lines.append(f"| {kind} | **{decision.get('decision', '?')}** | {reasons} |")
    return "\n".join(lines) + "\n"


def _readable(value: Any) -> Any:
    """Floats to 4 significant decimals, NaN to None; anything else unchanged."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def candidate_tables(paths: ProjectPaths) -> dict[str, list[dict[str, Any]]]:
    """The candidates each model stage compared, per model kind (kinds without a table are left out)."""
    uplift = read_json(paths.metric("uplift"), {})
    clv = uplift.get("clv") if isinstance(uplift.get("clv"), Mapping) else {}
    found: dict[str, Any] = {
        "recommender": read_json(paths.metric("recommend"), {}).get("candidates"),
        "uplift": uplift.get("candidates"),
        "clv": clv.get("candidates"),
    }
    selection = paths.segments / "selection.parquet"
    if selection.exists():
        found["segmenter"] = pd.read_parquet(selection).to_dict(orient="records")
    return {
        kind: [{str(k): _readable(v) for k, v in row.items()} for row in rows]
        for kind, rows in sorted(found.items())
        if isinstance(rows, list) and rows and all(isinstance(row, Mapping) for row in rows)
    }


def mlflow_run_url(settings: Settings, paths: ProjectPaths, experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of a run: on the tracking server (credentials left out) or the local UI."""
    parts = urlsplit(tracking_uri(settings, paths))
    base = LOCAL_MLFLOW_UI
    if parts.scheme in {"http", "https"}:
        host = parts.netloc.rpartition("@")[2]  # never a user name or password in a link
        base = urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/")
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def publish_training_artifacts(settings: Settings, paths: ProjectPaths, mlflow_run_id: str) -> list[str]:
    """Create the artifacts of the current training flow run; returns their keys.

    Must run inside the flow run (the artifacts belong to it) and inside its MLflow parent run, which
    gets the Prefect flow run id and the artifact keys as tags.
    """
    log = run_logger("segmint.artifacts")
    keys: list[str] = []
    decisions = read_json(paths.metric("gate"), {})
    if decisions and not decisions.get("skipped"):
        for kind, decision in decisions.items():
            reasons = "; ".join(decision.get("reasons", []))
            log.info("gate: %s %s: %s", kind, decision.get("decision"), reasons)
        keys.append(artifact_key(settings, "gate-decisions"))
        create_markdown_artifact(gate_markdown(decisions), key=keys[-1], description="the gate's decisions")
    for kind, rows in candidate_tables(paths).items():
        keys.append(artifact_key(settings, f"{kind}-candidates"))
        create_table_artifact(rows, key=keys[-1], description=f"the {kind} candidates compared")
    report = paths.reports / "report.html"
    if report.exists():
        keys.append(artifact_key(settings, "report"))
        create_link_artifact(report.as_uri(), "reviewer report", key=keys[-1], description=str(report))
    experiment_id = mlflow.get_run(mlflow_run_id).info.experiment_id
    keys.append(artifact_key(settings, "mlflow-run"))
    url = mlflow_run_url(settings, paths, experiment_id, mlflow_run_id)
    create_link_artifact(url, "MLflow parent run", key=keys[-1], description=f"MLflow run {mlflow_run_id}")
    mlflow.set_tags({"prefect.flow_run_id": str(flow_run.id or ""), "prefect.artifacts": ",".join(keys)})
    return keys

"""Data drift with Evidently: reference (the champion's training data) against current data."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

MAX_ROWS = 20_000
_P_VALUE_METHODS = ("p_value", "K-S", "chi-square", "Z-test", "Fisher", "Anderson", "Cramer", "Epps")


def _column_drifted(method: str, value: float, threshold: float) -> bool:
    # Evidently reports p-values for statistical tests (drift when small) and distances otherwise.
    if any(m.lower() in method.lower() for m in _P_VALUE_METHODS) and "distance" not in method.lower():
        return value < threshold
    return value >= threshold


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    share_threshold: float,
    html_path: Path | None,
    seed: int = 0,
) -> dict[str, Any]:
    """Evidently's data drift over the columns both frames share.

    Returns:
        ``drift_detected``, ``drifted_share``, ``drifted_columns`` and per-column statistics; the
        HTML report is saved at ``html_path`` when given.
    """
    from evidently import Report
    from evidently.presets import DataDriftPreset

    columns = sorted(
        c
        for c in set(reference.columns) & set(current.columns)
        if c != "customer_id" and pd.api.types.is_numeric_dtype(reference[c])
    )
    if not columns:
        return {"drift_detected": False, "drifted_share": 0.0, "drifted_columns": [], "columns": {}}
    ref = reference[columns].sample(min(MAX_ROWS, len(reference)), random_state=seed)
    cur = current[columns].sample(min(MAX_ROWS, len(current)), random_state=seed)
    # Constant columns make the tests degenerate; they cannot drift in a way that matters here.
    varying = [c for c in columns if ref[c].nunique() > 1 or cur[c].nunique() > 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshot = Report([DataDriftPreset()]).run(current_data=cur[varying], reference_data=ref[varying])
    per_column: dict[str, Any] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        value = float(metric["value"])
        method, threshold = str(config.get("method", "")), float(config.get("threshold", 0.1))
        per_column[str(config["column"])] = {
            "method": method,
            "statistic": value,
            "threshold": threshold,
            "drifted": _column_drifted(method, value, threshold),
            "reference_mean": float(ref[config["column"]].mean()),
            "current_mean": float(cur[config["column"]].mean()),
        }
    drifted = sorted(c for c, s in per_column.items() if s["drifted"])
    share = len(drifted) / max(len(columns), 1)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = html_path.with_suffix(".tmp.html")
        snapshot.save_html(str(tmp))
        tmp.replace(html_path)
    return {
        "drift_detected": bool(share >= share_threshold),
        "drifted_share": float(share),
        "drifted_columns": drifted,
        "share_threshold": share_threshold,
        "n_columns": len(columns),
        "reference_rows": int(len(ref)),
        "current_rows": int(len(cur)),
        "columns": per_column,
    }

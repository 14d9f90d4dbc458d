"""Anomaly: isolation forest and rules over customer features; flagged customers are listed."""

from __future__ import annotations

from typing import Any

from segmint.anomaly import fit_anomaly_detector
from segmint.settings import Settings
from tasks.features import FEATURES
from tasks.io import read_parquet, write_json, write_parquet, write_pickle
from tasks.paths import ProjectPaths

REVIEW_LIST_ROWS = 500


def run_anomaly(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    features = read_parquet(paths.features / FEATURES)
    detector = fit_anomaly_detector(features, settings.anomaly)
    scores = detector.score(features)
    write_pickle(paths.models / "anomaly" / "detector.pkl", detector)
    write_parquet(paths.anomaly / "anomaly.parquet", scores)
    flagged = scores[scores["is_anomalous"]].sort_values("anomaly_score", ascending=False)
    write_parquet(paths.anomaly / "review_list.parquet", flagged.head(REVIEW_LIST_ROWS))
    reasons: dict[str, int] = {}
    if "anomaly_reasons" in flagged.columns:
        for value in flagged["anomaly_reasons"].dropna():
            for reason in str(value).split(";"):
                if reason:
                    reasons[reason] = reasons.get(reason, 0) + 1
    result = {
        "customers": int(len(scores)),
        "flagged": int(len(flagged)),
        "flagged_share": float(len(flagged) / max(len(scores), 1)),
        "reasons": reasons,
    }
    write_json(paths.metric("anomaly"), result)
    return result

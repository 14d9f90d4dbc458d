"""Anomaly: isolation forest and population-ranked signals over customer features; flagged customers
are listed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from segmint.anomaly import fit_anomaly_detector, reason_counts
from segmint.settings import Settings
from tasks import tracking
from tasks.features import FEATURES
from tasks.figures import score_histogram_figure
from tasks.io import read_parquet, read_pickle, write_json, write_parquet, write_pickle
from tasks.paths import ProjectPaths

REVIEW_LIST_ROWS = 500
DETECTOR = "anomaly/detector.pkl"  # under models/


def run_anomaly(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Fit the anomaly detector on the features, score every customer and list the flagged ones.

    Args:
        settings: The project settings (``anomaly`` section).
        paths: Where the features are read and the detector, scores and review list are written.

    Returns:
        The stage metrics: customers, flagged count and share, flags per reason, the flag threshold
        and what the signals learned from these customers (centres, spreads, the return prior).
    """
    features = read_parquet(paths.features / FEATURES)
    detector = fit_anomaly_detector(features, settings.anomaly)
    scores = detector.score(features)
    write_pickle(paths.models / DETECTOR, detector)
    write_parquet(paths.anomaly / "anomaly.parquet", scores)
    tracking.log_figure(
        score_histogram_figure(scores["anomaly_score"], detector.threshold), "figures/anomaly_scores.png"
    )
    flagged = scores[scores["is_anomalous"]].sort_values("anomaly_score", ascending=False)
    write_parquet(paths.anomaly / "review_list.parquet", flagged.head(REVIEW_LIST_ROWS))
    result = {
        "customers": int(len(scores)),
        "flagged": int(len(flagged)),
        "flagged_share": float(len(flagged) / max(len(scores), 1)),
        "reasons": reason_counts(flagged),
        "threshold": detector.threshold,
        "signals": asdict(detector.signals),
    }
    write_json(paths.metric("anomaly"), result)
    return result


def run_anomaly_scoring(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Score every customer of the current features with the detector of the last training (no refit).

    Writes the same ``data/anomaly/`` files as the stage, so customers who arrived since the training
    get a flag. Without a trained detector nothing is written.

    Returns:
        ``customers``, ``flagged`` and ``flagged_share`` with the detector's threshold, or ``skipped``
        with the reason.
    """
    detector_file = paths.models / DETECTOR
    if not detector_file.exists():
        return {"skipped": f"no trained anomaly detector at {detector_file.relative_to(paths.root)}"}
    detector = read_pickle(detector_file, root=paths.models)
    scores = detector.score(read_parquet(paths.features / FEATURES))
    write_parquet(paths.anomaly / "anomaly.parquet", scores)
    flagged = scores[scores["is_anomalous"]].sort_values("anomaly_score", ascending=False)
    write_parquet(paths.anomaly / "review_list.parquet", flagged.head(REVIEW_LIST_ROWS))
    return {
        "customers": int(len(scores)),
        "flagged": int(len(flagged)),
        "flagged_share": float(len(flagged) / max(len(scores), 1)),
        "threshold": detector.threshold,
    }

"""Drift with Evidently: the champion's training data (reference) against the current data.

Two reports: data drift of the customer features, and prediction drift — the champions' outputs on
the reference customers against their outputs on the current ones (segment shares, uplift score
distributions, recommendation coverage). Both land in ``metrics/drift.json`` and ``reports/drift/``.
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from prefect import task

from segmint.gate import catalogue_coverage, retraining_needed, share_shift
from segmint.settings import Settings
from tasks import tracking
from tasks.features import FEATURES
from tasks.io import read_parquet, write_json, write_text
from tasks.paths import ProjectPaths

MAX_ROWS = 20_000
RECOMMEND_SAMPLE = 2_000
_P_VALUE_METHODS = ("p_value", "K-S", "chi-square", "Z-test", "Fisher", "Anderson", "Cramer", "Epps")
FEATURES_HTML, PREDICTIONS_HTML = "features.html", "predictions.html"


def _column_drifted(method: str, value: float, threshold: float) -> bool:
    # Evidently reports p-values for statistical tests (drift when small) and distances otherwise.
    if any(m.lower() in method.lower() for m in _P_VALUE_METHODS) and "distance" not in method.lower():
        return value < threshold
    return value >= threshold


def _save_html(snapshot: Any, html_path: Path) -> None:
    from tasks.io import atomic_path

    # A unique temporary with an .html ending, renamed into place: a killed run keeps the old report.
    with atomic_path(html_path, suffix=".tmp.html") as tmp:
        snapshot.save_html(str(tmp))


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    share_threshold: float,
    html_path: Path | None,
    seed: int = 0,
    categorical: tuple[str, ...] = (),
    max_rows: int = MAX_ROWS,
) -> dict[str, Any]:
    """Evidently's data drift over the numeric (and the named categorical) columns both frames share.

    Returns:
        ``drift_detected``, ``drifted_share``, ``drifted_columns`` and per-column statistics
        (method, statistic, threshold, drifted, reference/current mean or top category); the HTML
        report is saved at ``html_path`` when given.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    shared = set(reference.columns) & set(current.columns)
    numeric = sorted(
        c
        for c in shared
        if c != "customer_id"
        and c not in categorical
        and pd.api.types.is_numeric_dtype(reference[c])
        and pd.api.types.is_numeric_dtype(current[c])
    )
    cats = sorted(c for c in categorical if c in shared)
    columns = numeric + cats
    empty = {
        "drift_detected": False,
        "drifted_share": 0.0,
        "drifted_columns": [],
        "columns": {},
        "n_columns": 0,
    }
    if not columns or not len(reference) or not len(current):
        return empty
    ref = reference[columns].sample(min(max_rows, len(reference)), random_state=seed)
    cur = current[columns].sample(min(max_rows, len(current)), random_state=seed)
    ref = ref.assign(**{c: ref[c].astype(float) for c in numeric}, **{c: ref[c].astype(str) for c in cats})
    cur = cur.assign(**{c: cur[c].astype(float) for c in numeric}, **{c: cur[c].astype(str) for c in cats})
    # Constant columns make the tests degenerate; they cannot drift in a way that matters here.
    varying = [c for c in columns if ref[c].nunique() > 1 or cur[c].nunique() > 1]
    if not varying:
        return {**empty, "n_columns": len(columns)}
    definition = DataDefinition(
        numerical_columns=[c for c in varying if c in numeric],
        categorical_columns=[c for c in varying if c in cats],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The preset's own table renders every column's plots a second time: the metrics alone give
        # the same tests and per-column plots in half the time.
        metrics = [DriftedColumnsCount(), *[ValueDrift(column=c) for c in varying]]
        snapshot = Report(metrics).run(
            current_data=Dataset.from_pandas(cur[varying], data_definition=definition),
            reference_data=Dataset.from_pandas(ref[varying], data_definition=definition),
        )
    per_column: dict[str, Any] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        column = str(config["column"])
        value = float(metric["value"])
        method, threshold = str(config.get("method", "")), float(config.get("threshold", 0.1))
        stats: dict[str, Any] = {
            "method": method,
            "statistic": value,
            "threshold": threshold,
            "drifted": _column_drifted(method, value, threshold),
        }
        if column in numeric:
            stats.update(reference_mean=float(ref[column].mean()), current_mean=float(cur[column].mean()))
        else:
            stats.update(
                reference_top=str(ref[column].mode().iat[0]), current_top=str(cur[column].mode().iat[0])
            )
        per_column[column] = stats
    drifted = sorted(c for c, s in per_column.items() if s["drifted"])
    share = len(drifted) / max(len(columns), 1)
    if html_path is not None:
        _save_html(snapshot, html_path)
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


def champion_reference(settings: Settings) -> tuple[str | None, pd.DataFrame | None, str | None]:
    """(champion segmenter version, the features it was trained on, note when either is missing)."""
    version = tracking.alias_version(settings, "segmenter", tracking.CHAMPION)
    if version is None:
        return None, None, "no champion yet: nothing to compare against"
    run_id = tracking.version_run_id(settings, "segmenter", version)
    reference = tracking.load_run_frame(run_id, "reference/features.parquet")
    if reference is None:
        return version, None, f"champion segmenter version {version} has no reference data"
    return version, reference, None


def with_model_columns(features: pd.DataFrame, columns: Any) -> tuple[pd.DataFrame, list[str]]:
    """``features`` plus any of the model's ``columns`` it lacks, as zeros, and the names added.

    New data can lack a one-hot or category-share column the champion was fitted on (a category
    no customer bought this period): its value is then 0 for everyone, not unknown.
    """
    missing = [c for c in (columns or ()) if c not in features.columns]
    if not missing:
        return features, []
    return features.assign(**{c: 0.0 for c in missing}), missing


def _segment_of(assigned: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": assigned["customer_id"].astype(str), "segment": assigned["segment_name"].astype(str)}
    ).drop_duplicates("customer_id")


def _uplift_wide(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    scores = model.predict(with_model_columns(features, getattr(model, "feature_columns", ()))[0])
    wide = scores.pivot_table(index="customer_id", columns="offer", values="uplift", aggfunc="first")
    wide.columns = [f"uplift_{c}" for c in wide.columns]
    return wide.reset_index().astype({"customer_id": str})


def prediction_drift(
    settings: Settings, reference: pd.DataFrame, current: pd.DataFrame, html_path: Path | None
) -> dict[str, Any]:
    """The champions' outputs on the reference customers against their outputs on the current ones.

    Returns:
        ``segments`` (shares on both sides, PSI, total variation), ``uplift`` (per offer: Evidently
        drift of the score distribution, reference/current means), ``recommendations`` (catalogue
        coverage on both sides) and ``evidently`` (drift over all prediction columns); parts whose
        champion is missing carry a ``note`` instead.
    """
    gate = settings.gate
    out: dict[str, Any] = {}
    ref_pred = reference[["customer_id"]].astype({"customer_id": str})
    cur_pred = current[["customer_id"]].astype({"customer_id": str})
    categorical: tuple[str, ...] = ()
    segmenter = tracking.load_alias(settings, "segmenter", tracking.CHAMPION)
    if segmenter is not None:
        columns = getattr(segmenter.segmenter, "feature_columns", ())
        ref_seg = segmenter.segmenter.assign(with_model_columns(reference, columns)[0])
        current_aligned, filled = with_model_columns(current, columns)
        cur_seg = segmenter.segmenter.assign(current_aligned)
        shift = share_shift(ref_seg["segment_name"], cur_seg["segment_name"])
        out["segments"] = {
            "psi": shift.psi,
            "total_variation": shift.total_variation,
            "threshold": gate.prediction_psi_threshold,
            "drifted": bool(shift.psi >= gate.prediction_psi_threshold),
            "shares": shift.shares.to_dict(orient="records"),
            "columns_filled_with_zero": filled,
        }
        ref_pred = ref_pred.merge(_segment_of(ref_seg), on="customer_id", how="left")
        cur_pred = cur_pred.merge(_segment_of(cur_seg), on="customer_id", how="left")
        categorical = ("segment",)
    else:
        out["segments"] = {"note": "no champion segmenter"}
    uplift = tracking.load_alias(settings, "uplift", tracking.CHAMPION)
    if uplift is not None:
        try:
            ref_pred = ref_pred.merge(
                _uplift_wide(uplift.uplift_model, reference), on="customer_id", how="left"
            )
            cur_pred = cur_pred.merge(
                _uplift_wide(uplift.uplift_model, current), on="customer_id", how="left"
            )
        except ValueError as exc:  # the reference lacks a column the champion needs
            out["uplift"] = {"note": str(exc)}
    else:
        out["uplift"] = {"note": "no champion uplift model"}
    recommender = tracking.load_alias(settings, "recommender", tracking.CHAMPION)
    if recommender is not None:
        model = recommender.recommender
        n_items = len(getattr(model, "item_ids_", []))
        coverage = {}
        for side, frame in (("reference", reference), ("current", current)):
            ids = (
                frame["customer_id"]
                .astype(str)
                .sample(min(RECOMMEND_SAMPLE, len(frame)), random_state=gate.seed)
                .tolist()
            )
            recs = model.recommend(ids, settings.recommend.top_n)
            coverage[side] = catalogue_coverage(recs["recommended_product_ids"], n_items)
        out["recommendations"] = {
            "reference_coverage": coverage["reference"],
            "current_coverage": coverage["current"],
            "change": coverage["current"] - coverage["reference"],
            "customers_sampled": min(RECOMMEND_SAMPLE, len(current)),
        }
    else:
        out["recommendations"] = {"note": "no champion recommender"}
    report = drift_report(
        ref_pred,
        cur_pred,
        gate.drift_share_threshold,
        html_path,
        gate.seed,
        categorical,
        gate.drift_sample_rows,
    )
    out["evidently"] = {k: report[k] for k in ("drifted_share", "drifted_columns", "columns") if k in report}
    if "uplift" not in out:
        out["uplift"] = {
            c.removeprefix("uplift_"): s
            for c, s in report.get("columns", {}).items()
            if c.startswith("uplift_")
        }
    return out


def drift_findings(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Feature and prediction drift of the project's current features against the champion's reference.

    ``drift_detected`` is true when the share of drifted feature columns reaches
    ``gate.drift_share_threshold`` or the segment shares moved past ``gate.prediction_psi_threshold``.
    """
    version, reference, note = champion_reference(settings)
    drift_dir = paths.reports / "drift"
    if reference is None:
        # The folder is the stage's declared output: it always exists, and never holds stale reports.
        for stale in (FEATURES_HTML, PREDICTIONS_HTML):
            (drift_dir / stale).unlink(missing_ok=True)
        write_text(
            drift_dir / "index.html",
            "<!doctype html><meta charset='utf-8'><title>drift</title>"
            f"<p>No drift report: {html.escape(str(note))}</p>",
        )
        return {
            "drift_detected": False,
            "drifted_share": 0.0,
            "drifted_columns": [],
            "columns": {},
            "note": note,
        }
    current = read_parquet(paths.features / FEATURES)
    gate = settings.gate
    result = drift_report(
        reference,
        current,
        gate.drift_share_threshold,
        drift_dir / FEATURES_HTML,
        gate.seed,
        max_rows=gate.drift_sample_rows,
    )
    feature_drift = bool(result["drift_detected"])
    result["feature_drift_detected"] = feature_drift
    result["reference_version"] = version
    result["reports"] = [str((drift_dir / FEATURES_HTML).relative_to(paths.root))]
    predictions = prediction_drift(settings, reference, current, drift_dir / PREDICTIONS_HTML)
    result["predictions"] = predictions
    if (drift_dir / PREDICTIONS_HTML).exists():
        result["reports"].append(str((drift_dir / PREDICTIONS_HTML).relative_to(paths.root)))
    segments_moved = bool(predictions.get("segments", {}).get("drifted", False))
    result["prediction_drift_detected"] = segments_moved
    result["drift_detected"] = feature_drift or segments_moved
    links = "".join(
        f"<li><a href='{html.escape(Path(r).name)}'>{html.escape(r)}</a></li>" for r in result["reports"]
    )
    write_text(
        drift_dir / "index.html",
        f"<!doctype html><meta charset='utf-8'><title>drift</title><ul>{links}</ul>",
    )
    return result


def record_drift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Compute the drift findings, write ``metrics/drift.json`` and log the HTML to the active MLflow run."""
    drift = drift_findings(settings, paths)
    write_json(paths.metric("drift"), drift)
    if mlflow.active_run() is not None:
        for name in drift.get("reports", []):
            mlflow.log_artifact(str(paths.root / name), artifact_path="reports/drift")
        mlflow.log_metrics(
            {
                "drift.drifted_share": float(drift["drifted_share"]),
                "drift.detected": float(drift["drift_detected"]),
            }
        )
        psi = drift.get("predictions", {}).get("segments", {}).get("psi")
        if psi is not None:
            mlflow.log_metric("drift.segments_psi", float(psi))
    return drift


def run_drift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """The monitoring check: drift findings and whether they call for retraining, in their own MLflow
    run (nested under the flow's run). The findings also go to ``metrics/drift.json``."""
    with tracking.stage_run("drift", settings, paths, {"gate": settings.gate.model_dump()}):
        drift = record_drift(settings, paths)
        retrain, reasons = retraining_needed(drift, settings.gate)
        mlflow.set_tags(
            {"monitoring.retrain": str(retrain).lower(), "monitoring.reasons": " | ".join(reasons)}
        )
    return {
        "drift_detected": drift["drift_detected"],
        "drifted_share": drift["drifted_share"],
        "drifted_columns": drift["drifted_columns"],
        "segments_psi": drift.get("predictions", {}).get("segments", {}).get("psi"),
        "reference_version": drift.get("reference_version"),
        "note": drift.get("note"),
        "retrain": retrain,
        "reasons": reasons,
    }


def record_monitoring(paths: ProjectPaths, outcome: dict[str, Any]) -> dict[str, Any]:
    """Write what a monitoring run found and did to ``metrics/monitoring.json`` (the drift figures
    themselves are in ``metrics/drift.json``, which a triggered training run refreshes)."""
    write_json(paths.metric("monitoring"), outcome)
    return outcome


drift_task = task(name="drift", retries=1, retry_delay_seconds=2)(run_drift)
record_monitoring_task = task(name="record-monitoring")(record_monitoring)

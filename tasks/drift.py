"""Drift with Evidently: the champion's training data (reference) against the current data.

Two reports: data drift of the customer features, and prediction drift — the champions' outputs on
the reference customers against their outputs on the current ones (segment shares, uplift score
distributions, recommendation coverage). Both land in ``metrics/drift.json`` and ``reports/drift/``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from prefect import task

from segmint.gate import catalogue_coverage, retraining_needed, share_shift
from segmint.settings import Settings
from tasks import tracking
from tasks.features import FEATURES
from tasks.io import atomic_path, read_parquet, write_json, write_text
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
    # A unique temporary with an .html ending, renamed into place: a killed run keeps the old report.
    with atomic_path(html_path, suffix=".tmp.html") as tmp:
        snapshot.save_html(str(tmp))


def _no_drift(**extra: Any) -> dict[str, Any]:
    """The findings when nothing could be compared (``extra`` says why or how much)."""
    return {"drift_detected": False, "drifted_share": 0.0, "drifted_columns": [], "columns": {}, **extra}


@dataclass(frozen=True)
class DriftSample:
    """The compared columns of both sides, sampled and cast (numeric to float, categorical to str).

    Attributes:
        reference: the reference sample.
        current: the current sample.
        numeric: the numeric columns compared, sorted.
        categorical: the categorical columns compared, sorted.
    """

    reference: pd.DataFrame
    current: pd.DataFrame
    numeric: list[str]
    categorical: list[str]


def _compared_columns(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """The numeric columns (other than ``customer_id``) and the named categorical ones both share."""
    shared = set(reference.columns) & set(current.columns)
    numeric = sorted(
        c
        for c in shared
        if c != "customer_id"
        and c not in categorical
        and pd.api.types.is_numeric_dtype(reference[c])
        and pd.api.types.is_numeric_dtype(current[c])
    )
    return numeric, sorted(c for c in categorical if c in shared)


def _sampled(
    frame: pd.DataFrame, numeric: list[str], cats: list[str], seed: int, max_rows: int
) -> pd.DataFrame:
    """A seeded sample of at most ``max_rows`` rows, numeric columns as float, categorical as str."""
    rows = frame[numeric + cats].sample(min(max_rows, len(frame)), random_state=seed)
    return rows.assign(
        **{c: rows[c].astype(float) for c in numeric}, **{c: rows[c].astype(str) for c in cats}
    )


def _evidently_snapshot(sample: DriftSample, varying: list[str]) -> Any:
    """Evidently's drift tests of the ``varying`` columns, current sample against reference."""
    # Evidently takes seconds to import: only the stages that measure drift pay for it.
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    definition = DataDefinition(
        numerical_columns=[c for c in varying if c in sample.numeric],
        categorical_columns=[c for c in varying if c in sample.categorical],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The preset's own table renders every column's plots a second time: the metrics alone give
        # the same tests and per-column plots in half the time.
        metrics = [DriftedColumnsCount(), *[ValueDrift(column=c) for c in varying]]
        return Report(metrics).run(
            current_data=Dataset.from_pandas(sample.current[varying], data_definition=definition),
            reference_data=Dataset.from_pandas(sample.reference[varying], data_definition=definition),
        )


def _column_statistics(snapshot: Any, sample: DriftSample) -> dict[str, dict[str, Any]]:
    """Per drift-tested column: method, statistic, threshold, drifted, and both sides' mean or mode."""
    per_column: dict[str, dict[str, Any]] = {}
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
        ref, cur = sample.reference[column], sample.current[column]
        if column in sample.numeric:
            stats.update(reference_mean=float(ref.mean()), current_mean=float(cur.mean()))
        else:
            stats.update(reference_top=str(ref.mode().iat[0]), current_top=str(cur.mode().iat[0]))
        per_column[column] = stats
    return per_column


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
    numeric, cats = _compared_columns(reference, current, categorical)
    columns = numeric + cats
    if not columns or not len(reference) or not len(current):
        return _no_drift(n_columns=0)
    sample = DriftSample(
        reference=_sampled(reference, numeric, cats, seed, max_rows),
        current=_sampled(current, numeric, cats, seed, max_rows),
        numeric=numeric,
        categorical=cats,
    )
    # Constant columns make the tests degenerate; they cannot drift in a way that matters here.
    varying = [c for c in columns if sample.reference[c].nunique() > 1 or sample.current[c].nunique() > 1]
    if not varying:
        return _no_drift(n_columns=len(columns))
    snapshot = _evidently_snapshot(sample, varying)
    per_column = _column_statistics(snapshot, sample)
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
        "reference_rows": int(len(sample.reference)),
        "current_rows": int(len(sample.current)),
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


@dataclass(frozen=True)
class PredictionPart:
    """One champion's part of the prediction drift.

    Attributes:
        findings: what the drift record holds for this part; None when Evidently's per-column drift
            of its prediction columns stands for it (the uplift scores).
        reference: ``customer_id`` and the champion's prediction columns on the reference customers
            (None: this part adds no column to the Evidently comparison).
        current: the same on the current customers.
    """

    findings: dict[str, Any] | None
    reference: pd.DataFrame | None = None
    current: pd.DataFrame | None = None


def _segment_part(settings: Settings, reference: pd.DataFrame, current: pd.DataFrame) -> PredictionPart:
    """The champion segmenter's segment shares on both sides, their PSI and a ``segment`` column."""
    segmenter = tracking.load_alias(settings, "segmenter", tracking.CHAMPION)
    if segmenter is None:
        return PredictionPart({"note": "no champion segmenter"})
    columns = getattr(segmenter.segmenter, "feature_columns", ())
    ref_seg = segmenter.segmenter.assign(with_model_columns(reference, columns)[0])
    current_aligned, filled = with_model_columns(current, columns)
    cur_seg = segmenter.segmenter.assign(current_aligned)
    shift = share_shift(ref_seg["segment_name"], cur_seg["segment_name"])
    threshold = settings.gate.prediction_psi_threshold
    findings = {
        "psi": shift.psi,
        "total_variation": shift.total_variation,
        "threshold": threshold,
        "drifted": bool(shift.psi >= threshold),
        "shares": shift.shares.to_dict(orient="records"),
        "columns_filled_with_zero": filled,
    }
    return PredictionPart(findings, _segment_of(ref_seg), _segment_of(cur_seg))


def _uplift_part(settings: Settings, reference: pd.DataFrame, current: pd.DataFrame) -> PredictionPart:
    """The champion uplift model's score per offer (``uplift_<offer>`` columns) on both sides."""
    uplift = tracking.load_alias(settings, "uplift", tracking.CHAMPION)
    if uplift is None:
        return PredictionPart({"note": "no champion uplift model"})
    try:
        ref_wide = _uplift_wide(uplift.uplift_model, reference)
        cur_wide = _uplift_wide(uplift.uplift_model, current)
    except ValueError as exc:  # the reference lacks a column the champion needs
        return PredictionPart({"note": str(exc)})
    return PredictionPart(None, ref_wide, cur_wide)


def _part_or_note(
    part: Callable[[Settings, pd.DataFrame, pd.DataFrame], PredictionPart],
    kind: str,
    settings: Settings,
    reference: pd.DataFrame,
    current: pd.DataFrame,
) -> PredictionPart:
    """``part`` of the prediction drift, or a note when its champion cannot be loaded or scored."""
    try:
        return part(settings, reference, current)
    except Exception as exc:  # noqa: BLE001 - a broken champion must not stop the gate; evaluate records it
        return PredictionPart({"note": f"champion {kind} failed: {type(exc).__name__}: {exc}"[:500]})


def _customer_sample(frame: pd.DataFrame, seed: int) -> list[str]:
    size = min(RECOMMEND_SAMPLE, len(frame))
    return frame["customer_id"].astype(str).sample(size, random_state=seed).tolist()


def _recommendation_part(
    settings: Settings, reference: pd.DataFrame, current: pd.DataFrame
) -> PredictionPart:
    """The champion recommender's catalogue coverage on a seeded sample of each side's customers."""
    recommender = tracking.load_alias(settings, "recommender", tracking.CHAMPION)
    if recommender is None:
        return PredictionPart({"note": "no champion recommender"})
    model = recommender.recommender
    n_items = len(getattr(model, "item_ids_", []))
    coverage = {}
    for side, frame in (("reference", reference), ("current", current)):
        recs = model.recommend(_customer_sample(frame, settings.gate.seed), settings.recommend.top_n)
        coverage[side] = catalogue_coverage(recs["recommended_product_ids"], n_items)
    findings = {
        "reference_coverage": coverage["reference"],
        "current_coverage": coverage["current"],
        "change": coverage["current"] - coverage["reference"],
        "customers_sampled": min(RECOMMEND_SAMPLE, len(current)),
    }
    return PredictionPart(findings)


def _predictions(customers: pd.DataFrame, parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    """Each customer's predictions: the ``parts``' columns joined on ``customer_id`` (as str)."""
    predictions = customers[["customer_id"]].astype({"customer_id": str})
    for part in parts:
        if part is not None:
            predictions = predictions.merge(part, on="customer_id", how="left")
    return predictions


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
    segments = _part_or_note(_segment_part, "segmenter", settings, reference, current)
    uplift = _part_or_note(_uplift_part, "uplift", settings, reference, current)
    recommendations = _part_or_note(_recommendation_part, "recommender", settings, reference, current)
    report = drift_report(
        _predictions(reference, [segments.reference, uplift.reference]),
        _predictions(current, [segments.current, uplift.current]),
        gate.drift_share_threshold,
        html_path,
        gate.seed,
        ("segment",) if segments.reference is not None else (),
        gate.drift_sample_rows,
    )
    uplift_findings = uplift.findings
    if uplift_findings is None:
        columns = report.get("columns", {})
        uplift_findings = {
            c.removeprefix("uplift_"): s for c, s in columns.items() if c.startswith("uplift_")
        }
    return {
        "segments": segments.findings,
        "uplift": uplift_findings,
        "recommendations": recommendations.findings,
        "evidently": {k: report[k] for k in ("drifted_share", "drifted_columns", "columns") if k in report},
    }


def _write_index(drift_dir: Path, reports: list[str], note: str | None = None) -> None:
    """The drift folder's index page: a link to each report written (project-relative), or why none was."""
    from tasks.pages import render

    links = [(Path(report).name, report) for report in reports]
    page = render("drift_index.html.j2", title="Drift reports", reports=links, note=note)
    write_text(drift_dir / "index.html", str(page))


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
        _write_index(drift_dir, [], note=str(note))
        return _no_drift(note=note)
    current = read_parquet(paths.features / FEATURES)
    gate = settings.gate
    features = drift_report(
        reference,
        current,
        gate.drift_share_threshold,
        drift_dir / FEATURES_HTML,
        gate.seed,
        max_rows=gate.drift_sample_rows,
    )
    predictions = prediction_drift(settings, reference, current, drift_dir / PREDICTIONS_HTML)
    written = [FEATURES_HTML, *([PREDICTIONS_HTML] if (drift_dir / PREDICTIONS_HTML).exists() else [])]
    reports = [str((drift_dir / name).relative_to(paths.root)) for name in written]
    feature_drift = bool(features["drift_detected"])
    segments_moved = bool(predictions.get("segments", {}).get("drifted", False))
    _write_index(drift_dir, reports)
    return {
        **features,
        "feature_drift_detected": feature_drift,
        "reference_version": version,
        "reports": reports,
        "predictions": predictions,
        "prediction_drift_detected": segments_moved,
        "drift_detected": feature_drift or segments_moved,
    }


def _segments_psi(drift: dict[str, Any]) -> float | None:
    """The PSI of the champion segmenter's shares, when the findings hold one."""
    return drift.get("predictions", {}).get("segments", {}).get("psi")


def drift_summary(drift: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of drift findings: detected, drifted share and columns, segment-share PSI."""
    return {
        "drift_detected": drift["drift_detected"],
        "drifted_share": drift["drifted_share"],
        "drifted_columns": drift["drifted_columns"],
        "segments_psi": _segments_psi(drift),
    }


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
        psi = _segments_psi(drift)
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
        **drift_summary(drift),
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

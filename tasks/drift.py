"""Drift with Evidently: the champion's training data (reference) against the current data.

Evidently tests every feature column (``monitor.numeric_method``/``categorical_method`` against
``monitor.column_threshold``) and counts the drifted ones per model (``DriftedColumnsCount``). Each
model is judged on its own inputs only: the segmenter on ``segment.columns`` (equal weights), the
uplift and CLV models on their features weighted by importance; a model drifted when the weighted
share of its drifted inputs reaches ``monitor.share_threshold`` (:mod:`segmint.drift`).

Three reports: data drift of the customer features, prediction drift — the champions' outputs on
the reference customers against their outputs on the current ones (segment shares, uplift score
distributions, recommendation coverage) — and a data summary of the new batch. The findings land in
``metrics/drift.json``, the reports in ``reports/drift/``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from segmint.drift import (
    model_drift,
    model_importances,
    normalised_weights,
    restricted_weights,
)
from segmint.gate import catalogue_coverage, retraining_needed, share_shift
from segmint.segmentation import segment_feature_columns
from segmint.settings import MonitorSettings, Settings
from tasks import tracking
from tasks.data_summary import save_html, write_summary
from tasks.features import FEATURES
from tasks.io import read_parquet, write_json, write_text
from tasks.paths import ProjectPaths

RECOMMEND_SAMPLE = 2_000
FEATURES_HTML, PREDICTIONS_HTML, SUMMARY_HTML = "features.html", "predictions.html", "summary.html"
# The models judged on their own inputs (the recommender's inputs are purchases, not these features).
JUDGED_MODELS = ("segmenter", "uplift", "clv")


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


def _column_method(settings: MonitorSettings, sample: DriftSample, column: str) -> str | None:
    """The drift test for ``column`` from the settings (None: Evidently picks by type and size)."""
    return settings.numeric_method if column in sample.numeric else settings.categorical_method


def _evidently_snapshot(
    sample: DriftSample, varying: list[str], settings: MonitorSettings, groups: dict[str, list[str]]
) -> Any:
    """Evidently's drift test of each ``varying`` column and its drifted-column count per group."""
    # Evidently takes seconds to import: only the stages that measure drift pay for it.
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    definition = DataDefinition(
        numerical_columns=[c for c in varying if c in sample.numeric],
        categorical_columns=[c for c in varying if c in sample.categorical],
    )
    # The preset's own table renders every column's plots a second time: the metrics alone give the
    # same tests and per-column plots in half the time.
    metrics = [
        *[
            ValueDrift(
                column=c,
                method=_column_method(settings, sample, c),
                threshold=settings.column_threshold,
            )
            for c in varying
        ],
        *[
            DriftedColumnsCount(
                columns=columns,
                drift_share=settings.share_threshold,
                num_method=settings.numeric_method,
                cat_method=settings.categorical_method,
                threshold=settings.column_threshold,
            )
            for columns in groups.values()
        ],
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Report(metrics, include_tests=True).run(
            current_data=Dataset.from_pandas(sample.current[varying], data_definition=definition),
            reference_data=Dataset.from_pandas(sample.reference[varying], data_definition=definition),
        )


def _metric_type(config: dict[str, Any]) -> str:
    return str(config.get("type", "")).rsplit(":", 1)[-1]


def _column_verdicts(snapshot: dict[str, Any]) -> dict[str, bool]:
    """Evidently's own verdict per drift-tested column: its value-drift test failed (drift) or not."""
    verdicts: dict[str, bool] = {}
    for test in snapshot.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if _metric_type(params) == "ValueDrift":
            verdicts[str(params["column"])] = test.get("status") == "FAIL"
    return verdicts


def _group_counts(snapshot: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Evidently's drifted-column count and share for each group of columns (``DriftedColumnsCount``)."""
    by_columns = {
        tuple(metric["config"].get("columns") or ()): metric["value"]
        for metric in snapshot["metrics"]
        if _metric_type(metric.get("config", {})) == "DriftedColumnsCount"
    }
    counts = {}
    for name, columns in groups.items():
        value = by_columns.get(tuple(columns), {})
        counts[name] = {
            "count": int(value.get("count", 0)),
            "share": float(value.get("share", 0.0)),
            "n_columns": len(columns),
        }
    return counts


def _column_statistics(snapshot: dict[str, Any], sample: DriftSample) -> dict[str, dict[str, Any]]:
    """Per drift-tested column: method, statistic, threshold, Evidently's verdict, mean or top value."""
    verdicts = _column_verdicts(snapshot)
    per_column: dict[str, dict[str, Any]] = {}
    for metric in snapshot["metrics"]:
        config = metric.get("config", {})
        if _metric_type(config) != "ValueDrift":
            continue
        column = str(config["column"])
        stats: dict[str, Any] = {
            "method": str(config.get("method", "")),
            "statistic": float(metric["value"]),
            "threshold": float(config.get("threshold", 0.0)),
            "drifted": verdicts.get(column, False),
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
    settings: MonitorSettings,
    html_path: Path | None,
    categorical: tuple[str, ...] = (),
    groups: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Evidently's data drift over the numeric (and the named categorical) columns both frames share.

    Columns constant on both sides are not tested: they cannot drift.

    Args:
        groups: named groups of columns (a model's inputs) to count drifted columns in; every tested
            column is counted as ``all``.

    Returns:
        ``drifted_columns`` (Evidently's verdicts), ``drifted_share`` and ``n_columns`` over every
        tested column, ``groups`` (per group: Evidently's drifted count and share over its tested
        columns) and per-column statistics (method, statistic, threshold, drifted, reference/current
        mean or top category); the HTML report is saved at ``html_path`` when given.
    """
    numeric, cats = _compared_columns(reference, current, categorical)
    columns = numeric + cats
    if not columns or not len(reference) or not len(current):
        return _no_drift(n_columns=0)
    sample = DriftSample(
        reference=_sampled(reference, numeric, cats, settings.seed, settings.sample_rows),
        current=_sampled(current, numeric, cats, settings.seed, settings.sample_rows),
        numeric=numeric,
        categorical=cats,
    )
    varying = [c for c in columns if sample.reference[c].nunique() > 1 or sample.current[c].nunique() > 1]
    if not varying:
        return _no_drift(n_columns=0)
    tested = {
        "all": varying,
        **{name: [c for c in varying if c in set(cols)] for name, cols in (groups or {}).items()},
    }
    tested = {name: cols for name, cols in tested.items() if cols}
    snapshot = _evidently_snapshot(sample, varying, settings, tested)
    result = snapshot.dict()
    per_column = _column_statistics(result, sample)
    counts = _group_counts(result, tested)
    if html_path is not None:
        save_html(snapshot, html_path)
    return {
        "drifted_share": counts["all"]["share"],
        "drifted_columns": sorted(c for c, s in per_column.items() if s["drifted"]),
        "n_columns": len(varying),
        "reference_rows": int(len(sample.reference)),
        "current_rows": int(len(sample.current)),
        "groups": counts,
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


@dataclass(frozen=True)
class ModelInputs:
    """The inputs one model is judged on.

    Attributes:
        weights: each input column's normalised weight (empty when the model is missing).
        weighting: ``equal`` or ``importance``.
        note: why the model is not judged (no champion, no importances), else None.
    """

    weights: dict[str, float]
    weighting: str = "equal"
    note: str | None = None


def _importance_inputs(model: Any, fitted: Any) -> ModelInputs:
    """A fitted model's ``feature_columns`` weighted by the importance its estimators give them."""
    columns = [str(c) for c in getattr(model, "feature_columns", ())]
    importances = model_importances(fitted, len(columns))
    if importances is None:  # no estimator with importances: every input counts alike
        return ModelInputs(normalised_weights(columns))
    return ModelInputs(normalised_weights(columns, list(importances)), "importance")


def _segmenter_inputs(settings: Settings, paths: ProjectPaths, reference: pd.DataFrame) -> ModelInputs:
    """The segmenter's ``segment.columns`` found in the reference, equally weighted."""
    segment = settings.segment
    columns = segment_feature_columns(reference, segment.include_attributes, segment.columns)
    return ModelInputs(normalised_weights(columns))


def _uplift_inputs(settings: Settings, paths: ProjectPaths, reference: pd.DataFrame) -> ModelInputs:
    """The champion uplift model's features, weighted by its learners' and response models' importances."""
    champion = tracking.load_alias(settings, "uplift", tracking.CHAMPION)
    if champion is None:
        return ModelInputs({}, note="no champion uplift model")
    model = champion.uplift_model
    return _importance_inputs(model, [model.learners, model.response_models])


def _clv_inputs(settings: Settings, paths: ProjectPaths, reference: pd.DataFrame) -> ModelInputs:
    """The champion CLV model's features, weighted by its LightGBM gain."""
    champion = tracking.load_alias(settings, "clv", tracking.CHAMPION)
    if champion is None:
        return ModelInputs({}, note="no champion CLV model")
    return _importance_inputs(champion.clv_model, champion.clv_model.model)


def model_inputs(settings: Settings, paths: ProjectPaths, reference: pd.DataFrame) -> dict[str, ModelInputs]:
    """Each judged model's inputs and weights; a model that cannot be loaded carries a note instead."""
    readers = {"segmenter": _segmenter_inputs, "uplift": _uplift_inputs, "clv": _clv_inputs}
    inputs = {}
    for kind in JUDGED_MODELS:
        try:
            inputs[kind] = readers[kind](settings, paths, reference)
        except Exception as exc:  # noqa: BLE001 - one unreadable model must not stop the others' verdicts
            inputs[kind] = ModelInputs({}, note=f"{kind} failed: {type(exc).__name__}: {exc}"[:500])
    return inputs


def model_verdicts(
    inputs: dict[str, ModelInputs], features: dict[str, Any], threshold: float
) -> dict[str, dict[str, Any]]:
    """Each model's verdict on its own tested inputs, from Evidently's per-column verdicts.

    Inputs constant on both sides were not tested (they cannot drift); the weights of the tested
    ones are normalised again. Evidently's unweighted count over the same inputs is kept beside.
    """
    columns = features.get("columns", {})
    verdicts = {column: bool(stats["drifted"]) for column, stats in columns.items()}
    groups = features.get("groups", {})
    records: dict[str, dict[str, Any]] = {}
    for kind, model in inputs.items():
        weights = restricted_weights(model.weights, columns)
        if not weights:
            note = model.note or "none of its inputs could be tested"
            records[kind] = {
                "drift_detected": False,
                "drifted_share": 0.0,
                "drifted_columns": [],
                "note": note,
            }
            continue
        record = model_drift(kind, weights, verdicts, threshold, model.weighting).record()
        records[kind] = {**record, "evidently": groups.get(kind)}
    return records


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
    threshold = settings.monitor.prediction_psi_threshold
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
        recs = model.recommend(_customer_sample(frame, settings.monitor.seed), settings.recommend.top_n)
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
    segments = _part_or_note(_segment_part, "segmenter", settings, reference, current)
    uplift = _part_or_note(_uplift_part, "uplift", settings, reference, current)
    recommendations = _part_or_note(_recommendation_part, "recommender", settings, reference, current)
    report = drift_report(
        _predictions(reference, [segments.reference, uplift.reference]),
        _predictions(current, [segments.current, uplift.current]),
        settings.monitor,
        html_path,
        ("segment",) if segments.reference is not None else (),
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


def _written_reports(drift_dir: Path, paths: ProjectPaths, names: list[str]) -> list[str]:
    """The reports among ``names`` written under ``drift_dir``, project-relative."""
    return [str((drift_dir / name).relative_to(paths.root)) for name in names if (drift_dir / name).exists()]


def _aligned(
    reference: pd.DataFrame, current: pd.DataFrame, inputs: dict[str, ModelInputs]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both sides with every model input, a missing one as zeros (what the model is scored on)."""
    columns = sorted({column for model in inputs.values() for column in model.weights})
    return with_model_columns(reference, columns)[0], with_model_columns(current, columns)[0]


def drift_findings(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Feature and prediction drift of the project's current features against the champion's reference.

    ``drift_detected`` is true when any model's own inputs drifted (``models``: per model its verdict,
    drifted inputs and weighted drifted share) or the segment shares moved past
    ``monitor.prediction_psi_threshold``. ``drifted_share`` and ``drifted_columns`` are Evidently's
    figures over every tested feature: context, not the verdict.
    """
    version, reference, note = champion_reference(settings)
    drift_dir = paths.reports / "drift"
    current = read_parquet(paths.features / FEATURES)
    write_summary(current, paths.features / FEATURES, settings.monitor, drift_dir / SUMMARY_HTML)
    if reference is None:
        # The folder is the stage's declared output: it always exists, and never holds stale reports.
        for stale in (FEATURES_HTML, PREDICTIONS_HTML):
            (drift_dir / stale).unlink(missing_ok=True)
        reports = _written_reports(drift_dir, paths, [SUMMARY_HTML])
        _write_index(drift_dir, reports, note=str(note))
        return _no_drift(note=note, reports=reports, models={})
    inputs = model_inputs(settings, paths, reference)
    groups = {kind: list(model.weights) for kind, model in inputs.items() if model.weights}
    features = drift_report(
        *_aligned(reference, current, inputs), settings.monitor, drift_dir / FEATURES_HTML, groups=groups
    )
    models = model_verdicts(inputs, features, settings.monitor.share_threshold)
    predictions = prediction_drift(settings, reference, current, drift_dir / PREDICTIONS_HTML)
    reports = _written_reports(drift_dir, paths, [FEATURES_HTML, PREDICTIONS_HTML, SUMMARY_HTML])
    _write_index(drift_dir, reports)
    feature_drift = any(model["drift_detected"] for model in models.values())
    segments_moved = bool(predictions.get("segments", {}).get("drifted", False))
    return {
        **features,
        "share_threshold": settings.monitor.share_threshold,
        "models": models,
        "drifted_models": sorted(kind for kind, model in models.items() if model["drift_detected"]),
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
    """The headline figures of drift findings: detected, each model's verdict, drifted columns, PSI."""
    keys = ("drift_detected", "drifted_share", "drifted_columns")
    return {
        "drift_detected": drift["drift_detected"],
        "drifted_share": drift["drifted_share"],
        "drifted_columns": drift["drifted_columns"],
        "models": {
            kind: {k: model[k] for k in (*keys, "note") if k in model}
            for kind, model in (drift.get("models") or {}).items()
        },
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
                **{
                    f"drift.{kind}.{key}": float(model[key])
                    for kind, model in drift.get("models", {}).items()
                    for key in ("drifted_share", "drift_detected")
                    if not model.get("note")
                },
            }
        )
        psi = _segments_psi(drift)
        if psi is not None:
            mlflow.log_metric("drift.segments_psi", float(psi))
    return drift


def run_drift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """The monitoring check: drift findings and whether they call for retraining, in their own MLflow
    run (nested under the flow's run). The findings also go to ``metrics/drift.json``."""
    with tracking.stage_run("drift", settings, paths, {"monitor": settings.monitor.model_dump()}):
        drift = record_drift(settings, paths)
        retrain, reasons = retraining_needed(drift, settings.monitor)
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

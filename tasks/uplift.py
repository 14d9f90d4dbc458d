"""Uplift: response and uplift learners per offer from past randomized campaigns; Qini; CLV."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import partial
from typing import Any

import mlflow
import pandas as pd

from segmint.clv import CLV_TARGET, CLVModel, fit_clv, fitted_rows
from segmint.contracts import Tables
from segmint.plot_data import calibration_by_decile, cumulative_gain, file_stem, qini_by_offer
from segmint.settings import Settings
from segmint.threads import side_by_side
from segmint.uplift import FEATURES_AS_OF, WAVE_ID, UpliftSelection, fit_uplift
from tasks import tracking
from tasks.features import AT_CAMPAIGN, LABELS, TRAIN
from tasks.figures import qini_figure
from tasks.io import read_parquet, read_tables, write_json, write_pickle, write_text
from tasks.paths import ProjectPaths
from tasks.pyfunc import CLVPyfuncModel, UpliftPyfuncModel
from tasks.recommend import skipped_model

# The uplift stage needs only the customers' ids and signup times (to say why a row has no features).
_CUSTOMER_COLUMNS = {"customers": ["customer_id", "signup_ts"]}
CLV = "clv"  # the model kind: models/clv/model.pkl, registered as <prefix>-clv


def run_uplift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Fit the CLV model and select, save and register the uplift model from past campaigns.

    Returns:
        The stage's metrics, as written to ``metrics/uplift.json``: the CLV fit (``clv``: customers,
        seed and registered version, or why it was skipped), the winner, its test-part metrics and
        which rows they come from (``rows``), its interval against random targeting (``baseline``),
        every candidate's cross-validated scores on the training part (``selection_rows``), the
        campaign rows the feature join dropped per reason (``dropped_rows``) and the registered
        version; or the skip reason when there is no campaign (or no offer or control arm) to learn
        uplift from.
    """
    tables = read_tables(paths.validated, paths, names=("campaigns",), columns=_CUSTOMER_COLUMNS)
    # The CLV fit and the uplift selection are independent LightGBM work, every model single-threaded
    # under its own seed: side by side, each fills the core the other leaves idle (the last of the five
    # bagged CLV models runs alone), and the models are those of fitting them in turn.
    clv, fitted = side_by_side(
        partial(_clv_or_reason, settings, paths), partial(_selection_or_reason, settings, paths, tables)
    )
    result: dict[str, Any] = {"clv": _saved_clv(settings, paths, clv)}
    if isinstance(fitted, str):
        result.update(skipped_model(paths, "uplift", fitted))
        _write_qini_csv(paths, None)
    else:
        result.update(_saved_selection(settings, paths, fitted))
    write_json(paths.metric("uplift"), result)
    return result


def _selection_or_reason(settings: Settings, paths: ProjectPaths, tables: Tables) -> UpliftSelection | str:
    campaigns = tables.campaigns
    if campaigns is None or not len(campaigns):
        return "no campaigns table: no past randomized campaign to learn uplift from"
    if not (paths.features / AT_CAMPAIGN).exists():
        return "no features as of the campaign send dates"
    features = read_parquet(paths.features / AT_CAMPAIGN)
    try:
        return fit_uplift(features, campaigns, settings.uplift, customers=tables.customers)
    except ValueError as exc:  # e.g. only a control arm: a clear skip, not a crash
        return str(exc) or "uplift could not be fitted"


def _saved_selection(settings: Settings, paths: ProjectPaths, selection: UpliftSelection) -> dict[str, Any]:
    """Save the model (clearing an earlier skip marker) and its Qini curves; register it; its metrics."""
    write_pickle(paths.models / "uplift" / "model.pkl", selection.model)
    marker = paths.models / "uplift" / "SKIPPED.json"
    if marker.exists():
        marker.unlink()
    _write_qini_csv(paths, selection.qini)
    tracking.log_frame(selection.qini, "plots", "qini.parquet")
    tracking.log_figure(qini_figure(selection.qini), "figures/qini.png")
    saved: dict[str, Any] = {
        "winner": selection.name,
        "rows": selection.rows,
        "metrics": selection.metrics,
        "baseline": None if selection.baseline is None else selection.baseline.record(),
        "selection_rows": selection.selection_rows,
        "candidates": selection.candidates.to_dict(orient="records"),
        "dropped_rows": selection.dropped_rows,
    }
    _tag_rows(selection)
    # The input example is what scoring passes: one row per customer, without the wave columns.
    example = read_parquet(paths.features / AT_CAMPAIGN).drop(
        columns=[WAVE_ID, FEATURES_AS_OF], errors="ignore"
    )
    saved["registered_version"] = tracking.log_pyfunc(
        UpliftPyfuncModel(selection.model),
        settings,
        "uplift",
        example.head(5),
        tags={"learner": selection.name},
    )
    return saved


def _tag_rows(selection: UpliftSelection) -> None:
    """Record on the tracking run which rows the metrics and the selection come from."""
    if mlflow.active_run() is None:
        return
    mlflow.set_tags(
        {
            "uplift.metrics_rows": selection.rows[:5000],
            "uplift.selection_rows": selection.selection_rows[:5000],
            "uplift.dropped_rows": str(selection.dropped_rows)[:5000],
        }
    )


@dataclass(frozen=True)
class _CLVFit:
    """The fitted CLV model and the label cutoff's features and labels it was fitted on."""

    model: CLVModel
    train: pd.DataFrame
    labels: pd.DataFrame


def _clv_or_reason(settings: Settings, paths: ProjectPaths) -> _CLVFit | str:
    """The CLV model fitted on the label cutoff's features and next-period spend, or why there is none
    (no training features or labels, or no spend to learn from)."""
    train_file, labels_file = paths.features / TRAIN, paths.features / LABELS
    if not train_file.exists() or not labels_file.exists():
        return "no training features/labels"
    train, labels = read_parquet(train_file), read_parquet(labels_file)
    try:
        clv = fit_clv(
            train,
            labels,
            seed=settings.clv.seed,
            target=CLV_TARGET,
            max_customers=settings.clv.fit_max_customers,
            trees=settings.clv.trees,
            learning_rate=settings.clv.learning_rate,
            bagged=settings.clv.bagged_seeds,
        )
    except ValueError as exc:  # e.g. no orders at all: CLV is skipped, uplift still runs
        return str(exc)
    return _CLVFit(clv, train, labels)


def _saved_clv(settings: Settings, paths: ProjectPaths, fitted: _CLVFit | str) -> dict[str, Any]:
    """Save the CLV model under ``models/clv`` (clearing an earlier skip marker) with its plots and
    register it (``<prefix>-clv``, alias ``challenger``); a skip marker instead when there is none."""
    if isinstance(fitted, str):
        _write_clv_plots(paths, None)
        return skipped_model(paths, CLV, fitted)
    clv, train = fitted.model, fitted.train
    write_pickle(paths.models / CLV / "model.pkl", clv)
    marker = paths.models / CLV / "SKIPPED.json"
    if marker.exists():
        marker.unlink()
    _write_clv_plots(paths, _clv_fit(clv, train, fitted.labels))
    version = tracking.log_pyfunc(CLVPyfuncModel(clv), settings, CLV, train.head(5))
    return {
        "customers": int(len(train)),
        "fit_customers": int(min(len(train), clv.max_customers or len(train))),
        "seed": clv.seed,
        "registered_version": version,
    }


def _clv_fit(
    clv: CLVModel, train: pd.DataFrame, labels: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """CLV calibration by decile and the cumulative gain of targeting by predicted CLV; None when the
    rows are too few for deciles.

    Both are on the rows the model was fitted on (its sample of the training rows), so they show the
    fit; the out-of-time scores (a refit on the period before, against the naive rate) are in
    ``metrics/evaluate.json``.
    """
    kept = fitted_rows(len(train), clv.seed, clv.max_customers)
    predicted = clv.predict(train if kept is None else train.iloc[kept])
    spend = predicted[["customer_id"]].merge(
        labels.assign(customer_id=labels["customer_id"].astype(str)), on="customer_id", how="left"
    )[CLV_TARGET]
    actual = spend.fillna(0.0).clip(lower=0.0).to_numpy()
    try:
        return (
            calibration_by_decile(predicted["predicted_clv"].to_numpy(), actual),
            cumulative_gain(predicted["predicted_clv"].to_numpy(), actual),
        )
    except ValueError:
        return None


def _write_clv_plots(paths: ProjectPaths, tables: tuple[pd.DataFrame, pd.DataFrame] | None) -> None:
    """The CSVs that DVC plots for CLV (headers only when there is no CLV model)."""
    calibration, gain = tables or (
        pd.DataFrame(columns=["decile", "predicted", "actual", "customers"]),
        pd.DataFrame(columns=["share_targeted", "model", "random", "perfect"]),
    )
    write_text(paths.plots / "clv_calibration.csv", calibration.to_csv(index=False))
    write_text(paths.plots / "clv_gain.csv", gain.to_csv(index=False))


def _write_qini_csv(paths: ProjectPaths, qini: pd.DataFrame | None) -> None:
    """The Qini curves: long for the report, one wide file per offer for DVC plots (header only, and
    no offer file, when there is no model)."""
    frame = qini if qini is not None else pd.DataFrame(columns=["offer", "learner", "fraction", "qini"])
    write_text(paths.plots / "qini.csv", frame.to_csv(index=False))
    # An offer of an earlier run must not keep its plot.
    folder = paths.plots / "qini_by_offer"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for offer, table in qini_by_offer(frame).items():
        write_text(folder / f"{file_stem(offer)}.csv", table.to_csv(index=False))

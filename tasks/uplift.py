"""Uplift: response and uplift learners per offer from past randomized campaigns; Qini; CLV."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd

from segmint.clv import fit_clv
from segmint.contracts import Tables
from segmint.settings import Settings
from segmint.uplift import FEATURES_AS_OF, WAVE_ID, UpliftSelection, fit_uplift
from tasks import tracking
from tasks.features import AT_CAMPAIGN, LABELS, TRAIN
from tasks.figures import qini_figure
from tasks.io import read_parquet, read_tables, write_json, write_pickle, write_text
from tasks.paths import ProjectPaths
from tasks.pyfunc import UpliftPyfuncModel
from tasks.recommend import skipped_model

# The uplift stage needs only the customers' ids and signup times (to say why a row has no features).
_CUSTOMER_COLUMNS = {"customers": ["customer_id", "signup_ts"]}


def run_uplift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Fit the CLV model and select, save and register the uplift model from past campaigns.

    Returns:
        The stage's metrics, as written to ``metrics/uplift.json``: the CLV metrics, the winner, its
        test-part metrics and which rows they come from (``rows``), its interval against random
        targeting (``baseline``), every candidate's cross-validated scores on the training part
        (``selection_rows``), the campaign rows the feature join dropped per reason
        (``dropped_rows``) and the registered version; or the skip reason when there is no
        campaign (or no offer or control arm) to learn uplift from.
    """
    tables = read_tables(paths.validated, paths, names=("campaigns",), columns=_CUSTOMER_COLUMNS)
    result: dict[str, Any] = {"clv": _fit_clv(settings, paths)}
    fitted = _selection_or_reason(settings, paths, tables)
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


def _fit_clv(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    train_file, labels_file = paths.features / TRAIN, paths.features / LABELS
    if not train_file.exists() or not labels_file.exists():
        return {"skipped": "no training features/labels"}
    try:
        clv = fit_clv(
            read_parquet(train_file),
            read_parquet(labels_file),
            seed=settings.uplift.seed,
            target="future_revenue",
        )
    except ValueError as exc:  # e.g. no orders at all: CLV is skipped, uplift still runs
        return {"skipped": str(exc)}
    write_pickle(paths.models / "uplift" / "clv.pkl", clv)
    return dict(getattr(clv, "metrics", {}) or {})


def _write_qini_csv(paths: ProjectPaths, qini: pd.DataFrame | None) -> None:
    """The Qini curves as the CSV that DVC plots (header only when there is no model)."""
    frame = qini if qini is not None else pd.DataFrame(columns=["offer", "learner", "fraction", "qini"])
    write_text(paths.plots / "qini.csv", frame.to_csv(index=False))

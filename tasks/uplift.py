"""Uplift: response and uplift learners per offer from past randomized campaigns; Qini; CLV."""

from __future__ import annotations

from typing import Any

import pandas as pd

from segmint.clv import fit_clv
from segmint.settings import Settings
from segmint.uplift import UpliftSelection, fit_uplift
from tasks import tracking
from tasks.features import AT_CAMPAIGN, LABELS, TRAIN
from tasks.io import read_parquet, read_tables, write_json, write_pickle, write_text
from tasks.paths import ProjectPaths
from tasks.pyfunc import UpliftPyfuncModel
from tasks.recommend import skipped_model


def run_uplift(settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Fit the CLV model and select, save and register the uplift model from past campaigns.

    Returns:
        The stage's metrics, as written to ``metrics/uplift.json``: the CLV metrics, the winner, its
        held-out metrics, every candidate's scores and the registered version; or the skip reason
        when there is no campaign (or no offer or control arm) to learn uplift from.
    """
    tables = read_tables(paths.validated, paths, names=("campaigns",))
    result: dict[str, Any] = {"clv": _fit_clv(settings, paths)}
    fitted = _selection_or_reason(settings, paths, tables.campaigns)
    if isinstance(fitted, str):
        result.update(skipped_model(paths, "uplift", fitted))
        _write_qini_csv(paths, None)
    else:
        result.update(_saved_selection(settings, paths, fitted))
    write_json(paths.metric("uplift"), result)
    return result


def _selection_or_reason(
    settings: Settings, paths: ProjectPaths, campaigns: pd.DataFrame | None
) -> UpliftSelection | str:
    if campaigns is None or not len(campaigns):
        return "no campaigns table: no past randomized campaign to learn uplift from"
    if not (paths.features / AT_CAMPAIGN).exists():
        return "no features as of the campaign send date"
    try:
        return fit_uplift(read_parquet(paths.features / AT_CAMPAIGN), campaigns, settings.uplift)
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
    saved: dict[str, Any] = {
        "winner": selection.name,
        "metrics": selection.metrics,
        "candidates": selection.candidates.to_dict(orient="records"),
    }
    features = read_parquet(paths.features / AT_CAMPAIGN)
    saved["registered_version"] = tracking.log_pyfunc(
        UpliftPyfuncModel(selection.model),
        settings,
        "uplift",
        features.head(5),
        tags={"learner": selection.name},
    )
    return saved


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

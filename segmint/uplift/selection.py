"""Learner selection by cross-validated Qini AUC, and :func:`fit_uplift`, which refits the choice on
every row and reports its held-out quality."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segmint.settings import UpliftSettings
from segmint.uplift.design import Design, campaign_design, campaign_frame, feature_matrix
from segmint.uplift.evaluation import held_out_metrics, held_out_scores, segment_metrics
from segmint.uplift.learners import COMPLEXITY, check_learners
from segmint.uplift.metrics import METRIC_NAMES, qini_points, uplift_metrics
from segmint.uplift.model import UpliftModel, fit_uplift_model
from segmint.uplift.splits import cross_validation_folds, held_out_split, selection_rows

SELECTION_RULES = ("best", "one_se")


@dataclass(frozen=True)
class UpliftSelection:
    """The chosen learner refit on all rows, with the evidence for the choice."""

    model: UpliftModel
    name: str
    metrics: dict[str, dict[str, float]]
    candidates: pd.DataFrame
    qini: pd.DataFrame
    per_segment: pd.DataFrame | None = field(default=None)


@dataclass(frozen=True)
class _Candidates:
    table: pd.DataFrame  # one row per learner and offer: mean metrics and the Qini AUC's standard error
    qini: pd.DataFrame  # averaged Qini curve points per learner and offer, plus the random ranking's


def _selection_splits(design: Design, settings: UpliftSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    # The CV folds, or the single held-out split when cv_folds < 2, over the selection rows.
    kept = selection_rows(design.frame, settings)
    sample = design.frame.iloc[kept]
    folds = (
        cross_validation_folds(sample, settings)
        if settings.cv_folds >= 2
        else [held_out_split(sample, settings)]
    )
    return [(kept[train], kept[test]) for train, test in folds]


def _candidate(
    design: Design,
    name: str,
    offer: str,
    settings: UpliftSettings,
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[dict, pd.DataFrame]:
    per_split, grids = [], []
    for train, test in splits:
        scored = design.scored(name, offer, settings, train, test)
        per_split.append(uplift_metrics(scored.outcome, scored.uplift, scored.treated, settings.top_share))
        grids.append(qini_points(scored.outcome, scored.uplift, scored.treated))
    qinis = np.array([m["qini_auc"] for m in per_split], dtype=float)
    row = {
        "learner": name,
        "offer": offer,
        **{key: float(np.nanmean([m[key] for m in per_split])) for key in METRIC_NAMES},
        # Standard error of the mean Qini over folds (0 with a single split).
        "qini_auc_se": float(np.nanstd(qinis) / np.sqrt(len(qinis))) if len(qinis) > 1 else 0.0,
    }
    curve = pd.DataFrame(
        {
            "offer": offer,
            "learner": name,
            "fraction": grids[0][0],
            "qini": np.mean([grid[1] for grid in grids], axis=0),
        }
    )
    return row, curve


def _random_curves(design: Design, offers: tuple[str, ...], test: np.ndarray) -> list[pd.DataFrame]:
    curves = []
    for offer in offers:
        rows = design.offer_rows(offer, test)
        grid, values = qini_points(design.y[rows], np.zeros(len(rows)), design.treated(rows, offer))
        curves.append(pd.DataFrame({"offer": offer, "learner": "random", "fraction": grid, "qini": values}))
    return curves


def _candidate_scores(design: Design, offers: tuple[str, ...], settings: UpliftSettings) -> _Candidates:
    """Every learner's metrics per offer (mean over the CV folds, or on the held-out split when
    ``cv_folds < 2``) and its Qini curve points averaged the same way."""
    splits = _selection_splits(design, settings)
    rows, curves = [], []
    for name in dict.fromkeys(settings.learners):
        for offer in offers:
            row, curve = _candidate(design, name, offer, settings, splits)
            rows.append(row)
            curves.append(curve)
    curves.extend(_random_curves(design, offers, splits[0][1]))
    return _Candidates(pd.DataFrame(rows), pd.concat(curves, ignore_index=True))


def _choose(
    candidates: pd.DataFrame, offers: tuple[str, ...], per_offer: bool, rule: str = "best"
) -> dict[str, str]:
    """The learner per offer: the best mean Qini AUC, or with ``rule="one_se"`` the simplest learner
    (:data:`COMPLEXITY`) whose mean is within one standard error of the best — on weak effects the
    folds cannot tell close learners apart, and the simpler one generalises more often."""
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; valid rules: {', '.join(SELECTION_RULES)}")
    score = candidates.assign(qini_auc=candidates["qini_auc"].fillna(-np.inf))
    if not per_offer:
        # Stable tie-break: the first learner listed wins among equal means.
        score = score.groupby("learner", sort=False)[["qini_auc", "qini_auc_se"]].mean().reset_index()
        return dict.fromkeys(offers, _pick(score, rule))
    return {offer: _pick(score.loc[score["offer"] == offer], rule) for offer in offers}


def _pick(score: pd.DataFrame, rule: str) -> str:
    best = score.loc[score["qini_auc"].idxmax()]
    if rule == "best":
        return str(best["learner"])
    within = score[score["qini_auc"] >= best["qini_auc"] - best["qini_auc_se"]]
    order = within.assign(complexity=within["learner"].map(COMPLEXITY).fillna(99)).sort_values(
        "complexity", kind="stable"
    )
    return str(order["learner"].iloc[0])


def _marked(candidates: pd.DataFrame, chosen: dict[str, str]) -> pd.DataFrame:
    # The candidates flagged ``selected``, plus one "overall" row per learner (its mean over offers).
    flagged = candidates.assign(selected=candidates["learner"].to_numpy() == candidates["offer"].map(chosen))
    summary = (
        flagged.groupby("learner", sort=False)[list(METRIC_NAMES)]
        .mean()
        .reset_index()
        .assign(offer="overall", selected=lambda d: d["learner"].isin(set(chosen.values())))
    )
    return pd.concat([flagged, summary], ignore_index=True)


def fit_uplift(
    features: pd.DataFrame,
    campaigns: pd.DataFrame,
    settings: UpliftSettings,
    segments: pd.DataFrame | None = None,
) -> UpliftSelection:
    """Pick the uplift learner (per offer, or one for all) by cross-validated Qini AUC, refit on every row.

    Selection runs seeded K-fold cross-validation over the campaign rows (``cv_folds``; below 2,
    the single held-out split), which is far steadier than one split when effects are weak; above
    ``selection_max_rows`` rows it uses a stratified sample of that many. The
    reported ``metrics`` come from the seeded held-out split (the chosen configuration fitted on
    the training part), exactly as :func:`~segmint.uplift.evaluate_uplift` computes them.

    Args:
        features: One row per customer (``customer_id`` + numeric columns) as of the send date.
        campaigns: Canonical campaign rows (``treatment == "control"`` is the control arm).
        settings: The uplift section (learners, folds, split share, LightGBM sizes, seed).
        segments: Optional ``[customer_id, segment_id]``; adds held-out metrics per segment.

    Returns:
        :class:`UpliftSelection`; ``metrics`` has one entry per offer and ``"overall"`` (mean over
        offers), each with bootstrap bounds; ``candidates`` every learner's selection metrics;
        ``qini`` curve points for a plot.

    Raises:
        ValueError: an unknown learner, or campaigns with no offer or no control rows.
    """
    check_learners(settings.learners)
    frame = campaign_frame(features, campaigns)
    X, columns = feature_matrix(frame.drop(columns=["treatment", "converted"]))
    design = campaign_design(frame, X)
    offers = design.offers()
    candidates = _candidate_scores(design, offers, settings)
    chosen = _choose(candidates.table, offers, settings.select_per_offer, settings.selection_rule)
    held_out = held_out_scores(design, chosen, settings, held_out_split(frame, settings))
    model = fit_uplift_model(design, chosen, columns, settings)
    return UpliftSelection(
        model=model,
        name=model.name,
        metrics=held_out_metrics(held_out, settings),
        candidates=_marked(candidates.table, chosen),
        qini=candidates.qini,
        per_segment=None if segments is None else segment_metrics(design, segments, held_out, settings),
    )

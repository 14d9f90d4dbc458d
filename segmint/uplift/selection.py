"""Learner selection by cross-validated Qini AUC on the training part, and :func:`fit_uplift`, which
reports the choice's quality on the test part and refits it on every row."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from segmint.settings import UpliftSettings
from segmint.threads import threaded
from segmint.uplift.comparison import UpliftComparison, compare_uplift, held_out_metrics
from segmint.uplift.design import Design, OfferScores, campaign_design, campaign_rows, design_matrix
from segmint.uplift.evaluation import held_out_scores, segment_metrics, tested_offers
from segmint.uplift.learners import COMPLEXITY, check_learners
from segmint.uplift.metrics import METRIC_NAMES, qini_points, uplift_metrics
from segmint.uplift.model import UpliftModel, fit_uplift_model
from segmint.uplift.splits import (
    EvaluationSplit,
    cross_validation_folds,
    evaluation_split,
    held_out_split,
    selection_rows,
)

SELECTION_RULES = ("best", "one_se")


@dataclass(frozen=True)
class UpliftSelection:
    """The chosen learner refit on all rows, with the evidence for the choice.

    Attributes:
        model: The chosen configuration fitted on every row (what gets deployed).
        name: Its name.
        metrics: Test-part metrics per tested offer and ``"overall"``, with bootstrap bounds.
        candidates: Every learner's cross-validated metrics on the training part.
        qini: Test-part Qini curve points of the chosen learner and of random targeting.
        per_segment: Test-part metrics per segment and offer, when segments were given.
        rows: Which rows ``metrics``, ``qini`` and ``per_segment`` come from.
        selection_rows: Which rows the candidates were cross-validated on.
        baseline: The test-part Qini AUC against random targeting, with its interval.
        dropped_rows: Campaign rows the feature join dropped, per reason.
    """

    model: UpliftModel
    name: str
    metrics: dict[str, dict[str, float]]
    candidates: pd.DataFrame
    qini: pd.DataFrame
    per_segment: pd.DataFrame | None = field(default=None)
    rows: str = ""
    selection_rows: str = ""
    baseline: UpliftComparison | None = None
    dropped_rows: dict[str, int] = field(default_factory=dict)


def _selection_splits(
    design: Design, settings: UpliftSettings, train: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    # The CV folds, or the single inner split when cv_folds < 2, over the selection rows: a sample
    # of the training part only, so nothing selection sees is reported.
    kept = train[selection_rows(design.frame.iloc[train], settings)]
    sample = design.frame.iloc[kept]
    folds = (
        cross_validation_folds(sample, settings)
        if settings.cv_folds >= 2
        else [held_out_split(sample, settings)]
    )
    return [(kept[train], kept[test]) for train, test in folds]


def _split_metrics(
    design: Design,
    name: str,
    offer: str,
    settings: UpliftSettings,
    split: tuple[np.ndarray, np.ndarray],
) -> dict[str, float]:
    scored = design.scored(name, offer, settings, *split)
    return uplift_metrics(scored.outcome, scored.uplift, scored.treated, settings.top_share)


def _candidate(name: str, offer: str, per_split: list[dict[str, float]]) -> dict:
    qinis = np.array([m["qini_auc"] for m in per_split], dtype=float)
    return {
        "learner": name,
        "offer": offer,
        **{key: float(np.nanmean([m[key] for m in per_split])) for key in METRIC_NAMES},
        # Standard error of the mean Qini over folds (0 with a single split).
        "qini_auc_se": float(np.nanstd(qinis) / np.sqrt(len(qinis))) if len(qinis) > 1 else 0.0,
    }


def _held_out_curves(scores: dict[str, OfferScores], chosen: dict[str, str]) -> pd.DataFrame:
    """Test-part Qini curve points of each offer's chosen learner and of random targeting."""
    curves = []
    for offer, scored in scores.items():
        for learner, uplift in ((chosen[offer], scored.uplift), ("random", np.zeros(len(scored.uplift)))):
            grid, values = qini_points(scored.outcome, uplift, scored.treated)
            curves.append(
                pd.DataFrame({"offer": offer, "learner": learner, "fraction": grid, "qini": values})
            )
    return pd.concat(curves, ignore_index=True)


def _candidate_scores(
    design: Design, offers: tuple[str, ...], settings: UpliftSettings, train: np.ndarray
) -> pd.DataFrame:
    """Every learner's metrics per offer: the mean over the CV folds of the training part (or on
    one inner split when ``cv_folds < 2``), with the Qini AUC's standard error over folds. Every
    learner and offer gets the same folds, so the selection budget is the same for each. The fits
    run side by side (:func:`~segmint.threads.threaded`)."""
    splits = _selection_splits(design, settings, train)
    pairs = [(name, offer) for name in dict.fromkeys(settings.learners) for offer in offers]
    fits = threaded(
        [
            partial(_split_metrics, design, name, offer, settings, split)
            for name, offer in pairs
            for split in splits
        ]
    )
    return pd.DataFrame(
        [
            _candidate(name, offer, fits[i * len(splits) : (i + 1) * len(splits)])
            for i, (name, offer) in enumerate(pairs)
        ]
    )


def _selection_description(settings: UpliftSettings, split: EvaluationSplit) -> str:
    sampled = min(len(split.train), settings.selection_max_rows)
    how = (
        f"{settings.cv_folds}-fold CV"
        if settings.cv_folds >= 2
        else f"one inner {settings.test_share:.0%} split"
    )
    return f"training part only: {how} on {sampled} of its {len(split.train)} rows"


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
    customers: pd.DataFrame | None = None,
) -> UpliftSelection:
    """Pick the uplift learner on the training part, report it on the test part, refit it on every row.

    Three ways: :func:`~segmint.uplift.splits.evaluation_split` sets aside the test part (the
    latest wave, or a seeded stratified ``test_share`` of one wave). Selection cross-validates
    every learner (``cv_folds``; below 2, one inner split) on at most ``selection_max_rows`` rows
    of the training part, with the same folds for every learner and offer. The reported metrics,
    per-segment metrics, Qini curves and the baseline interval come from the chosen configuration
    fitted on the training part and scored on the test part, exactly as
    :func:`~segmint.uplift.evaluate_uplift` computes them. The returned model is then refit on
    every row: the numbers describe its configuration.

    Args:
        features: Features per customer (``customer_id`` + numeric columns) as of the send date,
            or per wave and customer (:func:`~segmint.uplift.waves.wave_features`).
        campaigns: Canonical campaign rows (``treatment == "control"`` is the control arm).
        settings: The uplift section (learners, folds, split share, LightGBM sizes, seed).
        segments: Optional ``[customer_id, segment_id]``; adds test-part metrics per segment.
        customers: Optional customers table, to give the reason of every row the join drops.

    Returns:
        :class:`UpliftSelection`; ``metrics`` has one entry per tested offer and ``"overall"``
        (mean over offers), each with bootstrap bounds.

    Raises:
        ValueError: an unknown learner, or campaigns with no offer or no control rows.
    """
    check_learners(settings.learners)
    joined = campaign_rows(features, campaigns, customers)
    X, columns = design_matrix(joined.frame)
    design = campaign_design(joined.frame, X)
    split = evaluation_split(joined.frame, settings)
    offers = design.offers()
    candidates = _candidate_scores(design, offers, settings, split.train)
    chosen = _choose(candidates, offers, settings.select_per_offer, settings.selection_rule)
    tested = {offer: chosen[offer] for offer in tested_offers(design, offers, split)}
    held_out = held_out_scores(design, tested, settings, split)
    model = fit_uplift_model(design, chosen, columns, settings)
    return UpliftSelection(
        model=model,
        name=model.name,
        metrics=held_out_metrics(held_out, settings),
        candidates=_marked(candidates, chosen),
        qini=_held_out_curves(held_out, chosen),
        per_segment=None if segments is None else segment_metrics(design, segments, held_out, settings),
        rows=split.rows,
        selection_rows=_selection_description(settings, split),
        baseline=compare_uplift(held_out, None, settings),
        dropped_rows=joined.dropped,
    )

"""Test-part quality of an uplift configuration: refit on the training part of
:func:`~segmint.uplift.splits.evaluation_split`, scored on its test part, per offer, per segment and
for champion/challenger comparisons."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from segmint.settings import UpliftSettings
from segmint.threads import threaded
from segmint.uplift.comparison import (
    RANDOM_TARGETING,
    UpliftComparison,
    compare_uplift,
    interval_bounds,
    mean_qini,
)
from segmint.uplift.design import Design, OfferScores, campaign_design, campaign_rows, design_matrix
from segmint.uplift.metrics import METRIC_NAMES, uplift_metrics
from segmint.uplift.model import UpliftModel
from segmint.uplift.splits import EvaluationSplit, evaluation_split


def held_out_scores(
    design: Design, learner_names: dict[str, str], settings: UpliftSettings, split: EvaluationSplit
) -> dict[str, OfferScores]:
    """Each offer's learner fitted on the training part of ``split``, scored on its test part.

    Args:
        design: The campaign rows.
        learner_names: The learner per offer.
        settings: The settings the learners are built from.
        split: The training and test parts.
    """
    offers = list(learner_names)
    scored = threaded(
        [
            partial(design.scored, learner_names[offer], offer, settings, split.train, split.test)
            for offer in offers
        ]
    )
    return dict(zip(offers, scored, strict=True))


def tested_offers(design: Design, offers: tuple[str, ...], split: EvaluationSplit) -> tuple[str, ...]:
    """Those of ``offers`` with treated rows in both parts (an offer missing from the latest wave
    cannot be tested on it)."""
    train, test = set(design.treatment[split.train]), set(design.treatment[split.test])
    return tuple(offer for offer in offers if offer in train and offer in test)


def _segment_row(
    segment_id: object, offer: str, scored: OfferScores, mask: np.ndarray, top_share: float
) -> dict:
    outcome, treated, uplift = scored.outcome[mask], scored.treated[mask], scored.uplift[mask]
    complete = treated.sum() > 0 and (1 - treated).sum() > 0
    metrics = uplift_metrics(outcome, uplift, treated, top_share) if complete and len(outcome) >= 10 else {}
    observed = outcome[treated == 1].mean() - outcome[treated == 0].mean() if complete else np.nan
    return {
        "segment_id": segment_id,
        "offer": offer,
        "rows": int(mask.sum()),
        "observed_uplift": float(observed),
        "predicted_uplift": float(uplift.mean()) if len(uplift) else np.nan,
        **{key: metrics.get(key, np.nan) for key in METRIC_NAMES},
    }


def segment_metrics(
    design: Design, segments: pd.DataFrame, scores: dict[str, OfferScores], settings: UpliftSettings
) -> pd.DataFrame:
    """Observed and predicted test-part uplift, and the metrics, per segment and offer.

    Args:
        design: The campaign rows.
        segments: ``[customer_id, segment_id]``.
        scores: The test-part scores per offer (:func:`held_out_scores`).
        settings: The uplift section (``top_share``).
    """
    segment_of = segments.assign(customer_id=segments["customer_id"].astype(str)).set_index("customer_id")[
        "segment_id"
    ]
    segment_of_row = design.frame["customer_id"].map(segment_of).to_numpy()
    rows = []
    for offer, scored in scores.items():
        row_segments = segment_of_row[scored.rows]
        for segment_id in pd.unique(row_segments):
            rows.append(
                _segment_row(segment_id, offer, scored, row_segments == segment_id, settings.top_share)
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class HeldOutScores:
    """A configuration refit on the training part and scored on the test part.

    Attributes:
        scores: Test-part scores per tested offer.
        learners: The learner per tested offer.
        split: The two parts (and which rows the test part is).
    """

    scores: dict[str, OfferScores]
    learners: dict[str, str]
    split: EvaluationSplit


@dataclass(frozen=True)
class _Configuration:
    """A model's learner per tested offer on the campaign rows, with their training and test parts."""

    design: Design
    split: EvaluationSplit
    learners: dict[str, str]
    settings: UpliftSettings


def _configuration(
    model: UpliftModel, features: pd.DataFrame, campaigns: pd.DataFrame, settings: UpliftSettings
) -> _Configuration:
    frame = campaign_rows(features, campaigns).frame
    X, _ = design_matrix(frame, list(model.feature_columns))
    design = campaign_design(frame, X)
    split = evaluation_split(frame, settings)
    offers = tested_offers(design, tuple(model.offers), split)
    if not offers:
        raise ValueError(f"the campaigns' test part holds none of the model's offers {list(model.offers)}")
    learners = {offer: model.learner_names.get(offer, model.name) for offer in offers}
    return _Configuration(design, split, learners, model.settings or settings)


def held_out_configuration(
    model: UpliftModel, features: pd.DataFrame, campaigns: pd.DataFrame, settings: UpliftSettings
) -> HeldOutScores:
    """The model's learner per offer, with the settings it was fitted with, refit on the training
    part of :func:`~segmint.uplift.splits.evaluation_split` (from ``settings``) and scored on the
    test part. Two models evaluated on the same data get the same rows, so they can be compared.

    Raises:
        ValueError: campaigns without control or offer rows, features lacking model columns, or
            none of the model's offers in both parts.
    """
    config = _configuration(model, features, campaigns, settings)
    scores = held_out_scores(config.design, config.learners, config.settings, config.split)
    return HeldOutScores(scores, config.learners, config.split)


def _permuted_qini(design: Design, config: _Configuration) -> float:
    """The mean test-part Qini AUC of ``config``'s learners refit on ``design`` (permuted treatments)."""
    split = config.split
    return mean_qini(design.scored_in_turn(config.learners, config.settings, split.train, split.test))


def against_permuted_treatments(
    model: UpliftModel,
    features: pd.DataFrame,
    campaigns: pd.DataFrame,
    settings: UpliftSettings,
    observed: HeldOutScores | None = None,
) -> UpliftComparison:
    """The model's test-part Qini AUC against the same configuration refit with no effect to learn.

    A bootstrap of the test rows holds the fitted model fixed, so it leaves out how much a learner
    fitted on noise scores by chance: on campaigns with no effect its interval excludes zero far more
    often than its level says. Here the configuration is refit ``settings.null_rounds`` times on the
    training part with the treatments permuted among its rows (no effect is left to learn), each
    refit scored on the real test part. The interval is the observed Qini AUC minus the central
    :data:`INTERVAL_LEVEL` range of those chance scores, so its lower bound is above zero only when
    the model beats (1 − level) / 2 of them from above: a one-sided permutation test. The refits
    run side by side (:func:`~segmint.threads.threaded`), each on its own seeded permutation.

    Args:
        observed: The model's own :func:`held_out_configuration` scores when already computed (the
            same refit on the same rows); None refits it here.

    Raises:
        ValueError: as :func:`held_out_configuration`.
    """
    config = _configuration(model, features, campaigns, settings)
    train = config.split.train
    if observed is None:
        observed = HeldOutScores(
            held_out_scores(config.design, config.learners, config.settings, config.split),
            config.learners,
            config.split,
        )
    real = mean_qini(observed.scores)
    rng = np.random.default_rng(settings.seed)
    permuted = []
    for _ in range(settings.null_rounds):  # drawn in order from one seed, whatever the threads do
        treatment = config.design.treatment.copy()
        treatment[train] = rng.permutation(treatment[train])
        permuted.append(replace(config.design, treatment=treatment))
    chance = threaded([partial(_permuted_qini, design, config) for design in permuted])
    low, high = interval_bounds(real - np.asarray(chance, dtype=np.float64))
    centre = real - float(np.mean(chance)) if chance else real
    offers = tuple(config.learners)
    return UpliftComparison(RANDOM_TARGETING, centre, float(low), float(high), offers, settings.null_rounds)


def held_out_summary(held: HeldOutScores, settings: UpliftSettings) -> dict[str, Any]:
    """The metrics of :func:`evaluate_uplift` from test-part scores."""
    per_offer = {
        offer: {
            "learner": held.learners[offer],
            "n_rows": int(len(scored.outcome)),
            **uplift_metrics(scored.outcome, scored.uplift, scored.treated, settings.top_share),
        }
        for offer, scored in held.scores.items()
    }
    return {
        **{key: float(np.nanmean([m[key] for m in per_offer.values()])) for key in METRIC_NAMES},
        "per_offer": per_offer,
        "n_rows": int(len(held.split.test)),
        "n_train_rows": int(len(held.split.train)),
        "rows": held.split.rows,
        "baseline": compare_uplift(held.scores, None, settings).record(),
    }


def evaluate_uplift(
    model: UpliftModel, features: pd.DataFrame, campaigns: pd.DataFrame, settings: UpliftSettings
) -> dict[str, Any]:
    """Test-part quality of a model's configuration, comparable between champion and challenger.

    A model refit on all rows has seen the test part, so its own predictions would flatter it:
    its configuration is refit on the training part instead (:func:`held_out_configuration`).

    Args:
        model: A fitted :class:`UpliftModel` (only its configuration and feature columns are used).
        features: Features per customer, or per wave and customer; must carry the model's columns.
        campaigns: Canonical campaign rows with a control arm.
        settings: The uplift section whose seed, ``test_share``, ``top_share`` and
            ``bootstrap_rounds`` define the split, uplift@k and the interval.

    Returns:
        ``qini_auc``, ``auuc``, ``uplift_at_30`` (means over offers), ``per_offer`` (the same per
        offer plus its ``learner`` and ``n_rows``), ``n_rows`` (test rows), ``n_train_rows``,
        ``rows`` (which rows the test part is) and ``baseline`` (against random targeting).

    Raises:
        ValueError: as :func:`held_out_configuration`.
    """
    return held_out_summary(held_out_configuration(model, features, campaigns, settings), settings)

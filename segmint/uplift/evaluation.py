"""Held-out quality of an uplift configuration: refit on the training part of the seeded split,
scored on the rest, per offer, per segment and for champion/challenger comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segmint.settings import UpliftSettings
from segmint.uplift.design import Design, OfferScores, campaign_design, campaign_frame, feature_matrix
from segmint.uplift.metrics import METRIC_NAMES, bootstrap_intervals, uplift_metrics
from segmint.uplift.model import UpliftModel
from segmint.uplift.splits import held_out_split


def held_out_scores(
    design: Design,
    learner_names: dict[str, str],
    settings: UpliftSettings,
    split: tuple[np.ndarray, np.ndarray],
) -> dict[str, OfferScores]:
    """Each offer's learner fitted on the train rows of ``split``, scored on its test rows.

    Args:
        design: The campaign rows.
        learner_names: The learner per offer.
        settings: The settings the learners are built from.
        split: ``(train, test)`` row positions.
    """
    train, test = split
    return {offer: design.scored(name, offer, settings, train, test) for offer, name in learner_names.items()}


def held_out_metrics(scores: dict[str, OfferScores], settings: UpliftSettings) -> dict[str, dict[str, float]]:
    """Metrics with bootstrap bounds per offer, and ``"overall"``: their mean over offers."""
    metrics: dict[str, dict[str, float]] = {}
    for j, (offer, scored) in enumerate(scores.items()):
        metrics[offer] = bootstrap_intervals(
            scored.outcome,
            scored.uplift,
            scored.treated,
            settings.bootstrap_rounds,
            settings.seed + j,
            settings.top_share,
        )
    offers = list(scores)
    metrics["overall"] = {
        key: float(np.nanmean([metrics[offer][key] for offer in offers])) for key in metrics[offers[0]]
    }
    return metrics


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
    """Observed and predicted held-out uplift, and the metrics, per segment and offer.

    Args:
        design: The campaign rows.
        segments: ``[customer_id, segment_id]``.
        scores: The held-out scores per offer (:func:`held_out_scores`).
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


def evaluate_uplift(
    model: UpliftModel, features: pd.DataFrame, campaigns: pd.DataFrame, settings: UpliftSettings
) -> dict:
    """Held-out quality of a model's configuration, comparable between champion and challenger.

    The model's learner per offer, with the settings it was fitted with, is refit on the training
    part of the seeded split that :func:`~segmint.uplift.fit_uplift` uses (``settings.seed``/``test_share``)
    and scored on the held-out part: a model refit on all rows has seen those rows, so its own
    predictions would flatter it.

    Args:
        model: A fitted :class:`UpliftModel` (only its configuration and feature columns are used).
        features: One row per customer as of the send date; must carry the model's feature columns.
        campaigns: Canonical campaign rows with a control arm.
        settings: The uplift section whose seed, ``test_share`` and ``top_share`` define the split
            and uplift@k.

    Returns:
        ``qini_auc``, ``auuc``, ``uplift_at_30`` (means over offers), ``per_offer`` (the same per
        offer plus its ``learner`` and ``n_rows``), ``n_rows`` (held-out rows) and ``n_train_rows``.

    Raises:
        ValueError: campaigns without control or offer rows, or features lacking model columns.
    """
    frame = campaign_frame(features, campaigns)
    X, _ = feature_matrix(frame, list(model.feature_columns))
    design = campaign_design(frame, X)
    train, test = held_out_split(frame, settings)
    present = {
        offer: model.learner_names.get(offer, model.name)
        for offer in model.offers
        if (design.treatment == offer).any()
    }
    if not present:
        raise ValueError(f"campaigns hold none of the model's offers {list(model.offers)}")
    scores = held_out_scores(design, present, model.settings or settings, (train, test))
    per_offer = {
        offer: {
            "learner": present[offer],
            "n_rows": int(len(scored.outcome)),
            **uplift_metrics(scored.outcome, scored.uplift, scored.treated, settings.top_share),
        }
        for offer, scored in scores.items()
    }
    return {
        **{key: float(np.nanmean([m[key] for m in per_offer.values()])) for key in METRIC_NAMES},
        "per_offer": per_offer,
        "n_rows": int(len(test)),
        "n_train_rows": int(len(train)),
    }

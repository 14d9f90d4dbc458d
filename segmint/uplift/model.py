"""The fitted uplift model: one uplift learner and one response model per offer, scored as trained."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from segmint.settings import UpliftSettings
from segmint.threads import threaded
from segmint.uplift.design import Design, feature_matrix
from segmint.uplift.learners import BinaryUpliftLearner, fit_classifier, lgb_classifier, positive_proba


@dataclass(frozen=True)
class UpliftModel:
    """Fitted per-offer uplift learners and response models, used for scoring as trained."""

    name: str
    offers: tuple[str, ...]
    feature_columns: tuple[str, ...]
    learners: dict[str, BinaryUpliftLearner]
    response_models: dict[str, object]
    batch_size: int = 200_000
    # The configuration, so that evaluate_uplift can refit it on a split it has not seen.
    learner_names: dict[str, str] = field(default_factory=dict)
    settings: UpliftSettings | None = None

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Uplift and response probability for every customer and offer.

        Returns:
            Long frame ``[customer_id, offer, uplift, response_probability]``, one row per customer
            and offer (customer-major order).
        """
        X, _ = feature_matrix(features, list(self.feature_columns))
        ids = features["customer_id"].astype(str).to_numpy()
        n, k = len(ids), len(self.offers)
        # The offers are scored side by side (their models are distinct objects, and LightGBM
        # releases the GIL); one LightGBM model is never called from two threads at once.
        scored = threaded([partial(self._offer_scores, offer, X) for offer in self.offers])
        uplift = np.column_stack([lift for lift, _ in scored]) if k else np.empty((n, 0))
        response = np.column_stack([respond for _, respond in scored]) if k else np.empty((n, 0))
        return pd.DataFrame(
            {
                "customer_id": np.repeat(ids, k),
                "offer": np.tile(np.asarray(self.offers, dtype=object), n),
                "uplift": uplift.ravel(),
                "response_probability": response.ravel(),
            }
        )

    def _offer_scores(self, offer: str, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Uplift and response probability of ``offer`` for every row of ``X``, in batches that
        bound the memory LightGBM needs for very large customer tables."""
        uplift, response = np.empty(len(X)), np.empty(len(X))
        for start in range(0, len(X), self.batch_size):
            part = X[start : start + self.batch_size]
            uplift[start : start + len(part)] = self.learners[offer].uplift(part)
            response[start : start + len(part)] = positive_proba(self.response_models[offer], part)
        return uplift, response


def model_name(chosen: dict[str, str]) -> str:
    """The learner's name when every offer uses the same one, else ``offer:learner`` pairs joined by ``+``."""
    names = list(dict.fromkeys(chosen.values()))
    return names[0] if len(names) == 1 else "+".join(f"{offer}:{name}" for offer, name in chosen.items())


def _offer_models(
    design: Design, offer: str, name: str, settings: UpliftSettings, rows: np.ndarray
) -> tuple[BinaryUpliftLearner, Any]:
    """``offer``'s learner ``name`` and its response model P(convert | sent the offer), fitted on ``rows``."""
    sent = rows[design.treatment[rows] == offer]
    response = fit_classifier(lgb_classifier(settings, seed_offset=7), design.X[sent], design.y[sent])
    return design.fitted(name, offer, settings, rows), response


def fit_uplift_model(
    design: Design, chosen: dict[str, str], columns: list[str], settings: UpliftSettings
) -> UpliftModel:
    """Each offer's chosen learner, and its response model P(convert | sent the offer), fitted on every row.

    Args:
        design: The campaign rows.
        chosen: The learner per offer, in the model's offer order.
        columns: The feature columns of ``design.X``.
        settings: The uplift section the learners are built from.
    """
    all_rows = np.arange(len(design.frame))
    fitted = threaded(
        [partial(_offer_models, design, offer, name, settings, all_rows) for offer, name in chosen.items()]
    )
    learners = {offer: learner for offer, (learner, _) in zip(chosen, fitted, strict=True)}
    responses = {offer: response for offer, (_, response) in zip(chosen, fitted, strict=True)}
    return UpliftModel(
        model_name(chosen),
        tuple(chosen),
        tuple(columns),
        learners,
        responses,
        learner_names=chosen,
        settings=settings,
    )

"""The blend candidate: a weighted sum of single recommenders' standardised scores."""

from __future__ import annotations

import numpy as np

from segmint.recommend.base import Recommender, scores_on_catalogue
from segmint.recommend.interactions import Interactions
from segmint.recommend.members import make_single_recommender
from segmint.settings import RecommendSettings


class BlendRecommender(Recommender):
    """Weighted sum of member scores, each standardised per customer (z-scores over items)."""

    name = "blend"

    def __init__(self, settings: RecommendSettings, members: list[Recommender] | None = None) -> None:
        super().__init__(settings)
        if len(settings.blend_members) != len(settings.blend_weights):
            raise ValueError("blend_members and blend_weights must have the same length")
        self.members = members

    def _fit(self, interactions: Interactions) -> None:
        if self.members is None:
            self.members = [
                make_single_recommender(name, self.settings) for name in self.settings.blend_members
            ]
        for member in self.members:
            member.fit(interactions)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        total = np.zeros((len(rows), self.X_.shape[1]), dtype=np.float32)
        for member, weight in zip(self.members or [], self.settings.blend_weights, strict=True):
            total += weight * _standardised(member, np.asarray(member._score_rows(rows), np.float32))
        return total


def _standardised(member: Recommender, scores: np.ndarray) -> np.ndarray:
    """Per-customer z-scores of a member's scores, over the items the member models.

    For models restricted to the most popular items (EASE, torch: ``cols_``) the mean and spread
    come from the modelled items only; the others are placed after them as in
    ``scores_on_catalogue``.
    """
    cols = getattr(member, "cols_", None)
    if cols is None or len(cols) == scores.shape[1]:
        centred = scores - scores.mean(axis=1, keepdims=True)
        return centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-12)
    modelled = scores[:, cols]
    modelled = (modelled - modelled.mean(axis=1, keepdims=True)) / np.maximum(
        modelled.std(axis=1, keepdims=True), 1e-12
    )
    return scores_on_catalogue(modelled, cols, member.tiebreak_)

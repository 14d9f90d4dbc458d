"""The allow-list of candidate recommenders, chosen by name."""

from __future__ import annotations

from collections.abc import Callable

from segmint.recommend.base import Recommender
from segmint.recommend.blend import BlendRecommender
from segmint.recommend.members import SINGLE_RECOMMENDERS
from segmint.settings import RecommendSettings

RECOMMENDERS: dict[str, Callable[[RecommendSettings], Recommender]] = {
    **SINGLE_RECOMMENDERS,
    "blend": BlendRecommender,
}


def make_recommender(name: str, settings: RecommendSettings) -> Recommender:
    """An unfitted recommender of kind ``name``.

    Raises:
        ValueError: ``name`` is not in :data:`RECOMMENDERS`.
    """
    if name not in RECOMMENDERS:
        raise ValueError(f"unknown recommender {name!r}; valid: {', '.join(RECOMMENDERS)}")
    return RECOMMENDERS[name](settings)

"""The allow-list of candidate recommenders, chosen by name."""

from __future__ import annotations

from collections.abc import Callable

from segmint.recommend.base import Recommender
from segmint.recommend.models import (
    ALSRecommender,
    BlendRecommender,
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RP3BetaRecommender,
)
from segmint.settings import RecommendSettings


def _torch(settings: RecommendSettings) -> Recommender:
    # torch is imported only when the torch candidate is asked for: it is slow to import.
    from segmint.recommend.torch_model import TorchDAERecommender

    return TorchDAERecommender(settings)


RECOMMENDERS: dict[str, Callable[[RecommendSettings], Recommender]] = {
    "popularity": PopularityRecommender,
    "itemknn": ItemKNNRecommender,
    "rp3beta": RP3BetaRecommender,
    "ease": EASERecommender,
    "als": ALSRecommender,
    "torch": _torch,
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

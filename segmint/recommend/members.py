"""The single recommenders by name: every candidate but the blend, so every possible blend member.

The blend (which makes its members by name) and the candidate allow-list (which adds the blend)
both import this table; keeping it apart from them is what keeps their imports one-way.
"""

from __future__ import annotations

from collections.abc import Callable

import segmint.recommend.models as models
from segmint.recommend.base import Recommender
from segmint.settings import RecommendSettings


def _torch(settings: RecommendSettings) -> Recommender:
    # torch is imported only when the torch candidate is asked for: it is slow to import.
    from segmint.recommend.torch_model import TorchDAERecommender

    return TorchDAERecommender(settings)


SINGLE_RECOMMENDERS: dict[str, Callable[[RecommendSettings], Recommender]] = {
    "popularity": models.PopularityRecommender,
    "recent_popularity": models.RecentPopularityRecommender,
    "itemknn": models.ItemKNNRecommender,
    "rp3beta": models.RP3BetaRecommender,
    "ease": models.EASERecommender,
    "als": models.ALSRecommender,
    "torch": _torch,
}


def make_single_recommender(name: str, settings: RecommendSettings) -> Recommender:
    """An unfitted single (non-blend) recommender of kind ``name``.

    Raises:
        ValueError: ``name`` is not in :data:`SINGLE_RECOMMENDERS`.
    """
    if name not in SINGLE_RECOMMENDERS:
        raise ValueError(
            f"unknown single recommender {name!r} (a blend member cannot be a blend); "
            f"valid: {', '.join(SINGLE_RECOMMENDERS)}"
        )
    return SINGLE_RECOMMENDERS[name](settings)

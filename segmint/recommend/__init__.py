"""Recommenders: implicit feedback, candidate models, the temporal evaluation protocol, selection."""

from segmint.recommend.base import Recommender, top_n_indices
from segmint.recommend.blend import BlendRecommender
from segmint.recommend.evaluation import (
    Split,
    bootstrap_intervals,
    describe_split,
    evaluate_on_split,
    evaluate_recommender,
    paired_bootstrap,
    per_customer_metrics,
    report_cutoff,
    selection_horizon,
    selection_split,
    selection_splits,
    temporal_split,
)
from segmint.recommend.interactions import Interactions, interaction_tables, interactions_from
from segmint.recommend.models import (
    ALSRecommender,
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RecentPopularityRecommender,
    RP3BetaRecommender,
)
from segmint.recommend.registry import RECOMMENDERS, make_recommender
from segmint.recommend.selection import (
    SIMPLICITY,
    RecommenderChoice,
    RecommenderSelection,
    choose_recommender,
    select_recommender,
)

__all__ = [
    "ALSRecommender",
    "BlendRecommender",
    "EASERecommender",
    "Interactions",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "RECOMMENDERS",
    "RP3BetaRecommender",
    "RecentPopularityRecommender",
    "Recommender",
    "RecommenderChoice",
    "RecommenderSelection",
    "SIMPLICITY",
    "Split",
    "bootstrap_intervals",
    "choose_recommender",
    "describe_split",
    "evaluate_on_split",
    "evaluate_recommender",
    "interaction_tables",
    "interactions_from",
    "make_recommender",
    "paired_bootstrap",
    "per_customer_metrics",
    "report_cutoff",
    "select_recommender",
    "selection_horizon",
    "selection_split",
    "selection_splits",
    "temporal_split",
    "top_n_indices",
]

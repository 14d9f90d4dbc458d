"""Model selection in three parts: choose on an inner split, report on the outer test period, refit.

1. Every allowed candidate is fitted on the inner training part and scored on the inner test period
   (:func:`~segmint.recommend.evaluation.selection_split`); the best NDCG@k is chosen.
2. The chosen configuration is refit on the whole outer training part and scored on the outer test
   period, the latest one, which nothing chose on: these are the metrics that are logged, reported
   and gated (with popularity refit on the same part as the paired reference).
3. The chosen configuration is refit on all history: that is the model that is saved and served.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

import pandas as pd

from segmint.contracts import Tables
from segmint.recommend.base import Recommender
from segmint.recommend.evaluation import (
    Split,
    describe_split,
    evaluate_on_split,
    evaluate_recommender,
    paired_bootstrap,
    popular_items_mask,
    selection_split,
    temporal_split,
)
from segmint.recommend.interactions import interactions_from
from segmint.recommend.registry import RECOMMENDERS, make_recommender
from segmint.settings import RecommendSettings

REPORTED: tuple[str, ...] = ("ndcg", "recall", "map", "coverage", "n_customers")


@dataclass(frozen=True)
class RecommenderChoice:
    """The chosen configuration, what selection saw and what the outer test period gave.

    Attributes:
        name: the chosen candidate's name.
        metrics: its metrics on the outer test period (refit on the outer training part) with
            bootstrap ``intervals``, ``vs_popularity`` (paired bootstrap of the NDCG difference
            against popularity refit on the same part), ``fit_seconds``, ``selection_ndcg`` (what
            selection saw) and ``selection_split`` / ``report_split`` (periods and counts).
        candidates: one row per candidate on the inner split (what selection saw): name, ndcg,
            recall, map, coverage, fit_seconds.
        per_segment: the chosen configuration's metrics per segment on the outer test period
            (empty when no segments were given).
        per_customer: its per-customer metrics on the outer test period, for paired comparisons.
    """

    name: str
    metrics: dict
    candidates: pd.DataFrame
    per_segment: pd.DataFrame
    per_customer: pd.DataFrame


@dataclass(frozen=True)
class RecommenderSelection(RecommenderChoice):
    """A :class:`RecommenderChoice` with its model: the chosen configuration refit on all history."""

    model: Recommender = field(kw_only=True)


def choose_recommender(
    tables: Tables, segments: pd.DataFrame | None, settings: RecommendSettings
) -> RecommenderChoice:
    """Choose among ``settings.candidates`` on the inner split and score the choice on the outer one.

    Raises:
        ValueError: an unknown candidate name, no candidates, or no usable orders.
    """
    unknown = [c for c in settings.candidates if c not in RECOMMENDERS]
    if unknown or not settings.candidates:
        raise ValueError(f"unknown or no candidates {unknown}; valid: {', '.join(RECOMMENDERS)}")
    inner = selection_split(tables, settings)
    candidates = candidate_scores(inner, segments, settings)
    best = best_candidate(candidates)
    outer = temporal_split(tables, settings)
    reported = evaluate_recommender(lambda: make_recommender(best, settings), outer, settings, segments)
    metrics = _reported_metrics(best, reported, outer, segments, settings)
    metrics["selection_ndcg"] = float(candidates.set_index("name").loc[best, "ndcg"])
    metrics["selection_split"] = describe_split(inner)
    per_segment = reported.get("per_segment", pd.DataFrame())
    return RecommenderChoice(best, metrics, candidates, per_segment, reported["per_customer"])


def select_recommender(
    tables: Tables, segments: pd.DataFrame | None, settings: RecommendSettings
) -> RecommenderSelection:
    """:func:`choose_recommender`, then the choice refit on all history (the model that is served).

    Raises:
        ValueError: an unknown candidate name, no candidates, or no usable orders.
    """
    choice = choose_recommender(tables, segments, settings)
    final = refit_on_all_history(choice.name, tables, segments, settings)
    return RecommenderSelection(**{f.name: getattr(choice, f.name) for f in fields(choice)}, model=final)


def candidate_scores(
    split: Split, segments: pd.DataFrame | None, settings: RecommendSettings
) -> pd.DataFrame:
    """Each candidate fitted on ``split.train`` and scored on its test period.

    Returns:
        One row per candidate, in ``settings.candidates`` order: name, ndcg, recall, map,
        coverage, fit_seconds.
    """
    rows = []
    for name in settings.candidates:
        started = time.perf_counter()
        model = make_recommender(name, settings).fit(split.train, segments)
        fit_seconds = time.perf_counter() - started
        scored = evaluate_on_split(model, split, settings.k)
        rows.append(
            {
                "name": name,
                **{m: scored[m] for m in ("ndcg", "recall", "map", "coverage")},
                "fit_seconds": fit_seconds,
            }
        )
    return pd.DataFrame(rows, columns=["name", "ndcg", "recall", "map", "coverage", "fit_seconds"])


def best_candidate(candidates: pd.DataFrame) -> str:
    """The name with the highest NDCG (the first listed on ties; an unscored NDCG ranks last)."""
    ranked = candidates.fillna({"ndcg": -1.0}).sort_values("ndcg", ascending=False, kind="stable")
    return str(ranked["name"].iloc[0])


def _reported_metrics(
    name: str,
    reported: dict,
    outer: Split,
    segments: pd.DataFrame | None,
    settings: RecommendSettings,
) -> dict:
    """The outer test period's metrics of ``name``, with its intervals and the popularity reference."""
    metrics = {key: reported[key] for key in REPORTED}
    metrics["k"] = settings.k
    metrics["cutoff"] = str(outer.cutoff)
    metrics["intervals"] = reported["intervals"]
    metrics["fit_seconds"] = reported["fit_seconds"]
    if name != "popularity":
        popular = evaluate_on_split(
            make_recommender("popularity", settings).fit(outer.train, segments), outer, settings.k
        )
        metrics["vs_popularity"] = paired_bootstrap(
            reported["per_customer"], popular["per_customer"], settings.bootstrap_rounds, settings.seed
        )
    metrics["report_split"] = describe_split(outer)
    return metrics


def refit_on_all_history(
    name: str, tables: Tables, segments: pd.DataFrame | None, settings: RecommendSettings
) -> Recommender:
    """The configuration ``name`` fitted on every purchase (items kept by the same customer filter)."""
    full = interactions_from(tables, settings)
    full = full.restrict_items(popular_items_mask(full, settings.min_item_customers))
    return make_recommender(name, settings).fit(full, segments)

"""Model selection: every allowed candidate on one temporal split, the winner refit on all history."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from segmint.contracts import Tables
from segmint.recommend.base import Recommender
from segmint.recommend.evaluation import (
    bootstrap_intervals,
    evaluate_on_split,
    paired_bootstrap,
    popular_items_mask,
    temporal_split,
)
from segmint.recommend.interactions import interactions_from
from segmint.recommend.registry import RECOMMENDERS, make_recommender
from segmint.settings import RecommendSettings


@dataclass(frozen=True)
class RecommenderSelection:
    """The chosen recommender and how every candidate scored.

    Attributes:
        model: the best candidate refit on all history.
        name: its candidate name.
        metrics: the winner's held-out metrics with bootstrap ``intervals`` and, when popularity
            was a candidate, ``vs_popularity`` (paired bootstrap of the NDCG difference).
        candidates: one row per candidate: name, ndcg, recall, map, coverage, fit_seconds.
        per_segment: the winner's metrics per segment (empty when no segments were given).
    """

    model: Recommender
    name: str
    metrics: dict
    candidates: pd.DataFrame
    per_segment: pd.DataFrame


def select_recommender(
    tables: Tables, segments: pd.DataFrame | None, settings: RecommendSettings
) -> RecommenderSelection:
    """Fit each of ``settings.candidates`` on the temporal split, keep the best NDCG@k, refit it.

    Raises:
        ValueError: an unknown candidate name, no candidates, or no usable orders.
    """
    unknown = [c for c in settings.candidates if c not in RECOMMENDERS]
    if unknown or not settings.candidates:
        raise ValueError(f"unknown or no candidates {unknown}; valid: {', '.join(RECOMMENDERS)}")
    split = temporal_split(tables, settings)
    results: dict[str, dict] = {}
    rows = []
    for name in settings.candidates:
        started = time.perf_counter()
        model = make_recommender(name, settings).fit(split.train, segments)
        fit_seconds = time.perf_counter() - started
        res = evaluate_on_split(model, split, settings.k, segments)
        results[name] = res
        rows.append(
            {
                "name": name,
                "ndcg": res["ndcg"],
                "recall": res["recall"],
                "map": res["map"],
                "coverage": res["coverage"],
                "fit_seconds": fit_seconds,
            }
        )
    candidates = pd.DataFrame(rows)
    ranked = candidates.fillna({"ndcg": -1.0}).sort_values("ndcg", ascending=False, kind="stable")
    best = str(ranked["name"].iloc[0])
    win = results[best]
    metrics = {key: win[key] for key in ("ndcg", "recall", "map", "coverage", "n_customers")}
    metrics["k"] = settings.k
    metrics["cutoff"] = str(split.cutoff)
    metrics["intervals"] = bootstrap_intervals(win["per_customer"], settings.bootstrap_rounds, settings.seed)
    if "popularity" in results and best != "popularity":
        metrics["vs_popularity"] = paired_bootstrap(
            win["per_customer"],
            results["popularity"]["per_customer"],
            settings.bootstrap_rounds,
            settings.seed,
        )
    full = interactions_from(tables, settings)
    full = full.restrict_items(popular_items_mask(full, settings.min_item_customers))
    final = make_recommender(best, settings).fit(full, segments)
    per_segment = win.get("per_segment", pd.DataFrame())
    return RecommenderSelection(final, best, metrics, candidates, per_segment)

"""Model selection in three parts: choose on rolling inner cuts, report on the outer test period, refit.

1. Every allowed candidate, under every recency half-life of the grid, is fitted on each inner
   cut's training part and scored on its test period, as long as the served horizon
   (:func:`~segmint.recommend.evaluation.selection_splits`); the best mean NDCG@k leads, and the
   simplest candidate within the noise of it (paired interval covering zero) is chosen.
2. The chosen configuration is refit on the whole outer training part and scored on the outer test
   period, the latest one, which nothing chose on: these are the metrics that are logged, reported
   and gated (with popularity refit on the same part as the paired reference).
3. The chosen configuration is refit on all history: that is the model that is saved and served.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

import numpy as np
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
    selection_splits,
    temporal_split,
)
from segmint.recommend.interactions import interactions_from
from segmint.recommend.registry import RECOMMENDERS, make_recommender
from segmint.settings import RecommendSettings

REPORTED: tuple[str, ...] = ("ndcg", "recall", "map", "coverage", "n_customers")
# Simplest first: within the noise of the best, the earliest listed candidate is served.
SIMPLICITY: tuple[str, ...] = (
    "popularity",
    "recent_popularity",
    "itemknn",
    "rp3beta",
    "ease",
    "als",
    "torch",
    "blend",
)
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "name",
    "recency_half_life_days",
    "ndcg",
    "ndcg_cuts",
    "recall",
    "map",
    "coverage",
    "fit_seconds",
    "stopped",
)


@dataclass(frozen=True)
class RecommenderChoice:
    """The chosen configuration, what selection saw and what the outer test period gave.

    Attributes:
        name: the chosen candidate's name.
        metrics: its metrics on the outer test period (refit on the outer training part) with
            bootstrap ``intervals``, ``vs_popularity`` (paired bootstrap of the NDCG difference
            against popularity refit on the same part), ``fit_seconds``, ``recency_half_life_days``,
            ``selection_ndcg`` (what selection saw: the mean over the cuts), ``selection_rule``
            (the front runner and the paired test that let a simpler candidate win),
            ``selection_split`` (the latest cut) / ``selection_splits`` (every cut) /
            ``report_split`` (periods and counts) and, with torch, ``torch_stopped``.
        candidates: one row per candidate and half-life on the inner cuts (what selection saw):
            :data:`CANDIDATE_COLUMNS`.
        per_segment: the chosen configuration's metrics per segment on the outer test period
            (empty when no segments were given).
        per_customer: its per-customer metrics on the outer test period, for paired comparisons.
        settings: the chosen configuration's settings (its recency half-life set).
    """

    name: str
    metrics: dict
    candidates: pd.DataFrame
    per_segment: pd.DataFrame
    per_customer: pd.DataFrame
    settings: RecommendSettings


@dataclass(frozen=True)
class RecommenderSelection(RecommenderChoice):
    """A :class:`RecommenderChoice` with its model: the chosen configuration refit on all history."""

    model: Recommender = field(kw_only=True)


def choose_recommender(
    tables: Tables, segments: pd.DataFrame | None, settings: RecommendSettings
) -> RecommenderChoice:
    """Choose among ``settings.candidates`` on the inner cuts and score the choice on the outer split.

    Each candidate is tried under every half-life of :func:`half_lives` on every inner cut; the
    configuration with the best mean NDCG is the front runner, and the simplest candidate whose
    paired interval against it covers zero (:data:`SIMPLICITY`) is chosen.

    Raises:
        ValueError: an unknown candidate name, no candidates, or no usable orders.
    """
    unknown = [c for c in settings.candidates if c not in RECOMMENDERS]
    if unknown or not settings.candidates:
        raise ValueError(f"unknown or no candidates {unknown}; valid: {', '.join(RECOMMENDERS)}")
    lives = dict.fromkeys(life for name in settings.candidates for life in half_lives(name, settings))
    cuts = decayed_cuts(selection_splits(tables, settings), lives)
    candidates, per = candidate_scores(cuts, segments, settings)
    rule = chosen_configuration(candidates, per, settings)
    chosen = settings.model_copy(update={"recency_half_life_days": rule["recency_half_life_days"]})
    best = str(rule["name"])
    outer = temporal_split(tables, chosen)
    reported = evaluate_recommender(lambda: make_recommender(best, chosen), outer, chosen, segments)
    metrics = _reported_metrics(best, reported, outer, segments, chosen)
    metrics["recency_half_life_days"] = chosen.recency_half_life_days
    metrics["selection_ndcg"] = rule["ndcg"]
    metrics["selection_rule"] = {k: v for k, v in rule.items() if k not in ("name", "ndcg")}
    first_cuts = next(iter(cuts.values()))
    metrics["selection_split"] = describe_split(first_cuts[0])
    metrics["selection_splits"] = [describe_split(split) for split in first_cuts]
    stopped = candidates["stopped"].dropna().tolist()
    if stopped:
        metrics["torch_stopped"] = "time_budget" if "time_budget" in stopped else stopped[0]
    per_segment = reported.get("per_segment", pd.DataFrame())
    return RecommenderChoice(best, metrics, candidates, per_segment, reported["per_customer"], chosen)


def select_recommender(
    tables: Tables, segments: pd.DataFrame | None, settings: RecommendSettings
) -> RecommenderSelection:
    """:func:`choose_recommender`, then the choice refit on all history (the model that is served).

    Raises:
        ValueError: an unknown candidate name, no candidates, or no usable orders.
    """
    choice = choose_recommender(tables, segments, settings)
    final = refit_on_all_history(choice.name, tables, segments, choice.settings)
    return RecommenderSelection(**{f.name: getattr(choice, f.name) for f in fields(choice)}, model=final)


def decayed_cuts(splits: list[Split], lives: Iterable[float | None]) -> dict[float | None, list[Split]]:
    """``splits`` under each half-life of ``lives``: the same pairs and periods, only the values decay.

    The orders are read once; each half-life redecays the kept raw values
    (:meth:`~segmint.recommend.interactions.Interactions.with_half_life`).
    """
    return {
        life: [dataclasses.replace(split, train=split.train.with_half_life(life)) for split in splits]
        for life in lives
    }


def half_lives(name: str, settings: RecommendSettings) -> tuple[float | None, ...]:
    """The recency half-lives ``name`` is tried under: ``recency_grid_days`` (else the one setting).

    Popularity counts buyers whatever their values, so it is tried once, undecayed; recent
    popularity only under a half-life when the grid has one.
    """
    grid = tuple(settings.recency_grid_days) or (settings.recency_half_life_days,)
    if name == "popularity":
        return (None,)
    if name == "recent_popularity":
        return tuple(life for life in grid if life is not None) or grid
    return grid


def candidate_scores(
    cuts: dict[float | None, list[Split]], segments: pd.DataFrame | None, settings: RecommendSettings
) -> tuple[pd.DataFrame, dict[tuple[str, float | None], pd.DataFrame]]:
    """Each candidate under each of its half-lives, fitted and scored on every inner cut.

    Args:
        cuts: the inner cuts under each half-life (the same periods; only the values decay).

    Returns:
        One row per configuration, in ``settings.candidates`` order: name,
        recency_half_life_days, ndcg (the mean over cuts), ndcg_cuts, recall, map, coverage,
        fit_seconds (over all cuts) and stopped (why torch stopped; None for the others); and
        the per-customer rows of each configuration over all cuts (ids prefixed by the cut), for
        paired comparisons.
    """
    rows: list[dict] = []
    per: dict[tuple[str, float | None], pd.DataFrame] = {}
    for name in settings.candidates:
        for life in half_lives(name, settings):
            configured = settings.model_copy(update={"recency_half_life_days": life})
            scored = [_fitted_and_scored(name, split, segments, configured) for split in cuts[life]]
            rows.append(
                {
                    "name": name,
                    "recency_half_life_days": life,
                    **{
                        m: float(np.mean([s[m] for s in scored]))
                        for m in ("ndcg", "recall", "map", "coverage")
                    },
                    "ndcg_cuts": [s["ndcg"] for s in scored],
                    "fit_seconds": float(sum(s["fit_seconds"] for s in scored)),
                    "stopped": _worst_stop([s["stopped"] for s in scored]),
                }
            )
            per[(name, life)] = pd.concat(
                [
                    s["per_customer"].assign(
                        customer_id=f"{i}:" + s["per_customer"]["customer_id"].astype(str)
                    )
                    for i, s in enumerate(scored)
                ],
                ignore_index=True,
            )
    frame = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    # None (no decay) stays None rather than NaN, so a row's half-life keys its per-customer rows.
    frame["recency_half_life_days"] = pd.Series([r["recency_half_life_days"] for r in rows], dtype=object)
    return frame, per


def _fitted_and_scored(
    name: str, split: Split, segments: pd.DataFrame | None, settings: RecommendSettings
) -> dict:
    """``name`` fitted on ``split.train`` and scored on its test period, with fit time and stop reason."""
    started = time.perf_counter()
    model = make_recommender(name, settings).fit(split.train, segments)
    fit_seconds = time.perf_counter() - started
    return {
        **evaluate_on_split(model, split, settings.k),
        "fit_seconds": fit_seconds,
        "stopped": getattr(model, "stopped_", None),
    }


def _worst_stop(reasons: list[str | None]) -> str | None:
    """The stop reason to report over several fits: a blown time budget first."""
    known = [r for r in reasons if r is not None]
    return "time_budget" if "time_budget" in known else (known[0] if known else None)


def chosen_configuration(
    candidates: pd.DataFrame, per: dict[tuple[str, float | None], pd.DataFrame], settings: RecommendSettings
) -> dict:
    """The configuration to serve: the simplest whose NDCG is within the noise of the best mean.

    Each candidate keeps its best half-life; the front runner is the best mean NDCG over the cuts
    (the first listed on ties; an unscored NDCG ranks last). A simpler candidate (earlier in
    :data:`SIMPLICITY`) wins when the paired bootstrap interval of the front runner's NDCG minus
    its own, over the same customers of every cut, reaches zero; the simplest such wins.

    Returns:
        {"name", "recency_half_life_days", "ndcg", "best", "best_recency_half_life_days",
        "best_ndcg", "simpler_within_noise", "vs_best"} (``vs_best``: the paired bootstrap of the
        front runner minus the choice; None when the front runner is chosen).
    """
    ranked = candidates.fillna({"ndcg": -1.0}).sort_values("ndcg", ascending=False, kind="stable")
    own_best = ranked.drop_duplicates("name")
    top = own_best.iloc[0]
    chosen, vs_best = top, None
    simpler = own_best[own_best["name"].map(SIMPLICITY.index) < SIMPLICITY.index(top["name"])]
    for _, row in simpler.sort_values("name", key=lambda n: n.map(SIMPLICITY.index)).iterrows():
        paired = paired_bootstrap(
            per[(top["name"], _life(top["recency_half_life_days"]))],
            per[(row["name"], _life(row["recency_half_life_days"]))],
            settings.bootstrap_rounds,
            settings.seed,
        )
        if paired["low"] <= 0:
            chosen, vs_best = row, paired
            break
    return {
        "name": str(chosen["name"]),
        "recency_half_life_days": _life(chosen["recency_half_life_days"]),
        "ndcg": float(chosen["ndcg"]),
        "best": str(top["name"]),
        "best_recency_half_life_days": _life(top["recency_half_life_days"]),
        "best_ndcg": float(top["ndcg"]),
        "simpler_within_noise": vs_best is not None,
        "vs_best": vs_best,
    }


def _life(value: object) -> float | None:
    """A half-life read back from a frame cell: None for a missing one."""
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


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

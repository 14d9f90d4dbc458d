"""Tune our recommenders and the peers on the inner split, with the same budget for each.

Everything here is fitted and scored on ``segmint.recommend.selection_split`` of Online Retail
2010-11: the training period cut again, its test period as long as the outer one and ending at the
outer cutoff. The outer test period (the latest one, where ``benchmarks.recsys`` reports) is never
read. Every tuned model, ours and the peers', gets the same budget: three settings of its own knobs
times the two recency options (no decay, or a half-life of 240 days) = six configurations.

Every model with knobs is tuned, whether ``params.yaml`` lists it among the default candidates or
not (torch and the blend are optional). The default candidates share one
``recency_half_life_days`` in ``params.yaml``; the option kept is the one under which the best of
them scores highest, and each model keeps its best knobs under it. The
blend's members keep their own best knobs and only its weights are tuned. A peer keeps its best
configuration, recency included. Our item models score a customer from their history under
``params.yaml``'s ``history_half_life_days`` (``benchmarks.recsys_history``); the peers, plain EASE
included, from the matrix they were fitted on. Writes the grid, every score and the choices to
``benchmarks/results/recsys_tune.json``; ``params.yaml`` (``recommend``) cites it.
``benchmarks.recsys`` makes its peers here (:func:`make_peer`) and tunes them on its own cuts.

    python -m benchmarks.recsys_tune
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.online_retail_tables import online_retail_tables
from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from segmint.contracts import Tables
from segmint.recommend import (
    BlendRecommender,
    Interactions,
    Recommender,
    Split,
    describe_split,
    evaluate_on_split,
    make_recommender,
    selection_split,
)
from segmint.settings import RecommendSettings, load_settings

ROOT = PROJECT_ROOT
RESULTS = RESULTS_DIR / "recsys_tune.json"

RECENCY_OPTIONS: tuple[float | None, ...] = (None, 240.0)

# Three settings of each model's own knobs; each is tried under every recency option.
OUR_KNOBS: dict[str, tuple[dict[str, Any], ...]] = {
    "ease": ({"ease_lambda": 200.0}, {"ease_lambda": 500.0}, {"ease_lambda": 1000.0}),
    "itemknn": ({"knn_neighbours": 50}, {"knn_neighbours": 100}, {"knn_neighbours": 200}),
    "als": (
        {"als_factors": 64, "als_regularization": 0.05, "als_alpha": 2.0},
        {"als_factors": 128, "als_regularization": 0.1, "als_alpha": 5.0},
        {"als_factors": 64, "als_regularization": 0.5, "als_alpha": 10.0},
    ),
    "torch": (
        {"torch_l2": 500.0, "torch_lr": 1e-3},
        {"torch_l2": 500.0, "torch_lr": 3e-3},
        {"torch_l2": 200.0, "torch_lr": 3e-3},
    ),
    "blend": (
        {"blend_weights": (0.7, 0.1, 0.2)},
        {"blend_weights": (0.5, 0.25, 0.25)},
        {"blend_weights": (0.8, 0.0, 0.2)},
    ),
}
# The peers' knobs, named as their libraries name them. ALS gets the same three (factors,
# regularisation, alpha) as ours; BM25 item-kNN the same neighbour counts.
PEER_KNOBS: dict[str, tuple[dict[str, Any], ...]] = {
    "implicit_als": (
        {"factors": 64, "regularization": 0.05, "alpha": 2.0},
        {"factors": 128, "regularization": 0.1, "alpha": 5.0},
        {"factors": 64, "regularization": 0.5, "alpha": 10.0},
    ),
    "implicit_bm25": ({"K": 50}, {"K": 100}, {"K": 200}),
}
# The EASE peer is plain EASE (our implementation, a customer scored from the matrix it was fitted
# on): the candidate's three penalties under each recency option.
EASE_PEER = "ease_peer"


class ImplicitPeer(Recommender):
    """An ``implicit`` model scored through our batched top-N, seen-item masking and metrics.

    It is fitted on the same interaction values as our models (recency-decayed when the settings
    say so), and keeps only what scoring needs.
    """

    def __init__(self, settings: RecommendSettings, name: str, factory: Callable[[], Any]) -> None:
        super().__init__(settings)
        self.name = name
        self.factory = factory

    def _fit(self, interactions: Interactions) -> None:
        model = self.factory()
        # implicit's own threading is what it is tuned for; BLAS threads under it oversubscribe.
        with threadpool_limits(1, "blas"):
            model.fit(self.X_, show_progress=False)
        if hasattr(model, "similarity"):
            self.similarity_ = model.similarity.tocsr().astype(np.float32)
        else:
            self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
            self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        if hasattr(self, "similarity_"):
            return np.asarray((self.X_[rows] @ self.similarity_).todense(), dtype=np.float32)
        return self.user_factors_[rows] @ self.item_factors_.T


def make_peer(name: str, knobs: dict[str, Any], settings: RecommendSettings) -> Recommender:
    """An unfitted peer: ``implicit_als``, ``implicit_bm25``, ``implicit_cosine``, ``ease_peer``,
    ``recent_popularity`` or ``popularity``.

    ``settings`` gives the seed (and, for EASE, every knob ``knobs`` does not set); the recency
    option acts through the interactions the peer is fitted on.
    """
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    if name == "implicit_als":
        return ImplicitPeer(
            settings,
            name,
            lambda: AlternatingLeastSquares(**knobs, iterations=15, random_state=settings.seed),
        )
    if name == "implicit_bm25":
        return ImplicitPeer(settings, name, lambda: BM25Recommender(**knobs))
    if name == "implicit_cosine":
        return ImplicitPeer(settings, name, lambda: CosineRecommender(**knobs))
    if name == "recent_popularity":
        return make_recommender("recent_popularity", settings)
    if name == EASE_PEER:
        # plain EASE: a customer is scored from the matrix it was fitted on, as the library does
        return make_recommender(
            "ease", settings.model_copy(update={"history_half_life_days": "fitted", **knobs})
        )
    if name == "popularity":
        return make_recommender("popularity", settings)
    raise ValueError(
        f"unknown peer {name!r}; valid: implicit_als, implicit_bm25, implicit_cosine, {EASE_PEER}, "
        "recent_popularity, popularity"
    )


def recency_splits(tables: Tables, base: RecommendSettings) -> dict[float | None, Split]:
    """The inner split under each recency option (the same pairs; only the values decay)."""
    splits = {
        r: selection_split(tables, base.model_copy(update={"recency_half_life_days": r}))
        for r in RECENCY_OPTIONS
    }
    first, *others = splits.values()
    for other in others:
        assert (first.relevant != other.relevant).nnz == 0
        assert np.array_equal(first.test_customers, other.test_customers)
    return splits


def scored_row(model: Recommender, split: Split, k: int, about: dict[str, Any]) -> dict[str, Any]:
    """Fit ``model`` on the split's training part and score it: ``about`` plus its numbers."""
    started = time.perf_counter()
    model.fit(split.train)
    fit_seconds = time.perf_counter() - started
    result = evaluate_on_split(model, split, k)
    row = {
        **about,
        "ndcg": result["ndcg"],
        "recall": result["recall"],
        "map": result["map"],
        "coverage": result["coverage"],
        "fit_seconds": round(fit_seconds, 2),
        "epochs": getattr(model, "epochs_", None),
    }
    print(
        f"{row['model']:14s} r={str(row['recency_half_life_days']):5s} {json.dumps(row['knobs']):66s} "
        f"ndcg={row['ndcg']:.4f} fit={fit_seconds:.1f}s",
        flush=True,
    )
    return row


def _about(model: str, kind: str, knobs: dict[str, Any], recency: float | None) -> dict[str, Any]:
    return {"model": model, "kind": kind, "knobs": knobs, "recency_half_life_days": recency}


def single_rows(
    splits: dict[float | None, Split], base: RecommendSettings
) -> tuple[list[dict[str, Any]], dict[tuple[str, int, float | None], Recommender]]:
    """Our single models over their grid: the rows, and the fitted blend members by (name, knobs, r)."""
    rows: list[dict[str, Any]] = []
    fitted: dict[tuple[str, int, float | None], Recommender] = {}
    # every model with knobs is tuned, in the default candidates or not: params.yaml cites them all
    singles = [n for n in dict.fromkeys((*base.candidates, *OUR_KNOBS, *base.blend_members)) if n != "blend"]
    for name in singles:
        kind = _kind(name, base)
        for recency, split in splits.items():
            for index, knobs in enumerate(OUR_KNOBS.get(name, ({},))):
                settings = base.model_copy(update={**knobs, "recency_half_life_days": recency})
                model = make_recommender(name, settings)
                rows.append(scored_row(model, split, base.k, _about(name, kind, knobs, recency)))
                if name in base.blend_members:
                    fitted[(name, index, recency)] = model
    return rows, fitted


def _kind(name: str, base: RecommendSettings) -> str:
    """``candidate`` (a default one), ``blend member`` or ``optional candidate``."""
    if name in base.candidates:
        return "candidate"
    return "blend member" if name in base.blend_members else "optional candidate"


def _best_knobs(rows: list[dict[str, Any]], name: str, recency: float | None) -> dict[str, Any]:
    """The knobs of ``name``'s best row under ``recency``."""
    own = [r for r in rows if r["model"] == name and r["recency_half_life_days"] == recency]
    return max(own, key=lambda r: r["ndcg"])["knobs"]


class _FittedBlend(BlendRecommender):
    """A blend of members already fitted on the same interactions: only the weights are new."""

    def _fit(self, interactions: Interactions) -> None:
        pass


def blend_rows(
    splits: dict[float | None, Split],
    base: RecommendSettings,
    rows: list[dict[str, Any]],
    fitted: dict[tuple[str, int, float | None], Recommender],
) -> list[dict[str, Any]]:
    """The blend's weights over their grid, its members at their best knobs under each recency."""
    out = []
    for recency, split in splits.items():
        member_knobs = [_best_knobs(rows, name, recency) for name in base.blend_members]
        members = [
            fitted[(name, OUR_KNOBS.get(name, ({},)).index(knobs), recency)]
            for name, knobs in zip(base.blend_members, member_knobs, strict=True)
        ]
        merged = {key: value for knobs in member_knobs for key, value in knobs.items()}
        for knobs in OUR_KNOBS["blend"]:
            settings = base.model_copy(update={**merged, **knobs, "recency_half_life_days": recency})
            model = _FittedBlend(settings, members)
            about = _about("blend", _kind("blend", base), {**knobs, "members": merged}, recency)
            out.append(scored_row(model, split, base.k, about))
    return out


def peer_rows(splits: dict[float | None, Split], base: RecommendSettings) -> list[dict[str, Any]]:
    """The implicit peers and plain EASE over their grids, and popularity (nothing to tune) once."""
    rows = []
    for name, grid in {**PEER_KNOBS, EASE_PEER: OUR_KNOBS["ease"]}.items():
        for recency, split in splits.items():
            for knobs in grid:
                settings = base.model_copy(update={"recency_half_life_days": recency})
                model = make_peer(name, knobs, settings)
                rows.append(scored_row(model, split, base.k, _about(name, "peer", knobs, recency)))
    popular = make_peer("popularity", {}, base)
    rows.append(scored_row(popular, splits[None], base.k, _about("popularity", "peer", {}, None)))
    return rows


def chosen_settings(rows: list[dict[str, Any]], base: RecommendSettings) -> dict[str, Any]:
    """The recency option and knobs for ``params.yaml``, and every recency option's best candidate.

    Returns:
        {"recommend": settings to write, "by_recency": {r: {"best_candidate", "ndcg"}}}.
    """
    by_recency = {}
    for recency in RECENCY_OPTIONS:
        ours = [
            r
            for r in rows
            if r["kind"] == "candidate"
            and r["recency_half_life_days"] == recency
            and r["model"] in base.candidates
        ]
        best = max(ours, key=lambda r: r["ndcg"])
        by_recency[str(recency)] = {"best_candidate": best["model"], "ndcg": best["ndcg"], "recency": recency}
    kept = max(by_recency.values(), key=lambda v: v["ndcg"])["recency"]
    recommend: dict[str, Any] = {"recency_half_life_days": kept}
    for name in dict.fromkeys((*base.candidates, *OUR_KNOBS, *base.blend_members)):
        if any(r["model"] == name for r in rows):
            knobs = dict(_best_knobs(rows, name, kept))
            knobs.pop("members", None)
            recommend.update(knobs)
    return {"recommend": recommend, "by_recency": by_recency}


def chosen_peers(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each peer's best configuration over its whole grid (recency included)."""
    peers = {}
    for name, source in (
        ("implicit_als", "implicit_als"),
        ("implicit_bm25", "implicit_bm25"),
        (EASE_PEER, EASE_PEER),
        ("popularity", "popularity"),
    ):
        best = max((r for r in rows if r["model"] == source), key=lambda r: r["ndcg"])
        peers[name] = {
            "knobs": best["knobs"],
            "recency_half_life_days": best["recency_half_life_days"],
            "ndcg": best["ndcg"],
        }
    return peers


def write_results(out: dict[str, Any]) -> None:
    """Write ``out`` to :data:`RESULTS` (atomically)."""
    write_json(RESULTS, out)


def run() -> dict[str, Any]:
    """Tune on the inner split; print each configuration and write the grid, scores and choices.

    Returns:
        What is written to ``benchmarks/results/recsys_tune.json``.
    """
    started = time.perf_counter()
    base = load_settings(ROOT / "params.yaml").recommend.model_copy(update={"bootstrap_rounds": 0})
    splits = recency_splits(online_retail_tables(), base)
    rows, fitted = single_rows(splits, base)
    rows += blend_rows(splits, base, rows, fitted)
    rows += peer_rows(splits, base)
    out = {
        "command": "python -m benchmarks.recsys_tune",
        "dataset": "online_retail_2010_2011",
        "selection_split": describe_split(splits[None]),
        "budget": "per tuned model: 3 settings of its knobs x recency options = 6 configurations",
        "recency_options": list(RECENCY_OPTIONS),
        "grid": {"ours": OUR_KNOBS, "peers": PEER_KNOBS},
        "fixed": {
            "torch_max_epochs": base.torch_max_epochs,
            "torch_max_seconds": base.torch_max_seconds,
            "blend_members": list(base.blend_members),
            "candidates": list(base.candidates),
        },
        "rows": rows,
        "chosen": chosen_settings(rows, base),
        "peers": chosen_peers(rows),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_results(out)
    print(json.dumps({"chosen": out["chosen"], "peers": out["peers"]}, indent=2, default=float))
    return out


if __name__ == "__main__":
    run()

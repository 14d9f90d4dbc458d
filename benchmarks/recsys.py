"""Recommender quality on Online Retail 2010-2011: our candidates and the peers, one split.

Protocol (``segmint.recommend.temporal_split``): cut at the 0.8 quantile of purchase times, keep
items bought by ≥ 5 customers before it, score customers with history on items they bought after
the cutoff and never before; k = 10. Peers: the ``implicit`` library's ALS, BPR and BM25 item-kNN,
and EASE (λ = 500) — each wrapped so that it is scored by exactly the same code. The champion is
our best candidate; a paired bootstrap over customers compares it with the best peer.

    python -m benchmarks.recsys            # prints a table, writes benchmarks/results/recsys.json
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from benchmarks.online_retail_tables import online_retail_tables
from segmint.recommend import (
    Interactions,
    Recommender,
    Split,
    bootstrap_intervals,
    evaluate_on_split,
    make_recommender,
    paired_bootstrap,
    temporal_split,
)
from segmint.settings import RecommendSettings, load_settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "recsys.json"

# Our candidates run with the project's own settings (params.yaml → recommend), the ones the
# pipeline's recommend stage selects with, tuned on a validation split inside the training period
# (benchmarks/recsys_tune.py), never on test.
CANDIDATES = ("popularity", "itemknn", "rp3beta", "ease", "als", "torch", "blend")


class ImplicitPeer(Recommender):
    """An ``implicit`` model scored through our batched top-N, seen-item masking and metrics."""

    def __init__(self, settings: RecommendSettings, name: str, factory: Callable[[], Any]) -> None:
        super().__init__(settings)
        self.name = name
        self.factory = factory

    def _fit(self, interactions: Interactions) -> None:
        self.model_ = self.factory()
        # implicit's own threading is what it is tuned for; BLAS threads fight it.
        with threadpool_limits(1, "blas"):
            self.model_.fit((self.X_ > 0).astype(np.float32).tocsr(), show_progress=False)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        m = self.model_
        if hasattr(m, "similarity"):
            return np.asarray((self.X_[rows] > 0).astype(np.float32) @ m.similarity.todense())
        return np.asarray(m.user_factors[rows] @ m.item_factors.T)


def peers(settings: RecommendSettings, seed: int) -> dict[str, Recommender]:
    """The peers by name, unfitted: ``implicit``'s ALS, BPR and BM25 item-kNN, and EASE with λ = 500."""
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender

    return {
        "implicit_als": ImplicitPeer(
            settings, "implicit_als", lambda: AlternatingLeastSquares(factors=64, random_state=seed)
        ),
        "implicit_bpr": ImplicitPeer(
            settings, "implicit_bpr", lambda: BayesianPersonalizedRanking(factors=64, random_state=seed)
        ),
        "implicit_bm25": ImplicitPeer(settings, "implicit_bm25", lambda: BM25Recommender(K=100)),
        "ease_500": make_recommender("ease", settings.model_copy(update={"ease_lambda": 500.0})),
    }


@dataclass(frozen=True)
class _Entry:
    """A model to fit and score: its name, whether it is ours or a peer's, and the split it runs on."""

    name: str
    model: Recommender
    split: Split
    kind: str


def _scored(entries: list[_Entry], base: RecommendSettings) -> tuple[list[dict], dict[str, pd.DataFrame]]:
    """Fit and score every entry on its split: one summary row each, and its per-customer metrics."""
    rows, per = [], {}
    for entry in entries:
        started = time.perf_counter()
        entry.model.fit(entry.split.train)
        fit = time.perf_counter() - started
        r = evaluate_on_split(entry.model, entry.split, base.k)
        per[entry.name] = r["per_customer"]
        ci = bootstrap_intervals(r["per_customer"], base.bootstrap_rounds, base.seed)
        rows.append(
            {
                "name": entry.name,
                "kind": entry.kind,
                "ndcg": r["ndcg"],
                "ndcg_ci": ci["ndcg"],
                "recall": r["recall"],
                "map": r["map"],
                "coverage": r["coverage"],
                "fit_seconds": fit,
                "epochs": getattr(entry.model, "epochs_", None),
            }
        )
        print(
            f"{entry.name:14s} {entry.kind:9s} ndcg={r['ndcg']:.4f} recall={r['recall']:.4f} "
            f"map={r['map']:.4f} cov={r['coverage']:.3f} fit={fit:.1f}s",
            flush=True,
        )
    return rows, per


def _comparisons(
    best_ours: str, best_peer: str, per: dict[str, pd.DataFrame], base: RecommendSettings
) -> dict[str, dict]:
    """Paired bootstraps of the NDCG differences the README reports."""
    rounds, seed = base.bootstrap_rounds, base.seed
    return {
        f"{best_ours}_vs_{best_peer}": paired_bootstrap(per[best_ours], per[best_peer], rounds, seed),
        "torch_vs_implicit_als": paired_bootstrap(per["torch"], per["implicit_als"], rounds, seed),
        f"{best_ours}_vs_ease_500": paired_bootstrap(per[best_ours], per["ease_500"], rounds, seed),
    }


def _print_summary(
    rows: list[dict], comparisons: dict[str, dict], champion: str, candidates: list[str]
) -> None:
    """The results table (best first), whether the champion is a pipeline candidate, the comparisons."""
    print()
    print(
        f"{'model':14s} {'kind':9s} {'NDCG@10':>8s} {'95% CI':>17s} {'Recall@10':>9s} {'MAP@10':>7s} "
        f"{'coverage':>8s} {'fit s':>7s}"
    )
    for r in sorted(rows, key=lambda r: -r["ndcg"]):
        lo, hi = r["ndcg_ci"]
        print(
            f"{r['name']:14s} {r['kind']:9s} {r['ndcg']:8.4f} [{lo:.4f}, {hi:.4f}] {r['recall']:9.4f} "
            f"{r['map']:7.4f} {r['coverage']:8.3f} {r['fit_seconds']:7.1f}"
        )
    print()
    among = "is" if champion in candidates else "is NOT"
    print(f"champion {champion} {among} among the pipeline's candidates {candidates}")
    for key, c in comparisons.items():
        print(
            f"{key:32s} diff={c['diff']:+.4f} 95% CI [{c['low']:+.4f}, {c['high']:+.4f}] n={c['n_customers']}"
        )


def _write_results(out: dict) -> None:
    """Write ``out`` to :data:`RESULTS` through a temporary file, so a crash leaves the old one whole."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, default=float))
    tmp.replace(RESULTS)


def run() -> dict:
    """Fit and score our candidates and the peers on the pinned split; print and write the results.

    Returns:
        What is written to ``benchmarks/results/recsys.json``.
    """
    base = RecommendSettings(bootstrap_rounds=1000)
    ours = load_settings(ROOT / "params.yaml").recommend.model_copy(update={"bootstrap_rounds": 1000})
    tables = online_retail_tables()
    split_plain = temporal_split(tables, base)
    split_ours = temporal_split(tables, ours)
    # Recency weighting changes values, never which pairs exist: both splits hold the same pairs.
    assert (split_plain.relevant != split_ours.relevant).nnz == 0
    assert np.array_equal(split_plain.test_customers, split_ours.test_customers)
    entries = [_Entry(n, make_recommender(n, ours), split_ours, "candidate") for n in CANDIDATES]
    entries += [_Entry(n, m, split_plain, "peer") for n, m in peers(base, base.seed).items()]
    rows, per = _scored(entries, base)
    best_ours = max((r for r in rows if r["kind"] == "candidate"), key=lambda r: r["ndcg"])
    best_peer = max((r for r in rows if r["kind"] == "peer"), key=lambda r: r["ndcg"])
    comparisons = _comparisons(best_ours["name"], best_peer["name"], per, base)
    _print_summary(rows, comparisons, best_ours["name"], list(ours.candidates))
    out = {
        "dataset": "online_retail_2010_2011",
        "protocol": {
            "split_quantile": base.split_quantile,
            "min_item_customers": base.min_item_customers,
            "k": base.k,
            "cutoff": str(split_plain.cutoff),
            "test_customers": len(split_plain.test_customers),
            "items": split_plain.train.shape[1],
            "bootstrap_rounds": base.bootstrap_rounds,
        },
        "settings": ours.model_dump(mode="json"),
        "pipeline_candidates": list(ours.candidates),
        "models": rows,
        "champion": best_ours["name"],
        "best_peer": best_peer["name"],
        "paired_bootstrap_ndcg": comparisons,
    }
    _write_results(out)
    return out


if __name__ == "__main__":
    run()

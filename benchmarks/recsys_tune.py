"""Tune recommender hyper-parameters on a validation split inside the training period.

The outer split's test period is never read: the orders are cut at the outer cutoff and the
same protocol is applied again to what is left. Prints a table and writes
``benchmarks/results/recsys_tune.json``.

    python -m benchmarks.recsys_tune
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from benchmarks.online_retail_tables import online_retail_tables
from segmint.contracts import Tables
from segmint.recommend import Split, evaluate_on_split, make_recommender, temporal_split
from segmint.settings import RecommendSettings

RESULTS = Path(__file__).resolve().parent / "results" / "recsys_tune.json"

GRID: list[tuple[str, dict]] = [
    ("ease", {"ease_lambda": 200.0}),
    ("ease", {"ease_lambda": 500.0}),
    ("ease", {"ease_lambda": 1000.0}),
    ("ease", {"ease_lambda": 500.0, "recency_half_life_days": 60.0}),
    ("ease", {"ease_lambda": 500.0, "recency_half_life_days": 120.0}),
    ("ease", {"ease_lambda": 500.0, "recency_half_life_days": 240.0}),
    ("rp3beta", {"rp3_alpha": 1.0, "rp3_beta": 0.5}),
    ("rp3beta", {"rp3_alpha": 0.8, "rp3_beta": 0.3}),
    ("rp3beta", {"rp3_alpha": 1.0, "rp3_beta": 0.3, "knn_neighbours": 200}),
    ("als", {}),
    ("als", {"als_alpha": 5.0, "als_regularization": 0.5}),
    ("torch", {}),  # linear_dae, l2 500, dropout 0.25
    ("torch", {"torch_l2": 175.0}),
    ("torch", {"torch_dropout": 0.5}),
    ("torch", {"torch_lr": 3e-3}),
    ("torch", {"recency_half_life_days": 240.0}),
    (
        "torch",
        {"torch_architecture": "mult_dae", "torch_dropout": 0.5, "torch_lr": 3e-3, "torch_max_epochs": 60},
    ),
    (
        "torch",
        {"torch_architecture": "mult_dae", "torch_hidden": 600, "torch_dropout": 0.5, "torch_max_epochs": 60},
    ),
]


def validation_tables(tables: Tables, settings: RecommendSettings) -> Tables:
    """The tables cut at the outer cutoff: only the training period is left."""
    cutoff = temporal_split(tables, settings).cutoff
    assert tables.orders is not None
    return dataclasses.replace(
        tables, orders=tables.orders[tables.orders["ts"] < cutoff].reset_index(drop=True)
    )


def run(grid: list[tuple[str, dict]] = GRID) -> list[dict]:
    """Fit and score each (candidate, settings) of ``grid`` on the validation split; print and write them.

    Returns:
        One row per grid entry: name, params, ndcg, recall, fit_seconds.
    """
    base = RecommendSettings(bootstrap_rounds=0)
    inner = validation_tables(online_retail_tables(), base)
    splits: dict[float | None, Split] = {}
    rows = []
    for name, params in grid:
        s = base.model_copy(update=params)
        key = s.recency_half_life_days
        if key not in splits:
            splits[key] = temporal_split(inner, s)
        split = splits[key]
        started = time.perf_counter()
        model = make_recommender(name, s).fit(split.train)
        fit = time.perf_counter() - started
        r = evaluate_on_split(model, split, s.k)
        row = {"name": name, "params": params, "ndcg": r["ndcg"], "recall": r["recall"], "fit_seconds": fit}
        rows.append(row)
        print(
            f"{name:10s} {json.dumps(params):70s} ndcg={r['ndcg']:.4f} "
            f"recall={r['recall']:.4f} fit={fit:.1f}s",
            flush=True,
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    run()

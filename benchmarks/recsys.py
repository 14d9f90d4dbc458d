"""Recommender quality on three real logs: the pipeline's own pick beside peers tuned alike.

Pinned protocol, the same on every log: temporal split at the 0.8 quantile of purchase times,
items bought by ≥ 5 customers before it, relevant = bought after the cut and never before, k = 10
(all from ``params.yaml → recommend``, checked here). Logs: Online Retail 2010-11, Online Retail II
2009-10 and the Amazon 5-core reviews (All_Beauty and Appliances; every review is an interaction).
Per log:

1. **Selection** is the pipeline's own (``segmint.recommend.choose_recommender``) with
   ``params.yaml``'s settings: every candidate under every recency half-life of
   ``recency_grid_days``, fitted and scored on ``selection_cuts`` rolling inner cuts whose test
   periods are as long as the outer one, inside the training period; the simplest candidate within
   the noise of the best mean is the pick (*what selection saw*).
2. **Every candidate**, at the half-life it kept on the inner cuts, is refit on the whole outer
   training part and scored on the outer test period, the latest one, which nothing chose or
   tuned on (*what the future gave*); the best of them is the best candidate in hindsight.
3. **Peers** (popularity, recent popularity, ``implicit`` cosine item-kNN, plain EASE on binary
   purchases, ``implicit`` ALS, ``implicit`` BM25) get the same budget as each of our candidates:
   six configurations of their own knobs, scored on the same inner cuts (best mean kept), then
   refit on the outer training part and scored.

The pick is compared with every peer by a paired bootstrap over the outer test customers; a lead
whose interval covers zero is a tie.

    python -m benchmarks.recsys            # prints tables, writes benchmarks/results/recsys.json
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.online_retail_tables import online_retail_tables
from benchmarks.recsys_tune import EASE_PEER, make_peer
from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from segmint.contracts import Tables, coerce_table
from segmint.recommend import (
    RecommenderChoice,
    Split,
    bootstrap_intervals,
    choose_recommender,
    evaluate_on_split,
    make_recommender,
    paired_bootstrap,
    selection_splits,
    temporal_split,
)
from segmint.settings import RecommendSettings, load_settings

ROOT = PROJECT_ROOT
RESULTS = RESULTS_DIR / "recsys.json"
DATA = ROOT.parent / "shared" / "data"
PINNED = {"split_quantile": 0.8, "min_item_customers": 5, "k": 10}
BOOTSTRAP_ROUNDS = 1000

# Six configurations per peer, the budget each of our candidates gets (six half-lives).
PEER_GRID: dict[str, tuple[dict[str, Any], ...]] = {
    "popularity": ({},),
    "recent_popularity": tuple({"recency_half_life_days": h} for h in (3.0, 7.0, 14.0, 30.0, 90.0, 240.0)),
    "implicit_cosine": tuple({"K": k} for k in (10, 25, 50, 100, 200, 400)),
    EASE_PEER: tuple({"ease_lambda": lam} for lam in (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)),
    "implicit_als": tuple(
        {"factors": f, "regularization": r, "alpha": a}
        for f, r, a in (
            (64, 0.05, 2.0),
            (128, 0.1, 5.0),
            (64, 0.5, 10.0),
            (32, 0.05, 1.0),
            (128, 1.0, 20.0),
            (64, 0.1, 40.0),
        )
    ),
    "implicit_bm25": tuple({"K": k} for k in (10, 25, 50, 100, 200, 400)),
}


def _amazon_tables() -> Tables:
    """Every review (verified or not, exact duplicates dropped) as a purchase of one unit."""
    from segmint.adapters import load_source

    folder = DATA / "amazon_reviews_5core"
    raw = pd.concat(
        [pd.read_json(f, lines=True) for f in sorted(folder.glob("*_5.json.gz"))], ignore_index=True
    )
    raw = raw.drop_duplicates(["reviewerID", "asin", "unixReviewTime"]).reset_index(drop=True)
    orders = pd.DataFrame(
        {
            "order_id": [f"review{i}" for i in range(len(raw))],
            "customer_id": raw["reviewerID"].astype(str),
            "product_id": raw["asin"].astype(str),
            "quantity": 1,
            "unit_price": 1.0,
            "ts": pd.to_datetime(raw["unixReviewTime"], unit="s", utc=True),
            "is_return": False,
        }
    )
    return dataclasses.replace(load_source("amazon_reviews", folder), orders=coerce_table("orders", orders))


def _retail_ii_tables() -> Tables:
    from segmint.adapters import load_source

    return load_source("online_retail", DATA / "online_retail_ii_2009_2010")


DATASETS: dict[str, Callable[[], Tables]] = {
    "online_retail_2010_2011": online_retail_tables,
    "online_retail_ii_2009_2010": _retail_ii_tables,
    "amazon_reviews_5core": _amazon_tables,
}


def pipeline_settings(params: Path = ROOT / "params.yaml") -> RecommendSettings:
    """``params.yaml → recommend`` with more bootstrap rounds (for the reported intervals).

    Raises:
        ValueError: ``params.yaml`` departs from the pinned protocol.
    """
    ours = load_settings(params).recommend
    departs = {key: getattr(ours, key) for key, value in PINNED.items() if getattr(ours, key) != value}
    if departs:
        raise ValueError(f"params.yaml departs from the pinned protocol {PINNED}: {departs}")
    return ours.model_copy(update={"bootstrap_rounds": BOOTSTRAP_ROUNDS})


def _scored(model: Any, split: Split, k: int) -> dict[str, Any]:
    started = time.perf_counter()
    model.fit(split.train)
    fit_seconds = time.perf_counter() - started
    return {
        **evaluate_on_split(model, split, k),
        "fit_seconds": fit_seconds,
        "stopped": getattr(model, "stopped_", None),
    }


def _row(name: str, kind: str, config: dict[str, Any], saw: float, scored: dict, seed: int) -> dict[str, Any]:
    ci = bootstrap_intervals(scored["per_customer"], BOOTSTRAP_ROUNDS, seed)
    return {
        "name": name,
        "kind": kind,
        "config": config,
        "selection_ndcg": saw,
        "ndcg": scored["ndcg"],
        "ndcg_ci": ci["ndcg"],
        "recall": scored["recall"],
        "map": scored["map"],
        "coverage": scored["coverage"],
        "fit_seconds": round(scored["fit_seconds"], 2),
    }


class _Outer:
    """Outer splits by half-life, built once each (the same pairs; only the values decay)."""

    def __init__(self, tables: Tables, ours: RecommendSettings) -> None:
        self.tables, self.ours = tables, ours
        self.splits: dict[float | None, Split] = {}

    def __call__(self, life: float | None) -> Split:
        if life not in self.splits:
            self.splits[life] = temporal_split(
                self.tables, self.ours.model_copy(update={"recency_half_life_days": life})
            )
        return self.splits[life]


def candidate_rows(
    choice: RecommenderChoice, ours: RecommendSettings, outer: _Outer
) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Each candidate at the half-life it kept on the inner cuts, refit and scored on the outer split."""
    rows, per = [], {}
    kept = choice.candidates.sort_values("ndcg", ascending=False, kind="stable").drop_duplicates("name")
    for _, best in kept.iterrows():
        name, life = str(best["name"]), best["recency_half_life_days"]
        life = None if life is None or pd.isna(life) else float(life)
        settings = ours.model_copy(update={"recency_half_life_days": life})
        if name == choice.name:
            scored = {**choice.metrics, "per_customer": choice.per_customer}
        else:
            scored = _scored(make_recommender(name, settings), outer(life), ours.k)
        kind = "candidate (pick)" if name == choice.name else "candidate"
        rows.append(
            _row(name, kind, {"recency_half_life_days": life}, float(best["ndcg"]), scored, ours.seed)
        )
        per[name] = scored["per_customer"]
        print(f"  {name:18s} h={life!s:6s} saw {best['ndcg']:.4f} future {scored['ndcg']:.4f}", flush=True)
    return rows, per


def _peer_settings(ours: RecommendSettings, knobs: dict[str, Any]) -> RecommendSettings:
    return ours.model_copy(update={"recency_half_life_days": knobs.get("recency_half_life_days")})


def _peer_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in knobs.items() if k != "recency_half_life_days"}


def tuned_peers(tables: Tables, ours: RecommendSettings) -> dict[str, dict[str, Any]]:
    """Each peer's configurations scored on the inner cuts; the best mean NDCG kept per peer."""
    cuts: dict[float | None, list[Split]] = {}
    out: dict[str, dict[str, Any]] = {}
    for name, grid in PEER_GRID.items():
        tried: list[dict[str, Any]] = []
        for knobs in grid:
            settings = _peer_settings(ours, knobs)
            life = settings.recency_half_life_days
            if life not in cuts:
                cuts[life] = selection_splits(tables, settings)
            ndcgs = [
                _scored(make_peer(name, _peer_knobs(knobs), settings), split, ours.k)["ndcg"]
                for split in cuts[life]
            ]
            tried.append({"knobs": knobs, "ndcg_cuts": ndcgs, "ndcg": float(np.mean(ndcgs))})
        best = max(tried, key=lambda t: t["ndcg"])
        out[name] = {"knobs": best["knobs"], "ndcg": best["ndcg"], "tried": tried}
        print(f"  peer {name:18s} best {best['knobs']} saw {best['ndcg']:.4f}", flush=True)
    return out


def peer_rows(
    peers: dict[str, dict[str, Any]], ours: RecommendSettings, outer: _Outer
) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Each peer at its tuned configuration, refit on the outer training part and scored."""
    rows, per = [], {}
    for name, tuned in peers.items():
        settings = _peer_settings(ours, tuned["knobs"])
        model = make_peer(name, _peer_knobs(tuned["knobs"]), settings)
        scored = _scored(model, outer(settings.recency_half_life_days), ours.k)
        rows.append(_row(f"peer:{name}", "peer", tuned["knobs"], tuned["ndcg"], scored, ours.seed))
        per[f"peer:{name}"] = scored["per_customer"]
        print(f"  peer {name:18s} future {scored['ndcg']:.4f}", flush=True)
    return rows, per


def verdict(comparison: dict[str, Any]) -> str:
    """``lead``, ``behind`` or ``tie``: whether the paired interval lies above, below or across zero."""
    if comparison["low"] > 0:
        return "lead"
    if comparison["high"] < 0:
        return "behind"
    return "tie"


def comparisons(pick: str, per: dict[str, pd.DataFrame], others: list[str], seed: int) -> dict[str, dict]:
    """Paired bootstraps of the pick's NDCG minus each other model's, on the outer test customers."""
    out = {}
    for other in others:
        paired = paired_bootstrap(per[pick], per[other], BOOTSTRAP_ROUNDS, seed)
        out[f"{pick}_vs_{other}"] = {**paired, "verdict": verdict(paired)}
    return out


def print_table(name: str, rows: list[dict[str, Any]], paired: dict[str, dict], pick: str) -> None:
    """One log's results, best outer NDCG first, then the pick against each peer."""
    print(f"\n{name}: pick of the pipeline's selection: {pick}")
    print(
        f"{'model':24s} {'kind':17s} {'selection saw':>13s} {'NDCG@10 test':>12s} {'95% CI':>17s} "
        f"{'fit s':>7s}"
    )
    for r in sorted(rows, key=lambda r: -r["ndcg"]):
        lo, hi = r["ndcg_ci"]
        print(
            f"{r['name']:24s} {r['kind']:17s} {r['selection_ndcg']:13.4f} {r['ndcg']:12.4f} "
            f"[{lo:.4f}, {hi:.4f}] {r['fit_seconds']:7.1f}"
        )
    for key, c in paired.items():
        print(f"{key:44s} diff={c['diff']:+.4f} 95% CI [{c['low']:+.4f}, {c['high']:+.4f}] {c['verdict']}")


def run_dataset(name: str, tables: Tables, ours: RecommendSettings) -> dict[str, Any]:
    """The pipeline's selection, every candidate and every tuned peer on one log."""
    started = time.perf_counter()
    print(f"{name}: selection (the pipeline's own)", flush=True)
    choice = choose_recommender(tables, None, ours)
    outer = _Outer(tables, ours)
    rows, per = candidate_rows(choice, ours, outer)
    print(f"{name}: peers tuned on the same inner cuts", flush=True)
    peers = tuned_peers(tables, ours)
    more_rows, more_per = peer_rows(peers, ours, outer)
    rows, per = rows + more_rows, {**per, **more_per}
    peer_names = list(more_per)
    best_peer = max(more_rows, key=lambda r: r["ndcg"])["name"]
    hindsight = max((r for r in rows if r["kind"].startswith("candidate")), key=lambda r: r["ndcg"])
    paired = comparisons(choice.name, per, peer_names, ours.seed)
    print_table(name, rows, paired, choice.name)
    return {
        "selection_splits": choice.metrics["selection_splits"],
        "report_split": choice.metrics["report_split"],
        "pick": choice.name,
        "pick_recency_half_life_days": choice.metrics["recency_half_life_days"],
        "selection_rule": choice.metrics["selection_rule"],
        "pick_metrics": {
            k: v
            for k, v in choice.metrics.items()
            if k not in ("selection_split", "selection_splits", "report_split", "selection_rule")
        },
        "best_candidate_in_hindsight": {
            "name": hindsight["name"],
            **hindsight["config"],
            "ndcg": hindsight["ndcg"],
        },
        "half_life_grid": choice.candidates.drop(columns=["stopped"]).to_dict(orient="records"),
        "best_peer": best_peer,
        "pick_vs_best_peer": paired[f"{choice.name}_vs_{best_peer}"],
        "paired_bootstrap_ndcg": paired,
        "peer_tuning": peers,
        "models": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run(names: tuple[str, ...] = tuple(DATASETS)) -> dict:
    """Every log in ``names``; print and write the results.

    Returns:
        What is written to ``benchmarks/results/recsys.json``.
    """
    started = time.perf_counter()
    ours = pipeline_settings()
    out: dict[str, Any] = {
        "command": "python -m benchmarks.recsys",
        "protocol": {**PINNED, "bootstrap_rounds": BOOTSTRAP_ROUNDS},
        "settings": ours.model_dump(mode="json"),
        "recency_grid_days": list(ours.recency_grid_days),
        "peer_grid": PEER_GRID,
        "budget": "six configurations per candidate (half-lives) and per peer (its own knobs), "
        "on the same inner cuts",
        "datasets": {},
    }
    for name in names:
        out["datasets"][name] = run_dataset(name, DATASETS[name](), ours)
        out["seconds"] = round(time.perf_counter() - started, 1)
        write_json(RESULTS, out)  # after each log, so a long run keeps what it finished
    return out


if __name__ == "__main__":
    run()

"""Recommender quality on Online Retail 2010-11: the pipeline's own pick beside tuned peers.

Pinned protocol: temporal split at the 0.8 quantile of purchase times, items bought by ≥ 5
customers before it, relevant = bought after the cut and never before, k = 10 (all from
``params.yaml → recommend``, checked here). Three parts of the history, as in the pipeline:

1. **Selection** is the pipeline's own (``segmint.recommend.choose_recommender``, the step of
   ``select_recommender`` before the served model is refit on all history) with ``params.yaml``'s
   settings: every candidate fitted on the inner training part and scored on the inner test
   period, inside the training period (*what selection saw*).
2. **Every candidate and every peer** is refit on the whole outer training part and scored on
   the outer test period, the latest one, which nothing chose or tuned on (*what the future gave*).
3. **Peers** (EASE, ``implicit`` ALS, ``implicit`` BM25 item-kNN, popularity) run with the
   configurations ``benchmarks.recsys_tune`` chose for them on the same inner split with the same
   budget as ours (``benchmarks/results/recsys_tune.json``); their "what selection saw" is read
   from there.

The pick is compared with every peer by a paired bootstrap over the outer test customers; a lead
whose interval covers zero is a tie. torch trains for at most ``torch_max_epochs`` /
``torch_max_seconds`` (the settings' caps, recorded in the results).

    python -m benchmarks.recsys            # prints a table, writes benchmarks/results/recsys.json
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.online_retail_tables import online_retail_tables
from benchmarks.recsys_tune import RESULTS as TUNE_RESULTS
from benchmarks.recsys_tune import make_peer
from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from segmint.contracts import Tables
from segmint.recommend import (
    RecommenderChoice,
    Split,
    bootstrap_intervals,
    choose_recommender,
    describe_split,
    evaluate_on_split,
    make_recommender,
    paired_bootstrap,
    temporal_split,
)
from segmint.settings import RecommendSettings, load_settings

ROOT = PROJECT_ROOT
RESULTS = RESULTS_DIR / "recsys.json"
PINNED = {"split_quantile": 0.8, "min_item_customers": 5, "k": 10}
BOOTSTRAP_ROUNDS = 1000


def pipeline_settings() -> RecommendSettings:
    """``params.yaml → recommend`` with more bootstrap rounds (which change no fit and no choice).

    Raises:
        ValueError: ``params.yaml`` departs from the pinned protocol.
    """
    ours = load_settings(ROOT / "params.yaml").recommend
    departs = {key: getattr(ours, key) for key, value in PINNED.items() if getattr(ours, key) != value}
    if departs:
        raise ValueError(f"params.yaml departs from the pinned protocol {PINNED}: {departs}")
    return ours.model_copy(update={"bootstrap_rounds": BOOTSTRAP_ROUNDS})


def tuning_mismatches(ours: RecommendSettings, tune: dict[str, Any]) -> dict[str, Any]:
    """Settings whose ``params.yaml`` value is not what ``recsys_tune.json`` chose: {key: [ours, tuned]}."""
    chosen = tune["chosen"]["recommend"]
    out = {}
    for key, tuned in chosen.items():
        value = getattr(ours, key)
        if (list(value) if isinstance(value, tuple) else value) != tuned:
            out[key] = [value, tuned]
    return out


def outer_splits(
    tables: Tables, ours: RecommendSettings, recencies: set[float | None]
) -> dict[float | None, Split]:
    """The outer split under each recency option used (the same pairs; only the values decay)."""
    splits = {
        r: temporal_split(tables, ours.model_copy(update={"recency_half_life_days": r}))
        for r in recencies | {ours.recency_half_life_days}
    }
    first, *others = splits.values()
    for other in others:
        assert (first.relevant != other.relevant).nnz == 0
        assert np.array_equal(first.test_customers, other.test_customers)
    return splits


def _row(name: str, kind: str, config: dict[str, Any], selection_ndcg: float, scored: dict) -> dict[str, Any]:
    ci = bootstrap_intervals(scored["per_customer"], BOOTSTRAP_ROUNDS, scored["seed"])
    return {
        "name": name,
        "kind": kind,
        "config": config,
        "selection_ndcg": selection_ndcg,
        "ndcg": scored["ndcg"],
        "ndcg_ci": ci["ndcg"],
        "recall": scored["recall"],
        "map": scored["map"],
        "coverage": scored["coverage"],
        "fit_seconds": round(scored["fit_seconds"], 2),
        "epochs": scored.get("epochs"),
    }


def _fitted_and_scored(model: Any, split: Split, settings: RecommendSettings) -> dict:
    started = time.perf_counter()
    model.fit(split.train)
    fit_seconds = time.perf_counter() - started
    scored = evaluate_on_split(model, split, settings.k)
    print(
        f"  {getattr(model, 'name', '?'):14s} fit {fit_seconds:6.1f}s ndcg {scored['ndcg']:.4f}", flush=True
    )
    return {
        **scored,
        "fit_seconds": fit_seconds,
        "epochs": getattr(model, "epochs_", None),
        "seed": settings.seed,
    }


def candidate_rows(
    choice: RecommenderChoice, ours: RecommendSettings, split: Split
) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Each pipeline candidate on the outer split (the pick's numbers are the choice's own)."""
    rows: list[dict[str, Any]] = []
    per: dict[str, pd.DataFrame] = {}
    saw = choice.candidates.set_index("name")["ndcg"]
    for name in ours.candidates:
        if name == choice.name:
            scored = {**choice.metrics, "per_customer": choice.per_customer, "seed": ours.seed}
            kind = "candidate (pick)"
        else:
            scored = _fitted_and_scored(make_recommender(name, ours), split, ours)
            kind = "candidate"
        config = {"recency_half_life_days": ours.recency_half_life_days}
        rows.append(_row(name, kind, config, float(saw[name]), scored))
        per[name] = scored["per_customer"]
    return rows, per


def peer_rows(
    tune: dict[str, Any], ours: RecommendSettings, splits: dict[float | None, Split]
) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
    """Each peer with its tuned configuration, refit on the outer training part and scored."""
    rows, per = [], {}
    for name, chosen in tune["peers"].items():
        recency = chosen["recency_half_life_days"]
        settings = ours.model_copy(update={"recency_half_life_days": recency})
        scored = _fitted_and_scored(make_peer(name, chosen["knobs"], settings), splits[recency], settings)
        config = {**chosen["knobs"], "recency_half_life_days": recency}
        rows.append(_row(name, "peer", config, chosen["ndcg"], scored))
        per[name] = scored["per_customer"]
    return rows, per


def verdict(comparison: dict[str, Any]) -> str:
    """``lead``, ``behind`` or ``tie``: whether the paired interval lies above, below or across zero."""
    if comparison["low"] > 0:
        return "lead"
    if comparison["high"] < 0:
        return "behind"
    return "tie"


def comparisons(pick: str, per: dict[str, pd.DataFrame], peers: list[str], seed: int) -> dict[str, dict]:
    """Paired bootstraps of the pick's NDCG minus each peer's, on the outer test customers."""
    out = {}
    for peer in peers:
        paired = paired_bootstrap(per[pick], per[peer], BOOTSTRAP_ROUNDS, seed)
        out[f"{pick}_vs_{peer}"] = {**paired, "verdict": verdict(paired)}
    return out


def print_table(rows: list[dict[str, Any]], paired: dict[str, dict], pick: str) -> None:
    """The results, best outer NDCG first, then the pick against each peer."""
    print()
    print(f"pick of the pipeline's selection: {pick}")
    print(
        f"{'model':16s} {'kind':17s} {'selection saw':>13s} {'NDCG@10 test':>12s} {'95% CI':>17s} "
        f"{'Recall@10':>9s} {'MAP@10':>7s} {'coverage':>8s} {'fit s':>7s}"
    )
    for r in sorted(rows, key=lambda r: -r["ndcg"]):
        lo, hi = r["ndcg_ci"]
        print(
            f"{r['name']:16s} {r['kind']:17s} {r['selection_ndcg']:13.4f} {r['ndcg']:12.4f} "
            f"[{lo:.4f}, {hi:.4f}] {r['recall']:9.4f} {r['map']:7.4f} {r['coverage']:8.3f} "
            f"{r['fit_seconds']:7.1f}"
        )
    print()
    for key, c in paired.items():
        print(
            f"{key:32s} diff={c['diff']:+.4f} 95% CI [{c['low']:+.4f}, {c['high']:+.4f}] "
            f"n={c['n_customers']} {c['verdict']}"
        )


def write_results(out: dict[str, Any]) -> None:
    """Write ``out`` to :data:`RESULTS` (atomically)."""
    write_json(RESULTS, out)


def run() -> dict:
    """The pipeline's selection, every candidate and peer on the outer split; print and write them.

    Returns:
        What is written to ``benchmarks/results/recsys.json``.
    """
    started = time.perf_counter()
    ours = pipeline_settings()
    tune = json.loads(TUNE_RESULTS.read_text())
    tables = online_retail_tables()
    print("selection (the pipeline's own):", flush=True)
    choice = choose_recommender(tables, None, ours)
    splits = outer_splits(tables, ours, {p["recency_half_life_days"] for p in tune["peers"].values()})
    print("every candidate and peer on the outer test period:", flush=True)
    rows, per = candidate_rows(choice, ours, splits[ours.recency_half_life_days])
    more_rows, more_per = peer_rows(tune, ours, splits)
    rows, per = rows + more_rows, {**per, **more_per}
    peers = list(tune["peers"])
    best_peer = max((r for r in rows if r["kind"] == "peer"), key=lambda r: r["ndcg"])["name"]
    paired = comparisons(choice.name, per, peers, ours.seed)
    print_table(rows, paired, choice.name)
    torch_rows = [r for r in rows if r["name"] == "torch"]
    out = {
        "command": "python -m benchmarks.recsys",
        "dataset": "online_retail_2010_2011",
        "protocol": {**PINNED, "bootstrap_rounds": BOOTSTRAP_ROUNDS},
        "selection_split": choice.metrics["selection_split"],
        "report_split": describe_split(splits[ours.recency_half_life_days]),
        "settings": ours.model_dump(mode="json"),
        "tuning": {
            "file": "benchmarks/results/recsys_tune.json",
            "params_yaml_departs": tuning_mismatches(ours, tune),
        },
        "pipeline_candidates": list(ours.candidates),
        "pick": choice.name,
        "pick_metrics": {
            k: v for k, v in choice.metrics.items() if k not in ("selection_split", "report_split")
        },
        "best_peer": best_peer,
        "pick_vs_best_peer": paired[f"{choice.name}_vs_{best_peer}"],
        "paired_bootstrap_ndcg": paired,
        "models": rows,
        "torch_cap": {
            "torch_max_epochs": ours.torch_max_epochs,
            "torch_max_seconds": ours.torch_max_seconds,
            "epochs_reached_on_outer_fit": torch_rows[0]["epochs"] if torch_rows else None,
            "note": "torch is capped at the settings' epochs/seconds for cost on 2 busy cores",
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_results(out)
    return out


if __name__ == "__main__":
    run()

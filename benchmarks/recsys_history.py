"""How item models weigh a customer's own history: chosen on the inner cuts of Online Retail 2010-11.

EASE, item-kNN and RP3beta learn item-to-item weights from the (time-decayed) training matrix and
score a customer as a weighted sum over their own purchases. ``recommend.history_half_life_days``
sets how those purchases weigh against each other, apart from the decay the weights were learnt
under. Three options are tried: ``"fitted"`` (the same decay as the weights), no decay, and a
half-life of 240 days.

Under each option the pipeline's own selection runs on its rolling inner cuts (inside the training
period; ``segmint.recommend.selection_splits``) with ``params.yaml``'s candidates and half-life
grid. The option whose front runner has the best mean NDCG@k is kept, the rule
``benchmarks.recsys_tune`` uses for a setting all candidates share; the paired bootstrap of that
front runner against each other option's, over the same inner test customers, says whether the lead
is inside the noise. The outer test period, where ``benchmarks.recsys`` reports, is never read.

    python -m benchmarks.recsys_history   # writes benchmarks/results/recsys_history.json
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from benchmarks.online_retail_tables import online_retail_tables
from benchmarks.recsys import pipeline_settings, verdict
from benchmarks.results_file import RESULTS_DIR, write_json
from segmint.recommend import describe_split, paired_bootstrap, selection_splits
from segmint.recommend.selection import candidate_scores, chosen_configuration, decayed_cuts, half_lives

RESULTS = RESULTS_DIR / "recsys_history.json"
OPTIONS: tuple[float | str | None, ...] = ("fitted", None, 240.0)


def _key(option: float | str | None) -> str:
    return "none" if option is None else str(option)


def run() -> dict[str, Any]:
    """Every option's inner-cut selection, the option kept and the paired comparisons; written out."""
    started = time.perf_counter()
    tables = online_retail_tables()
    base = pipeline_settings()
    splits = selection_splits(tables, base)
    lives = dict.fromkeys(life for name in base.candidates for life in half_lives(name, base))
    cuts = decayed_cuts(splits, lives)
    tried: dict[str, dict[str, Any]] = {}
    front: dict[str, pd.DataFrame] = {}
    for option in OPTIONS:
        settings = base.model_copy(update={"history_half_life_days": option})
        candidates, per = candidate_scores(cuts, None, settings)
        rule = chosen_configuration(candidates, per, settings)
        front[_key(option)] = per[(rule["best"], rule["best_recency_half_life_days"])]
        tried[_key(option)] = {
            "history_half_life_days": option,
            "front_runner": rule["best"],
            "front_runner_recency_half_life_days": rule["best_recency_half_life_days"],
            "front_runner_ndcg": rule["best_ndcg"],
            "pick": rule["name"],
            "pick_recency_half_life_days": rule["recency_half_life_days"],
            "candidates": candidates[["name", "recency_half_life_days", "ndcg", "ndcg_cuts"]].to_dict(
                orient="records"
            ),
        }
        print(
            f"history {option!s:7s} front runner {rule['best']} h={rule['best_recency_half_life_days']} "
            f"mean NDCG {rule['best_ndcg']:.4f}",
            flush=True,
        )
    kept = max(tried, key=lambda key: tried[key]["front_runner_ndcg"])
    paired = {}
    for other in tried:
        if other != kept:
            result = paired_bootstrap(front[kept], front[other], base.bootstrap_rounds, base.seed)
            paired[f"{kept}_vs_{other}"] = {**result, "verdict": verdict(result)}
            print(
                f"{kept} vs {other}: {result['diff']:+.4f} [{result['low']:+.4f}, {result['high']:+.4f}]",
                flush=True,
            )
    out = {
        "command": "python -m benchmarks.recsys_history",
        "dataset": "online_retail_2010_2011",
        "selection_splits": [describe_split(split) for split in splits],
        "options": [_key(option) for option in OPTIONS],
        "rule": "the option whose front runner has the best mean NDCG over the inner cuts",
        "tried": tried,
        "kept": tried[kept]["history_half_life_days"],
        "paired_bootstrap_ndcg": paired,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json(RESULTS, out)
    return out


if __name__ == "__main__":
    run()

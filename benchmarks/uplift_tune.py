"""Tune our uplift settings and the peers' on the same validation splits, with the same budget.

Only the training half of the kept-aside split (``benchmarks.uplift.KEPT_ASIDE_SEED``) is read:
its test half, which ``python -m benchmarks.uplift`` reports on, is never touched here. Inside that
training half, :data:`INNER_SEEDS` stratified 50/50 inner splits each give a fitting part and a
validation part. Every configuration is fitted on each fitting part and scored by Qini AUC on the
validation part; the configuration with the best mean wins (ties: the first listed).

Budget: :data:`GRID_SIZE` configurations for ours and for every tunable peer. The LightGBM sizes
are one grid (:data:`LIGHTGBM_GRID`) for our tree learners and for the scikit-uplift LightGBM peers;
the inverse L2 strengths (:data:`LOGISTIC_C_GRID`) are one grid for our logistic learner and the
logistic T-learner peer. Ours is ``fit_uplift`` (the pipeline's selection between its learners)
with ``params.yaml → uplift`` and configuration *i* = LightGBM sizes *i* + C *i*; the first was
``params.yaml``'s own before the first tuning, and ``params.yaml`` now holds the winner (its
comment cites the results file). The rule peer has nothing to tune.

Run: ``python -m benchmarks.uplift_tune`` (writes ``benchmarks/results/uplift_tune.json``).
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import numpy as np

from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from benchmarks.uplift import (
    KEPT_ASIDE_SEED,
    PEERS,
    HillstromRows,
    PeerRun,
    champion_scores,
    half_split,
    hillstrom_rows,
    peer_scores,
    project_settings,
    quality,
)
from segmint.settings import UpliftSettings

ROOT = PROJECT_ROOT
RESULTS = RESULTS_DIR / "uplift_tune.json"
INNER_SEEDS = (0, 1, 2)
OURS = "segmint_champion"
# From the most to the least regularised, after the first (params.yaml's values before tuning).
LIGHTGBM_GRID: tuple[dict[str, Any], ...] = (
    {"n_estimators": 100, "learning_rate": 0.03, "num_leaves": 4, "min_child_samples": 300},
    {"n_estimators": 100, "learning_rate": 0.03, "num_leaves": 2, "min_child_samples": 500},
    {"n_estimators": 300, "learning_rate": 0.02, "num_leaves": 4, "min_child_samples": 600},
    {"n_estimators": 200, "learning_rate": 0.03, "num_leaves": 4, "min_child_samples": 300},
    {"n_estimators": 100, "learning_rate": 0.05, "num_leaves": 8, "min_child_samples": 100},
    {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 16, "min_child_samples": 20},
)
LOGISTIC_C_GRID: tuple[float, ...] = (0.05, 0.005, 0.01, 0.2, 1.0, 10.0)
GRID_SIZE = len(LIGHTGBM_GRID)


def grids() -> dict[str, list[dict[str, Any]]]:
    """Every model's configurations: :data:`GRID_SIZE` each, one for the rule."""
    ours = [{**sizes, "logistic_c": c} for sizes, c in zip(LIGHTGBM_GRID, LOGISTIC_C_GRID, strict=True)]
    out: dict[str, list[dict[str, Any]]] = {OURS: ours}
    for name in PEERS:
        if name == "logistic_t_learner":
            out[name] = [{"C": c} for c in LOGISTIC_C_GRID]
        elif name == "rule_womens_buyers":
            out[name] = [{}]
        else:
            out[name] = [dict(sizes) for sizes in LIGHTGBM_GRID]
    return out


def inner_splits(rows: HillstromRows) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fitting, validation) row positions inside the kept-aside split's training half."""
    development, _ = half_split(rows, KEPT_ASIDE_SEED)
    return [half_split(rows, seed, within=development) for seed in INNER_SEEDS]


def validation_qini(
    name: str,
    config: dict[str, Any],
    rows: HillstromRows,
    splits: list[tuple[np.ndarray, np.ndarray]],
    base: UpliftSettings,
) -> list[float]:
    """Qini AUC on each validation part of ``name`` with ``config`` fitted on its fitting part."""
    values = []
    for seed, (fit, validation) in zip(INNER_SEEDS, splits, strict=True):
        if name == OURS:
            # Bootstrap bounds only decorate the reported metrics; the fitted model is the same.
            settings = base.model_copy(update={**config, "bootstrap_rounds": 0})
            scores = champion_scores(rows, fit, validation, settings).scores
        else:
            scores = peer_scores(PeerRun(name, config, base, seed), rows, fit, validation)
        values.append(quality(rows, validation, scores)["qini_auc"])
    return values


def tuned(
    rows: HillstromRows, splits: list[tuple[np.ndarray, np.ndarray]], base: UpliftSettings
) -> dict[str, list[dict[str, Any]]]:
    """Every configuration of every model with its validation Qini AUC per split and their mean."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, configs in grids().items():
        out[name] = []
        for config in configs:
            started = time.perf_counter()
            values = validation_qini(name, config, rows, splits, base)
            out[name].append(
                {
                    "config": config,
                    "validation_qini_auc": values,
                    "validation_qini_auc_mean": float(np.mean(values)),
                    "seconds": time.perf_counter() - started,
                }
            )
            print(f"{name:34s} {json.dumps(config):90s} {np.mean(values):.4f}", flush=True)
    return out


def winners(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each model's configuration with the best mean validation Qini AUC (ties: the first listed)."""
    out = {}
    for name, rows in results.items():
        best = int(np.argmax([row["validation_qini_auc_mean"] for row in rows]))
        out[name] = {
            "index": best,
            "config": rows[best]["config"],
            "validation_qini_auc_mean": rows[best]["validation_qini_auc_mean"],
        }
    return out


def main() -> None:
    """Tune every model on the inner splits; print and write the grid, the results and the winners."""
    warnings.filterwarnings("ignore")
    settings = project_settings()
    rows = hillstrom_rows(settings)
    splits = inner_splits(rows)
    started = time.perf_counter()
    results = tuned(rows, splits, settings.uplift)
    chosen = winners(results)
    # What params.yaml held while this ran, and whether that is the winner (else: update it).
    current = {key: settings.uplift.model_dump()[key] for key in chosen[OURS]["config"]}
    is_the_winner = current == chosen[OURS]["config"]
    out = {
        "protocol": {
            "rows_read": f"training half of the kept-aside split (seed {KEPT_ASIDE_SEED}), "
            f"{sum(len(part) for part in splits[0])} rows; its test half is never read",
            "inner_splits": f"stratified 50/50 (treatment x target), seeds {list(INNER_SEEDS)}",
            "score": "mean Qini AUC over the validation parts (sklift qini_auc_score)",
            "budget": f"{GRID_SIZE} configurations for ours and for every tunable peer",
            "ours": "fit_uplift with params.yaml -> uplift and the configuration's values",
        },
        "grid": {"lightgbm": list(LIGHTGBM_GRID), "logistic_c": list(LOGISTIC_C_GRID), **grids()},
        "results": results,
        "winners": chosen,
        "params_yaml_while_run": {"values": current, "is_the_winner": is_the_winner},
        "seconds": time.perf_counter() - started,
    }
    write_json(RESULTS, out)
    for name, best in chosen.items():
        print(f"winner {name:34s} {json.dumps(best['config'])} {best['validation_qini_auc_mean']:.4f}")
    print(f"params.yaml's values are the winner: {is_the_winner}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""The CLV model's boosting configuration, chosen on inner out-of-time splits that never see a test period.

    python -m benchmarks.clv_tune          # → benchmarks/results/clv_tune.json (about 10 minutes)

Protocol, per dataset, with the horizon H = ``features.label_window_days`` from ``params.yaml``:
- the outer calibration end is C = the last order - H, as in ``benchmarks/clv.py``; the period from C on
  is its test period, and nothing here reads it (the tables are cut at C);
- the inner split moves back one horizon: fit on features as of C - 2H with next-period revenue in
  [C - 2H, C - H), predict from features as of C - H, score against revenue in [C - H, C) on the
  customers with an order before C - H (what the evaluate stage's CLV holdout does one horizon later);
- every configuration is fitted as the pipeline fits it (``fit_clv`` with ``clv.seed`` and
  ``clv.fit_max_customers``); its Spearman rank correlation is compared with the committed
  configuration's on the same customers (95 % paired bootstrap; an interval that covers 0 is a tie);
- the generated shop (seed 31, which no test uses) is the pipeline's own scale: its fit and predict
  seconds are the cost of a configuration.

The rule: among the configurations no dataset finds worse than the committed one (every interval's
upper end at or above 0), the one that costs least on the generated shop.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.clv import DATA, _before, _net_orders
from benchmarks.online_retail_tables import online_retail_tables
from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from segmint.adapters import load_source
from segmint.clv import CLV_TARGET, CLVPeriods, clv_metrics, fit_clv, spearman_difference, test_buyers
from segmint.contracts import Tables
from segmint.features import customer_features, future_labels
from segmint.generate import generate_shop
from segmint.settings import GenerateSettings, Settings, load_settings

ROUNDS = 300
SEED = 2027
GENERATED_SEED = 31
# (trees, learning rate, bagged seeds): the committed configuration first
GRID: tuple[tuple[int, float, int], ...] = (
    (600, 0.025, 5),
    (600, 0.025, 2),
    (300, 0.05, 5),
    (300, 0.05, 2),
    (300, 0.05, 1),
)


def _name(config: tuple[int, float, int]) -> str:
    trees, rate, bagged = config
    return f"{trees} trees at {rate} x {bagged} seeds"


def inner_split(tables: Tables, settings: Settings) -> dict[str, Any]:
    """The inner split (fit and score periods, ``periods``) from the tables cut at the outer
    calibration end, with its dates."""
    horizon = settings.features.label_window_days
    last = _net_orders(tables)["ts"].max()
    outer = (last - pd.Timedelta(days=horizon)).floor("D")
    history = _before(tables, outer)
    score_at = outer - pd.Timedelta(days=horizon)
    fit_at = score_at - pd.Timedelta(days=horizon)
    periods = CLVPeriods(
        calibration=customer_features(history, fit_at, settings.features),
        calibration_labels=future_labels(history, fit_at, horizon),
        test=customer_features(history, score_at, settings.features),
        test_labels=future_labels(history, score_at, horizon),
        horizon_days=horizon,
        target=CLV_TARGET,
    )
    return {
        "periods": periods,
        "fit_at": fit_at.isoformat(),
        "score_at": score_at.isoformat(),
        "outer_calibration_end": outer.isoformat(),
    }


def tune(name: str, tables: Tables, settings: Settings) -> dict[str, Any]:
    """Every configuration of ``GRID`` on one dataset's inner split."""
    split = inner_split(tables, settings)
    periods: CLVPeriods = split["periods"]
    buyers, actual = test_buyers(periods)
    predicted: dict[str, np.ndarray] = {}
    rows: dict[str, dict[str, Any]] = {}
    for config in GRID:
        trees, rate, bagged = config
        started = time.perf_counter()
        model = fit_clv(
            periods.calibration,
            periods.calibration_labels,
            seed=settings.clv.seed,
            target=CLV_TARGET,
            max_customers=settings.clv.fit_max_customers,
            trees=trees,
            learning_rate=rate,
            bagged=bagged,
        )
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        scores = model.predict(buyers)["predicted_clv"].clip(lower=0.0).to_numpy(dtype=np.float64)
        predicted[_name(config)] = scores
        rows[_name(config)] = {
            "trees": trees,
            "learning_rate": rate,
            "bagged_seeds": bagged,
            "fit_seconds": round(fitted, 2),
            "predict_seconds": round(time.perf_counter() - started, 2),
            **clv_metrics(scores, actual),
        }
    committed = _name(GRID[0])
    for key, row in rows.items():
        if key != committed:
            found = spearman_difference(predicted[key], predicted[committed], actual, ROUNDS, SEED)
            worse = found["high"] is not None and found["high"] < 0
            better = found["low"] is not None and found["low"] > 0
            row["spearman_minus_committed"] = {
                **found,
                "verdict": "worse" if worse else "better" if better else "tie",
            }
    print(name, {key: (round(row["spearman"], 4), row["fit_seconds"]) for key, row in rows.items()})
    return {
        "customers_fitted": int(len(periods.calibration)),
        "customers_scored": int(len(buyers)),
        **{key: split[key] for key in ("fit_at", "score_at", "outer_calibration_end")},
        "configurations": rows,
    }


def chosen(results: dict[str, dict[str, Any]], cost_on: str) -> str:
    """The cheapest configuration on ``cost_on`` that no dataset finds worse than the committed one."""
    names = list(results[cost_on]["configurations"])
    eligible = [
        name
        for name in names
        if all(
            data["configurations"][name].get("spearman_minus_committed", {}).get("verdict") != "worse"
            for data in results.values()
        )
    ]
    cost = {
        name: results[cost_on]["configurations"][name]["fit_seconds"]
        + results[cost_on]["configurations"][name]["predict_seconds"]
        for name in eligible
    }
    return min(eligible, key=lambda name: (cost[name], names.index(name)))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000, help="the generated shop's customers")
    args = parser.parse_args(argv)
    settings = load_settings(PROJECT_ROOT / "params.yaml")
    datasets: dict[str, Callable[[], Tables]] = {
        "cdnow": lambda: load_source("cdnow", DATA / "cdnow"),
        "online_retail_2010_2011": online_retail_tables,
        "generated": lambda: (
            generate_shop(GenerateSettings(customers=args.customers, seed=GENERATED_SEED)).tables
        ),
    }
    results = {name: tune(name, load(), settings) for name, load in datasets.items()}
    pick = chosen(results, "generated")
    out = {
        "protocol": __doc__.split("Protocol, per dataset,")[1].strip(),
        "horizon_days": settings.features.label_window_days,
        "grid": [_name(config) for config in GRID],
        "committed_before": _name(GRID[0]),
        "bootstrap_rounds": ROUNDS,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "datasets": results,
        "chosen": pick,
        "chosen_configuration": {
            key: results["generated"]["configurations"][pick][key]
            for key in ("trees", "learning_rate", "bagged_seeds")
        },
    }
    write_json(RESULTS_DIR / "clv_tune.json", out)
    print("chosen:", pick)
    return out


if __name__ == "__main__":
    main()

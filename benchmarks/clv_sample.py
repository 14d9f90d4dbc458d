"""What fitting CLV on a sample of customers costs in ranking, and what it saves in time.

    python -m benchmarks.clv_sample                      # 100k generated customers → results/clv_sample.json
    python -m benchmarks.clv_sample --customers 50000

On a generated shop (seed 31, which no test uses), with the horizon H = ``features.label_window_days``:
the CLV model is fitted as the pipeline fits it (features as of END - 2H, revenue in the next H days),
once on every customer and once on the sample of ``clv.fit_max_customers`` of ``params.yaml``, and both
predict next-period revenue from the features as of END - H. Scored on the customers with an order
before END - H: Spearman rank correlation and the top decile's share of the actual revenue, with a
95 % paired bootstrap interval of the Spearman difference (sample minus all; covering 0 is a tie).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from segmint.clv import clv_metrics, fit_clv, spearman_difference
from segmint.features import customer_features, future_labels
from segmint.generate import PERIOD_END, generate_shop
from segmint.settings import GenerateSettings, load_settings

SEED = 31
ROUNDS = 200


def run(customers: int) -> dict[str, Any]:
    settings = load_settings(PROJECT_ROOT / "params.yaml")
    horizon = settings.features.label_window_days
    shop = generate_shop(GenerateSettings(customers=customers, seed=SEED))
    train_cutoff = PERIOD_END - pd.Timedelta(days=2 * horizon)
    score_cutoff = PERIOD_END - pd.Timedelta(days=horizon)
    train = customer_features(shop.tables, train_cutoff, settings.features)
    labels = future_labels(shop.tables, train_cutoff, horizon)
    current = customer_features(shop.tables, score_cutoff, settings.features)
    buyers = current[current["frequency"] > 0]
    actual = (
        future_labels(shop.tables, score_cutoff, horizon)
        .set_index("customer_id")["future_revenue"]
        .reindex(buyers["customer_id"])
        .fillna(0.0)
        .clip(lower=0.0)
        .to_numpy(dtype=np.float64)
    )
    fits: dict[str, dict[str, Any]] = {}
    predicted: dict[str, np.ndarray] = {}
    for name, cap in (("all", None), ("sample", settings.clv.fit_max_customers)):
        started = time.perf_counter()
        model = fit_clv(train, labels, seed=settings.clv.seed, target="future_revenue", max_customers=cap)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        predicted[name] = model.predict(buyers)["predicted_clv"].clip(lower=0.0).to_numpy(dtype=np.float64)
        fits[name] = {
            "fit_customers": int(min(len(train), cap or len(train))),
            "fit_seconds": round(fit_seconds, 1),
            "predict_seconds": round(time.perf_counter() - started, 1),
            **clv_metrics(predicted[name], actual),
        }
    difference = spearman_difference(predicted["sample"], predicted["all"], actual, ROUNDS, SEED)
    low, high = difference["low"], difference["high"]
    verdict = "tie" if low is not None and high is not None and low <= 0 <= high else "differs"
    return {
        "customers": customers,
        "seed": SEED,
        "horizon_days": horizon,
        "scored_buyers": len(buyers),
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "fits": fits,
        "spearman_sample_minus_all": {**difference, "verdict": verdict, "rounds": ROUNDS},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args(argv)
    result = run(args.customers)
    write_json(RESULTS_DIR / "clv_sample.json", result)
    print(result)
    return result


if __name__ == "__main__":
    main()

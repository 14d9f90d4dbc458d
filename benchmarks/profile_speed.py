"""Latency of the customer 360 (``segmint profile``) for one customer of a 100k-customer project.

A generated shop of ``--customers`` customers is written as the project's validated tables; the
campaign outputs the profile reads (``customer_scores``, ``campaign_plan``, the features' sentiment
column and the campaign metrics) are filled with seeded placeholder values of the real schema, so
the benchmark times the look-up itself (filtered parquet reads, co-purchase reasons with an
item-based recommender), not a training run. Wall and CPU seconds are both recorded: on a shared
machine the wall time follows the load (recorded too). Prints a table and writes
``benchmarks/results/profile_speed.json``.

Run: ``python -m benchmarks.profile_speed [--customers N --lookups K]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.results_file import PROJECT_ROOT, write_result
from segmint.generate import generate_shop
from segmint.settings import GenerateSettings, load_settings
from tasks.campaign import CUSTOMER_SCORES_COLUMNS, PLAN_FILE, SCORES_FILE
from tasks.features import FEATURES
from tasks.io import write_parquet, write_tables
from tasks.paths import ProjectPaths
from tasks.profile import customer_profiles


def _placeholder_outputs(paths: ProjectPaths, ids: np.ndarray, products: np.ndarray, seed: int) -> None:
    """Campaign outputs of the real schema with seeded values for every customer."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    offers = np.array(["discount_10", "free_shipping", None], dtype=object)[rng.integers(0, 3, n)]
    scores = pd.DataFrame(
        {
            "customer_id": ids,
            "segment_id": rng.integers(0, 6, n),
            "segment_name": "loyal regulars",
            "value_tier": np.array(["low", "mid", "high"], dtype=object)[rng.integers(0, 3, n)],
            "clv": rng.gamma(1.0, 50.0, n),
            "is_anomalous": rng.random(n) < 0.02,
            "anomaly_score": rng.random(n),
            "best_offer": offers,
            "expected_incremental_value": rng.normal(2, 1, n),
            "recommended_product_ids": [list(rng.choice(products, 10, replace=False)) for _ in range(n)],
            "segment_reason": "number of orders higher than most customers (z +1.4)",
            "anomaly_reasons": "",
            "offer_reason": "placeholder",
        }
    )
    write_parquet(paths.outputs / SCORES_FILE, scores[list(CUSTOMER_SCORES_COLUMNS)])
    plan = pd.DataFrame({"customer_id": ids, "offer": offers, "group": "treatment"})
    write_parquet(paths.outputs / PLAN_FILE, plan.assign(expected_incremental_profit=0.0))
    write_parquet(
        paths.features / FEATURES, pd.DataFrame({"customer_id": ids, "mean_sentiment": rng.random(n)})
    )
    paths.metrics.mkdir(parents=True, exist_ok=True)
    paths.metric("campaign").write_text(json.dumps({"recommendations": {"item_based": True}}))
    paths.metric("anomaly").write_text(json.dumps({"threshold": 0.98}))


def _project(root: Path, customers: int, seed: int) -> tuple[ProjectPaths, np.ndarray]:
    shutil.copy(PROJECT_ROOT / "params.yaml", root / "params.yaml")
    paths = ProjectPaths(root)
    shop = generate_shop(GenerateSettings(customers=customers, seed=seed))
    write_tables(paths.validated, shop.tables, paths)
    products_table = shop.tables.products
    assert products_table is not None
    ids = shop.tables.customers["customer_id"].astype(str).to_numpy()
    products = products_table["product_id"].astype(str).to_numpy()
    _placeholder_outputs(paths, ids, products, seed)
    return paths, ids


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cli_seconds(root: Path, customer: str) -> tuple[float, float]:
    """Wall and CPU seconds of ``segmint profile CUSTOMER`` (start-up included)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "profile", customer],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode()[-2000:])
    return time.perf_counter() - started, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths, ids = _project(root, args.customers, args.seed)
        settings = load_settings(paths.params)
        picks = np.random.default_rng(args.seed).choice(ids, args.lookups + 1, replace=False)
        customer_profiles(settings, paths, [str(picks[0])])  # warm the file system cache
        seconds, cpu = [], []
        for customer in picks[1:]:
            started, cpu_started = time.perf_counter(), time.process_time()
            customer_profiles(settings, paths, [str(customer)])
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        cli = [_cli_seconds(root, str(customer)) for customer in picks[1:4]]
    write_result(
        "profile_speed",
        {
            "customers": args.customers,
            "lookups": args.lookups,
            "median_s": round(statistics.median(seconds), 3),
            "max_s": round(max(seconds), 3),
            "median_cpu_s": round(statistics.median(cpu), 3),
            "max_cpu_s": round(max(cpu), 3),
            "cli_median_s": round(statistics.median(wall for wall, _ in cli), 3),
            "cli_median_cpu_s": round(statistics.median(used for _, used in cli), 3),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()

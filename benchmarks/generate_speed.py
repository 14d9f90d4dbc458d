"""Wall time and volumes of ``generate_shop`` at 10k and 100k customers, plus the archetype-overlap check.

Run: ``python -m benchmarks.generate_speed`` (writes ``benchmarks/results/generate_speed.json``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from segmint.generate import ARCHETYPES, generate_shop
from segmint.settings import GenerateSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "model"))
from test_generator_truth import rfm_features, rich_features  # noqa: E402


def _run(customers: int) -> dict:
    start = time.perf_counter()
    shop = generate_shop(GenerateSettings(customers=customers))
    seconds = time.perf_counter() - start
    t = shop.tables
    return {
        "customers": customers,
        "seconds": round(seconds, 2),
        "events": len(t.events),
        "order_lines": len(t.orders),
        "reviews": len(t.reviews),
        "events_per_customer": round(len(t.events) / customers, 1),
        "order_lines_per_customer": round(len(t.orders) / customers, 2),
        "return_share": round(float(t.orders["is_return"].mean()), 4),
    }


def _ari(customers: int) -> dict:
    shop = generate_shop(GenerateSettings(customers=customers))
    truth = shop.truth["customers_truth"].set_index("customer_id")
    rfm = rfm_features(shop.tables)
    labels = truth.loc[rfm.index, "archetype"]
    k = len(ARCHETYPES)
    rfm_pred = KMeans(k, n_init=4, random_state=0).fit_predict(StandardScaler().fit_transform(rfm))
    rich = rich_features(shop.tables).loc[rfm.index]
    rich_pred = KMeans(k, n_init=4, random_state=0).fit_predict(StandardScaler().fit_transform(rich))
    return {
        "customers": customers,
        "rfm_kmeans_ari": round(float(adjusted_rand_score(labels, rfm_pred)), 4),
        "rich_kmeans_ari": round(float(adjusted_rand_score(labels, rich_pred)), 4),
    }


def main() -> None:
    sizes = [int(s) for s in os.environ.get("GENERATE_SIZES", "10000,100000").split(",")]
    speed = [_run(n) for n in sizes]
    overlap = _ari(int(os.environ.get("GENERATE_ARI_CUSTOMERS", "50000")))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    keys = ("customers", "seconds", "events", "order_lines", "events_per_customer")
    keys += ("order_lines_per_customer", "return_share")
    print(" ".join(f"{k[:12]:>12}" for k in keys))
    for r in speed:
        print(" ".join(f"{r[k]:>12}" for k in keys))
    print(
        f"ARI on {overlap['customers']} customers: RFM k-means {overlap['rfm_kmeans_ari']}, "
        f"rich k-means {overlap['rich_kmeans_ari']}  (1-min load average {load:.1f})"
    )
    out = ROOT / "benchmarks" / "results" / "generate_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "speed": speed,
                "overlap": overlap,
                "load_average_1min": round(float(load), 2),
                "numpy": np.__version__,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

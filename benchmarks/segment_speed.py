"""Speed of ``fit_segmenter`` + ``assign`` on 1M customers × 30 features.

Synthetic features drawn from a mixture (heavy-tailed like real RFM columns). Prints a table and
writes ``benchmarks/results/segment_speed.json``.

Run: ``python -m benchmarks.segment_speed [--customers N --features F]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from benchmarks.results_file import write_result
from segmint.segmentation import fit_segmenter
from segmint.settings import SegmentSettings


def synthetic_features(customers: int, n_features: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 6, customers)
    centres = rng.normal(0, 1.5, (6, n_features))
    x = centres[groups] + rng.normal(0, 1, (customers, n_features))
    x[:, : n_features // 3] = np.exp(x[:, : n_features // 3])  # heavy tails
    cols = ["recency_days", "frequency", "monetary"] + [f"f{i}" for i in range(n_features - 3)]
    f = pd.DataFrame(np.abs(x), columns=cols)
    f.insert(0, "customer_id", np.arange(customers).astype(str))
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    args = parser.parse_args()
    f = synthetic_features(args.customers, args.features)
    settings = SegmentSettings()
    t0 = time.perf_counter()
    seg = fit_segmenter(f, settings)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = seg.assign(f)
    assign_s = time.perf_counter() - t0
    result = {
        "customers": args.customers,
        "features": args.features,
        "algorithms": list(settings.algorithms),
        "k_range": [settings.k_min, settings.k_max],
        "chosen_k": seg.k,
        "fit_s": round(fit_s, 2),
        "assign_s": round(assign_s, 2),
        "total_s": round(fit_s + assign_s, 2),
        "budget_s": 60.0,
        "within_budget": fit_s + assign_s <= 60.0,
        "rows_assigned": int(len(out)),
    }
    write_result("segment_speed", result, width=16)


if __name__ == "__main__":
    main()

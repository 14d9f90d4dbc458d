"""Top-N scoring at scale: 1M customers × 20k products on synthetic sparse purchases.

Builds a Zipf-popular, clustered customers × items matrix directly as ``Interactions`` (about
``--per-customer`` items each), fits each model with the project's recommender settings
(params.yaml) and times ``recommend`` for every customer in bounded batches (``batch_size``).

    python -m benchmarks.recsys_scale [--customers 1000000 --items 20000 --models itemknn,ease,blend]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from segmint.recommend import Interactions, make_recommender
from segmint.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "recsys_scale.json"


def synthetic_interactions(n_customers: int, n_items: int, per_customer: int, seed: int) -> Interactions:
    """Customers in 50 taste clusters, each buying Zipf-popular items, mostly from its cluster's slice."""
    rng = np.random.default_rng(seed)
    nnz = n_customers * per_customer
    rows = np.repeat(np.arange(n_customers), per_customer)
    cluster = rows % 50
    ranks = np.minimum(rng.zipf(1.3, nnz) - 1, n_items - 1)
    local = rng.random(nnz) < 0.7
    slice_size = n_items // 50
    cols = np.where(local, cluster * slice_size + ranks % slice_size, ranks)
    m = sp.csr_matrix((np.ones(nnz, np.float32), (rows, cols)), shape=(n_customers, n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return Interactions(
        m,
        np.array([f"c{i}" for i in range(n_customers)], dtype=object),
        np.array([f"p{j}" for j in range(n_items)], dtype=object),
    )


def main() -> None:
    """Fit and time each model of ``--models`` on synthetic interactions; print and write the timings."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--per-customer", type=int, default=8)
    ap.add_argument("--models", default="itemknn,ease,blend", help="comma-separated candidates")
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    # the project's recommender settings (params.yaml), as the pipeline scores with them
    settings = load_settings(ROOT / "params.yaml").recommend
    t0 = time.perf_counter()
    inter = synthetic_interactions(args.customers, args.items, args.per_customer, settings.seed)
    build = time.perf_counter() - t0
    runs = []
    print(
        f"{'customers':>10s} {'items':>7s} {'model':>8s} {'fit s':>7s} {'recommend s':>11s} {'peak GB':>7s}"
    )
    for name in [m for m in args.models.split(",") if m]:
        t0 = time.perf_counter()
        model = make_recommender(name, settings).fit(inter)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = model.recommend(inter.customer_ids.tolist(), args.n)
        score = time.perf_counter() - t0
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        runs.append(
            {
                "model": name,
                "fit_seconds": fit,
                "recommend_seconds": score,
                "peak_rss_gb_so_far": peak_gb,
                "rows_returned": len(recs),
                "full_lists": int((recs["recommended_product_ids"].map(len) == args.n).sum()),
            }
        )
        print(
            f"{args.customers:10d} {args.items:7d} {name:>8s} {fit:7.1f} {score:11.1f} {peak_gb:7.2f}",
            flush=True,
        )
        del model, recs
    out = {
        "customers": args.customers,
        "items": args.items,
        "nnz": int(inter.matrix.nnz),
        "n": args.n,
        "batch_size": settings.batch_size,
        "build_seconds": build,
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()

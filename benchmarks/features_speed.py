"""Speed of ``customer_features`` on a large synthetic shop.

100k customers, 5M behaviour events and 1M order lines drawn with numpy (the shapes that matter for
the aggregation, not realistic behaviour). Prints a table and writes
``benchmarks/results/features_speed.json``.

Run: ``python -m benchmarks.features_speed [--customers N --events N --order-lines N --repeats R]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from benchmarks.results_file import write_result
from segmint.contracts import Tables
from segmint.features import customer_features
from segmint.settings import FeatureSettings


def synthetic_tables(customers: int, events: int, order_lines: int, seed: int = 0) -> Tables:
    """Canonical tables of the requested sizes with random but well-typed content."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    span_ns = 365 * 86_400 * 10**9
    ids = np.array([f"c{i:07d}" for i in range(customers)], dtype=object)
    signup = start + pd.to_timedelta(rng.integers(0, span_ns // 2, customers), unit="ns")
    cust = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_ts": signup,
            "country": rng.choice(["GB", "DE", "FR", "NL"], customers),
            "channel": rng.choice(["web", "app", "store"], customers),
        }
    )
    n_products = 2000
    products = pd.DataFrame(
        {
            "product_id": np.array([f"p{i:05d}" for i in range(n_products)], dtype=object),
            "category": rng.choice([f"cat{i}" for i in range(20)], n_products),
            "price": rng.gamma(2.0, 10.0, n_products) + 0.5,
        }
    )
    # Heavy-tailed activity: a few customers do most of the clicking and buying.
    weights = rng.pareto(1.5, customers) + 1.0
    weights /= weights.sum()
    ev_c = rng.choice(customers, events, p=weights)
    ev = pd.DataFrame(
        {
            "customer_id": ids[ev_c],
            "product_id": products["product_id"].to_numpy()[rng.integers(0, n_products, events)],
            "event_type": rng.choice(["view", "cart", "purchase"], events, p=[0.8, 0.15, 0.05]),
            "ts": start + pd.to_timedelta(rng.integers(0, span_ns, events), unit="ns"),
            "session_id": np.char.add("s", (ev_c * 8 + rng.integers(0, 8, events)).astype(str)).astype(
                object
            ),
        }
    )
    n_orders = order_lines // 3
    order_c = rng.choice(customers, n_orders, p=weights)
    line_order = rng.integers(0, n_orders, order_lines)
    order_ts = start + pd.to_timedelta(rng.integers(0, span_ns, n_orders), unit="ns")
    orders = pd.DataFrame(
        {
            "order_id": np.char.add("o", line_order.astype(str)).astype(object),
            "customer_id": ids[order_c[line_order]],
            "product_id": products["product_id"].to_numpy()[rng.integers(0, n_products, order_lines)],
            "quantity": rng.integers(1, 5, order_lines),
            "unit_price": rng.gamma(2.0, 10.0, order_lines),
            "ts": order_ts[line_order],
            "is_return": rng.random(order_lines) < 0.03,
            "discount": np.where(rng.random(order_lines) < 0.2, 0.1, 0.0),
        }
    )
    return Tables(customers=cust, products=products, events=ev, orders=orders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    tables = synthetic_tables(args.customers, args.events, args.order_lines)
    build_s = time.perf_counter() - t0
    as_of = pd.Timestamp("2024-11-01", tz="UTC")
    settings = FeatureSettings()
    timings = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        features = customer_features(tables, as_of, settings)
        timings.append(time.perf_counter() - t0)
    result = {
        "customers": args.customers,
        "events": args.events,
        "order_lines": args.order_lines,
        "feature_rows": int(len(features)),
        "feature_columns": int(features.shape[1] - 1),
        "synthesis_s": round(build_s, 2),
        "features_s_best": round(min(timings), 2),
        "features_s_all": [round(t, 2) for t in timings],
        "budget_s": 15.0,
        "within_budget": min(timings) <= 15.0,
    }
    write_result("features_speed", result, width=20)


if __name__ == "__main__":
    main()

"""How long validation takes on a 5M-row events table (row rules + the GX checkpoint over every accepted row).

Run: ``python -m benchmarks.validate_speed [rows]``; writes ``benchmarks/results/validate_speed.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from segmint.contracts import Tables
from segmint.settings import ValidateSettings
from segmint.validation import assess_tables


def synthetic_shop(
    n_events: int, n_customers: int = 200_000, n_products: int = 5_000, seed: int = 0
) -> Tables:
    rng = np.random.default_rng(seed)
    customers = pd.DataFrame(
        {
            "customer_id": np.char.add("c", np.arange(n_customers).astype(str)).astype(object),
            "signup_ts": pd.to_datetime(rng.integers(1.5e9, 1.6e9, n_customers), unit="s", utc=True),
            "country": "UK",
            "channel": "web",
        }
    )
    products = pd.DataFrame(
        {
            "product_id": np.char.add("p", np.arange(n_products).astype(str)).astype(object),
            "category": "misc",
            "price": rng.uniform(1, 100, n_products),
        }
    )
    # ~0.1 % orphans and unknown event types so the quarantine path is exercised too.
    cust = rng.integers(0, int(n_customers * 1.001), n_events)
    events = pd.DataFrame(
        {
            "customer_id": np.char.add("c", cust.astype(str)).astype(object),
            "product_id": np.char.add("p", rng.integers(0, n_products, n_events).astype(str)).astype(object),
            "event_type": rng.choice(
                np.array(["view", "cart", "purchase", "click"], dtype=object),
                n_events,
                p=[0.8, 0.15, 0.049, 0.001],
            ),
            "ts": pd.to_datetime(rng.integers(1.6e9, 1.7e9, n_events), unit="s", utc=True),
            "session_id": np.char.add("s", (np.arange(n_events) // 8).astype(str)).astype(object),
        }
    )
    return Tables(customers=customers, products=products, events=events)


def main(n_events: int = 5_000_000) -> dict:
    settings = ValidateSettings()
    tables = synthetic_shop(n_events)
    start = time.perf_counter()
    result = assess_tables(tables, settings, None).checked()
    rules_s = time.perf_counter() - start

    start = time.perf_counter()
    import great_expectations  # noqa: F401

    import_s = time.perf_counter() - start
    from tasks.validate import run_expectation_suites

    start = time.perf_counter()
    expectations = run_expectation_suites(result.accepted, settings)
    gx_s = time.perf_counter() - start
    out = {
        "events_rows": n_events,
        "row_rules_s": round(rules_s, 2),
        "gx_import_s": round(import_s, 2),
        "gx_suites_s": round(gx_s, 2),
        "total_s": round(rules_s + import_s + gx_s, 2),
        "events_quarantined": result.summary["events"]["quarantined"],
        "expectations_evaluated": len(expectations),
        "expectations_failed": sum(not r["success"] for r in expectations),
    }
    print(f"{'metric':<24}{'value':>12}")
    for key, value in out.items():
        print(f"{key:<24}{value:>12}")
    target = Path(__file__).resolve().parent / "results" / "validate_speed.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)

"""The recommend stage's selection at the generated shop's scale, against its stage budget.

Generates a shop of ``--customers`` (``params.yaml → generate`` otherwise), then times
``segmint.recommend.select_recommender`` with ``params.yaml → recommend``: every candidate under
every half-life on the inner cuts, the outer score and the refit on all history, the compute of
the recommend stage (its MLflow logging aside), in wall and CPU seconds. Reports each
configuration's fit seconds, any candidate stopped by a safety net (a time budget) and the total
against ``runtime.stage_budget_seconds.recommend``. On a shared machine the wall seconds are an
upper bound.

    python -m benchmarks.recsys_stage [--customers 100000]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from benchmarks.results_file import PROJECT_ROOT, RESULTS_DIR, write_json
from segmint.generate.shop import generate_shop
from segmint.recommend import select_recommender
from segmint.settings import load_settings

RESULTS = RESULTS_DIR / "recsys_stage.json"


def main() -> None:
    """Generate the shop, time the selection, print and write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    settings = load_settings(PROJECT_ROOT / "params.yaml")
    started = time.perf_counter()
    shop = generate_shop(settings.generate.model_copy(update={"customers": args.customers}))
    generate_seconds = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    selection = select_recommender(shop.tables, None, settings.recommend)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    budget = float(settings.runtime.stage_budget_seconds["recommend"])
    candidates = selection.candidates
    stopped = candidates["stopped"].dropna().tolist()
    result = {
        "command": f"python -m benchmarks.recsys_stage --customers {args.customers}",
        "machine": f"{os.cpu_count()} cores, shared: the seconds are an upper bound",
        "customers": args.customers,
        "order_lines": 0 if shop.tables.orders is None else len(shop.tables.orders),
        "generate_seconds": round(generate_seconds, 1),
        "candidates": list(settings.recommend.candidates),
        "recency_grid_days": list(settings.recommend.recency_grid_days),
        "selection_cuts": settings.recommend.selection_cuts,
        "selection_seconds": round(seconds, 1),
        # CPU time of this process (every thread): what the wall time would be on idle cores, roughly
        "selection_cpu_seconds": round(cpu_seconds, 1),
        "budget_seconds": budget,
        "within_budget": seconds <= budget,
        "stopped_by_safety_net": stopped,
        "pick": selection.name,
        "pick_recency_half_life_days": selection.metrics["recency_half_life_days"],
        "fit_seconds_by_configuration": [
            {
                "name": r["name"],
                "recency_half_life_days": r["recency_half_life_days"],
                "fit_seconds": r["fit_seconds"],
            }
            for r in candidates.to_dict(orient="records")
        ],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    write_json(RESULTS, result)
    print({k: v for k, v in result.items() if k != "fit_seconds_by_configuration"})


if __name__ == "__main__":
    main()

"""`segmint campaign` from raw tables on a 2-worker process cluster, next to the local run of
``benchmarks.speed``, and whether the two plans agree. Writes ``benchmarks/results/speed_cluster.json``.

It takes the project that ``python -m benchmarks.speed --score-customers N --keep`` scored locally
(``<workdir>/score-N``), copies it, marks its raw tables newer than everything scoring read (so the
campaign validates, builds features and scores anomalies again, as on a new delivery), points
``runtime.dask_address`` at a scheduler with two single-threaded worker processes started with Dask's
own CLI on loopback, and times the same command. The features and the campaign's uplift and
recommendation scoring then run by customer partition on the workers (``tasks.dask_cluster``); the
rest stays in the command's process. The cluster's start-up is timed apart.

Run: ``python -m benchmarks.speed_cluster --scored /path/to/workdir/score-1000000``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmarks.results_file import write_result
from benchmarks.speed import RESULTS, _stage_seconds, _timed
from infra.services import dask_process_cluster

OUTPUTS = ("customer_scores.parquet", "uplift_scores.parquet", "campaign_plan.parquet")


def _same_outputs(local: Path, cluster: Path) -> dict[str, Any]:
    """Per output file: equal rows and columns, and the largest numeric difference."""
    found: dict[str, Any] = {}
    for name in OUTPUTS:
        a, b = pd.read_parquet(local / "outputs" / name), pd.read_parquet(cluster / "outputs" / name)
        same_shape = list(a.columns) == list(b.columns) and len(a) == len(b)
        numeric = a.select_dtypes("number").columns if same_shape else []
        found[name] = {
            "rows": len(b),
            "same_rows_and_columns": bool(same_shape),
            "other_columns_equal": bool(
                same_shape and a.drop(columns=numeric).equals(b.drop(columns=numeric))
            ),
            "max_abs_difference": float((a[numeric] - b[numeric]).abs().max().max()) if len(numeric) else 0.0,
        }
    return found


def run(scored: Path, memory_limit: str) -> dict[str, Any]:
    project = scored.with_name(scored.name + "-cluster")
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(scored, project, ignore=shutil.ignore_patterns("shop", ".prefect", ".segmint.lock"))
    started = time.perf_counter()
    with dask_process_cluster(project / "dask-scratch", memory_limit) as address:
        startup = time.perf_counter() - started
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["runtime"].update({"task_runner": "dask", "dask_address": address})
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        now = time.time()
        for raw in (project / "data" / "raw").iterdir():  # a new delivery: everything after it is stale
            os.utime(raw, (now, now))
        campaign = _timed(project, "campaign")
        stages, flow_seconds = _stage_seconds(project, "campaign")
    local = json.loads((RESULTS / "speed.json").read_text()).get("scoring", {})
    return {
        "customers": local.get("customers"),
        "days": local.get("days"),
        "workers": 2,
        "threads_per_worker": 1,
        "worker_memory_limit": memory_limit,
        "partition_customers": params["runtime"].get("dask_partition_customers"),
        "cluster_startup_s": round(startup, 1),
        "local": {k: local.get("campaign", {}).get(k) for k in ("seconds", "peak_rss_mb", "stages")},
        "cluster": {**campaign, "stages": stages, "flow_seconds": flow_seconds},
        "outputs": _same_outputs(scored, project) if campaign["rc"] == 0 else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scored", type=Path, required=True, help="the project benchmarks.speed scored")
    parser.add_argument("--memory-limit", default="5GiB", help="per worker")
    args = parser.parse_args(argv)
    result = run(args.scored.resolve(), args.memory_limit)
    write_result("speed_cluster", result)
    return result


if __name__ == "__main__":
    main()

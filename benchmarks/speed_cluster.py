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
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmarks.results_file import PROJECT_ROOT, write_result
from benchmarks.speed import RESULTS, _env, _stage_seconds, _timed
from tasks.processes import free_port, start, stop

OUTPUTS = ("customer_scores.parquet", "uplift_scores.parquet", "campaign_plan.parquet")


def _cluster(scratch: Path, memory_limit: str) -> tuple[str, list[Any]]:
    """A scheduler and two single-threaded worker processes on loopback (Dask's CLI), and the processes."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    dask = [str(Path(sys.executable).with_name("dask"))]
    env = {**_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    port = address.rsplit(":", 1)[1]
    started = [
        start(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
            scratch / "scheduler.log",
            env,
            scratch,
        )
    ]
    for i in (1, 2):
        worker = [
            *dask,
            "worker",
            address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--memory-limit",
            memory_limit,
        ]
        worker += ["--host", "127.0.0.1", "--no-dashboard", "--name", f"worker-{i}"]
        worker += ["--local-directory", str(scratch / f"worker-{i}"), "--death-timeout", "60"]
        started.append(start(worker, scratch / f"worker-{i}.log", env, scratch))
    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=180)
    return address, started


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
    scratch = project / "dask-scratch"
    scratch.mkdir()
    started = time.perf_counter()
    address, processes = _cluster(scratch, memory_limit)
    startup = time.perf_counter() - started
    try:
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["runtime"].update({"task_runner": "dask", "dask_address": address})
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        now = time.time()
        for raw in (project / "data" / "raw").iterdir():  # a new delivery: everything after it is stale
            os.utime(raw, (now, now))
        campaign = _timed(project, "campaign")
        stages, flow_seconds = _stage_seconds(project, "campaign")
    finally:
        for process in reversed(processes):
            stop(process)
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
    parser.add_argument("--memory-limit", default="6GiB", help="per worker")
    args = parser.parse_args(argv)
    result = run(args.scored.resolve(), args.memory_limit)
    write_result("speed_cluster", result)
    return result


if __name__ == "__main__":
    main()

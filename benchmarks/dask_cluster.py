"""Customer features of a generated shop computed here vs by customer partition on a 2-worker process
cluster: wall times and whether the results agree. Writes ``benchmarks/results/dask_cluster.json``.

The cluster is a ``LocalCluster`` of two single-threaded worker processes (what ``dask worker
--nworkers 1 --nthreads 1`` twice gives); its start-up is timed apart. The cluster time counts splitting
the tables, sending the partitions, computing and gathering them, and the central attribute columns.

Run: ``python -m benchmarks.dask_cluster [--customers 20000 --partition 5000]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd

from benchmarks.results_file import write_result
from segmint.contracts import Tables, latest_timestamp
from segmint.features import customer_features
from segmint.generate import generate_shop
from segmint.nlp import fit_sentiment_model
from segmint.partition import customer_partitions, features_from_parts
from segmint.settings import FeatureSettings, GenerateSettings
from tasks.dask_cluster import map_partitions


def _scored_tables(customers: int, settings: FeatureSettings) -> Tables:
    """A generated shop whose reviews are scored once, as the features stage does."""
    tables = generate_shop(GenerateSettings(customers=customers, seed=7)).tables
    reviews = tables.reviews
    sample = reviews.sample(n=min(len(reviews), settings.sentiment_max_train_reviews), random_state=0)
    model = fit_sentiment_model(sample["text"], sample["rating"], seed=settings.seed)
    return dataclasses.replace(tables, reviews=reviews.assign(sentiment_score=model.score(reviews["text"])))


def _on_cluster(tables: Tables, as_of: pd.Timestamp, settings: FeatureSettings, size: int) -> dict:
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
    )
    with cluster, Client(cluster) as client:
        startup = time.perf_counter() - started
        started = time.perf_counter()
        parts = customer_partitions(dataclasses.replace(tables, campaigns=None), size)
        results = map_partitions(
            client, customer_features, parts, as_of=as_of, settings=settings, sentiment=None
        )
        features = features_from_parts(tables, as_of, settings, results.parts)
        seconds = time.perf_counter() - started
    return {"features": features, "startup_s": startup, "seconds": seconds, **results.summary()}


def run(customers: int, partition: int) -> dict:
    settings = FeatureSettings()
    tables = _scored_tables(customers, settings)
    as_of = (latest_timestamp(tables) or pd.Timestamp.now(tz="UTC")) + pd.Timedelta(seconds=1)
    started = time.perf_counter()
    local = customer_features(tables, as_of, settings)
    local_s = time.perf_counter() - started
    cluster = _on_cluster(tables, as_of, settings, partition)
    numeric = local.columns.drop("customer_id")
    difference = np.abs(local[numeric].to_numpy() - cluster["features"][numeric].to_numpy())
    return {
        "customers": customers,
        "events": len(tables.events),
        "order_lines": len(tables.orders),
        "partition_customers": partition,
        "partitions": cluster["partitions"],
        "workers": cluster["workers"],
        "local_s": round(local_s, 2),
        "cluster_s": round(cluster["seconds"], 2),
        "cluster_startup_s": round(cluster["startup_s"], 2),
        "same_ids_and_columns": bool(
            local["customer_id"].equals(cluster["features"]["customer_id"])
            and list(local.columns) == list(cluster["features"].columns)
        ),
        "max_abs_difference": float(difference.max()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--partition", type=int, default=5_000)
    args = parser.parse_args(argv)
    result = run(args.customers, args.partition)
    write_result("dask_cluster", result, width=22)
    return result


if __name__ == "__main__":
    main()

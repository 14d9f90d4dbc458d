"""Training on Dask: the stage graph on Prefect's Dask runner, the per-customer work on a cluster of
separate worker processes (started here with Dask's own CLI), and the same outputs as the local run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from infra.services import dask_process_cluster
from tests.integration.conftest import light_params, run_segmint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_stage_graph_lets_independent_stages_run_side_by_side() -> None:
    from flows.training import _producers
    from tasks.stages import TRAINING_ORDER

    graph = _producers(list(TRAINING_ORDER))
    assert graph["validate"] == []
    assert graph["segment"] == ["features"] and graph["anomaly"] == ["features"]
    assert "segment" in graph["recommend"]
    assert {"segment", "recommend", "uplift"} <= set(graph["evaluate"])
    assert {"gate", "anomaly"} <= set(graph["campaign"])


def test_dask_task_runner_keeps_the_stages_in_this_process() -> None:
    from flows.training import dask_task_runner
    from segmint.settings import RuntimeSettings

    for address in (None, "tcp://127.0.0.1:8786"):
        runner = dask_task_runner(RuntimeSettings(task_runner="dask", dask_workers=3, dask_address=address))
        assert runner.cluster_kwargs["n_workers"] == 3 and runner.cluster_kwargs["processes"] is False
        # Dask opens HTTP endpoints even without a dashboard: they must stay on loopback.
        assert runner.cluster_kwargs["scheduler_kwargs"]["dashboard_address"].startswith("127.0.0.1:")
        assert runner.cluster_kwargs["worker_dashboard_address"].startswith("127.0.0.1:")


@pytest.fixture(scope="module")
def process_cluster(tmp_path_factory) -> Iterator[str]:
    """The address of a scheduler with two single-threaded worker processes, on loopback."""
    with dask_process_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield address


def test_the_cluster_workers_are_separate_processes(process_cluster) -> None:
    from distributed import Client

    with Client(process_cluster, timeout="30s") as client:
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids


def _partition_pids(parts: list[int], address: str) -> dict:
    """Run on a thread worker of another cluster, as a stage on the Dask task runner does."""
    from segmint.settings import RuntimeSettings
    from tasks.dask_cluster import compute_client, map_partitions

    with compute_client(RuntimeSettings(task_runner="dask", dask_address=address)) as client:
        results = map_partitions(client, _pid_of, parts, offset=[100])
    return {"parts": results.parts, "workers": results.workers}


def _pid_of(part: int, offset: list[int]) -> tuple[int, int]:
    return part + offset[0], os.getpid()


def test_a_stage_on_the_task_runner_maps_its_partitions_over_the_process_cluster(process_cluster) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as runner,
        Client(runner, set_as_default=False) as client,
    ):
        done = client.submit(_partition_pids, list(range(6)), process_cluster, pure=False).result()
    assert [value for value, _ in done["parts"]] == [100, 101, 102, 103, 104, 105]
    pids = {pid for _, pid in done["parts"]}
    assert done["workers"] == len(pids) == 2 and os.getpid() not in pids


def test_without_an_address_the_task_runners_threads_take_the_partitions() -> None:
    from prefect import flow, task

    from flows.training import dask_task_runner
    from segmint.settings import RuntimeSettings
    from tasks.dask_cluster import compute_client, map_partitions

    runtime = RuntimeSettings(task_runner="dask", dask_workers=2)

    @task
    def partitioned() -> dict:
        with compute_client(runtime) as client:
            assert client is not None
            results = map_partitions(client, _pid_of, list(range(6)), offset=[100])
        return {"parts": results.parts, "workers": results.workers}

    @flow(task_runner=dask_task_runner(runtime))
    def on_threads() -> dict:
        return partitioned.submit().result()

    done = on_threads()
    assert [value for value, _ in done["parts"]] == [100, 101, 102, 103, 104, 105]
    # threads of this process
    assert {pid for _, pid in done["parts"]} == {os.getpid()} and 1 <= done["workers"] <= 2


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def _assert_same_table(local: Path, dask: Path, name: str, key: list[str]) -> None:
    expected, actual = pd.read_parquet(local / name), pd.read_parquet(dask / name)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(_sorted(expected, key), _sorted(actual, key), check_exact=False, rtol=1e-6)


def test_training_on_a_process_cluster_matches_the_local_run(
    tmp_path, shop_dir, trained_project, process_cluster
) -> None:
    project = tmp_path / "dask"
    project.mkdir()
    runtime = {"task_runner": "dask", "dask_address": process_cluster, "dask_partition_customers": 500}
    light_params(project / "params.yaml", {"runtime": runtime})
    ingest = run_segmint(project, "ingest", "--source", "canonical", "--path", str(shop_dir))
    assert ingest.returncode == 0, ingest.stderr + ingest.stdout
    train = run_segmint(project, "train")
    assert train.returncode == 0, train.stderr[-3000:] + train.stdout[-3000:]

    # the features were computed by partitions of 500 customers on both worker processes
    features = json.loads((project / "metrics" / "features.json").read_text())
    assert features["dask"] == {"partitions": -(-features["customers"] // 500), "workers": 2}
    campaign = json.loads((project / "metrics" / "campaign.json").read_text())
    assert campaign["recommendations"]["partitions"] == -(-campaign["customers"] // 500) > 1

    for name in ("features.parquet", "train.parquet", "labels.parquet"):
        _assert_same_table(
            trained_project / "data" / "features", project / "data" / "features", name, ["customer_id"]
        )
    outputs = (trained_project / "outputs", project / "outputs")
    _assert_same_table(*outputs, "uplift_scores.parquet", ["customer_id", "offer"])
    _assert_same_table(*outputs, "campaign_plan.parquet", ["customer_id"])
    key = ["customer_id"]
    local = _sorted(pd.read_parquet(outputs[0] / "customer_scores.parquet"), key)
    dask = _sorted(pd.read_parquet(outputs[1] / "customer_scores.parquet"), key)
    cols = ["customer_id", "segment_id", "segment_name", "value_tier", "is_anomalous", "best_offer"]
    pd.testing.assert_frame_equal(local[cols], dask[cols])
    numbers = ["clv", "anomaly_score", "expected_incremental_value"]
    pd.testing.assert_frame_equal(local[numbers], dask[numbers], check_exact=False, rtol=1e-6)
    recs = "recommended_product_ids"
    assert local[recs].map(list).tolist() == dask[recs].map(list).tolist()

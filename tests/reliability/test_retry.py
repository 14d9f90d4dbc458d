"""Retries with backoff on service calls: a transient failure is survived, a permanent one fails the run
with a clear message (service named, password masked) and promotes nothing."""

from __future__ import annotations

import json

import pytest

from flows.prefect_tasks import PREFECT_TASKS
from tasks.retry import ServiceUnavailableError, call_with_retries
from tasks.stages import STAGES
from tests.reliability.conftest import run_segmint

pytestmark = pytest.mark.reliability


def flaky(failures: int, exc: Exception):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc
        return "ok"

    return fn, calls


def test_a_transient_failure_is_retried_with_backoff():
    waits: list[float] = []
    fn, calls = flaky(1, ConnectionError("connection reset"))
    assert call_with_retries(fn, "MLflow tracking server at x", sleep=waits.append) == "ok"
    assert calls["n"] == 2 and waits == [1.0]


def test_a_permanent_failure_names_the_service_and_masks_the_password():
    waits: list[float] = []
    fn, calls = flaky(99, ConnectionError("cannot reach http://u:topsecret@db:5000/api"))
    with pytest.raises(ServiceUnavailableError) as info:
        call_with_retries(fn, "MLflow tracking server at http://u:***@db:5000", sleep=waits.append)
    message = str(info.value)
    assert message.startswith("MLflow tracking server at http://u:***@db:5000 failed after 3 tries")
    assert "topsecret" not in message and info.value.__cause__ is None
    assert calls["n"] == 3 and waits == [1.0, 4.0]


def test_configure_mlflow_survives_one_dropped_connection(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from segmint.settings import Settings
    from tasks.paths import ProjectPaths
    from tasks.tracking import configure_mlflow

    real = MlflowClient.get_experiment_by_name
    fn, calls = flaky(1, ConnectionError("dropped"))

    def first_call_fails(self, name):
        fn() if calls["n"] == 0 else None
        return real(self, name)

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", first_call_fails)
    experiment_id = configure_mlflow(Settings(), ProjectPaths(tmp_path))
    assert experiment_id and calls["n"] == 1


def test_only_stages_that_touch_services_retry():
    touching = {"segment", "recommend", "uplift", "evaluate", "gate", "campaign"}
    for name, spec in STAGES.items():
        assert (spec.retries > 0) == (name in touching), name
        assert PREFECT_TASKS[name].retries == spec.retries


@pytest.mark.slow
def test_an_unreachable_tracking_server_fails_the_flow_and_promotes_nothing(fresh_copy):
    from tests.reliability.test_concurrency import registry_state

    before = registry_state(fresh_copy)
    gate_before = json.loads((fresh_copy / "metrics" / "gate.json").read_text())
    env = {
        "MLFLOW_TRACKING_URI": "http://segmint:hunter2-secret@127.0.0.1:9",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    }
    proc = run_segmint(fresh_copy, "train", env=env, timeout=600)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1, text[-3000:]
    assert "MLflow tracking server at http://segmint:***@127.0.0.1:9 failed after 3 tries" in text
    assert "hunter2" not in text
    assert registry_state(fresh_copy) == before
    assert json.loads((fresh_copy / "metrics" / "gate.json").read_text()) == gate_before

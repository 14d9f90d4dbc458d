"""A stage task retries only when a service failed before its work began: a failed fit is never retried,
and a server that blinks never makes a model be fitted again."""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException
from prefect.states import Failed

from flows.prefect_tasks import PREFECT_TASKS
from tasks.retry import (
    ServiceLostAfterWorkError,
    ServiceUnavailableError,
    is_service_error,
    retry_on_service_error,
    work_not_redone,
)

pytestmark = pytest.mark.reliability


def _mlflow_lost_connection() -> MlflowException:
    """What MLflow's REST client raises when the server drops: its own error, raised while handling the
    requests one."""
    try:
        raise requests.exceptions.ConnectionError("Connection refused")
    except requests.exceptions.ConnectionError:
        try:
            raise MlflowException("API request to http://mlflow:5000/api failed with exception refused")
        except MlflowException as exc:
            return exc


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionError("connection reset by peer"), True),
        (TimeoutError("timed out"), True),
        (ServiceUnavailableError("MLflow tracking server at x failed after 3 tries"), True),
        (_mlflow_lost_connection(), True),
        (ValueError("Input X contains NaN"), False),
        (MlflowException("RESOURCE_DOES_NOT_EXIST: no such model"), False),
        (ServiceLostAfterWorkError("stage segment: a service failed after its work had begun"), False),
    ],
)
def test_the_retry_condition_retries_service_errors_only(error, retried):
    assert retry_on_service_error(None, None, Failed(data=error)) is retried
    assert is_service_error(error) is retried


def test_every_stage_task_retries_through_the_condition():
    for name, prefect_task in PREFECT_TASKS.items():
        assert prefect_task.retry_condition_fn is retry_on_service_error, name


def test_a_service_error_after_the_work_began_is_not_retryable():
    with pytest.raises(ConnectionError), work_not_redone("stage segment"):
        raise ConnectionError("before the work: retryable as it is")
    with pytest.raises(ServiceLostAfterWorkError) as info, work_not_redone("stage segment") as begin:
        begin()
        raise ConnectionError("cannot reach http://u:topsecret@mlflow:5000")
    assert "stage segment" in str(info.value) and "not refitted" in str(info.value)
    assert "topsecret" not in str(info.value)
    assert not retry_on_service_error(None, None, Failed(data=info.value))
    with pytest.raises(ValueError), work_not_redone("stage segment") as begin:
        begin()
        raise ValueError("a failed fit stays what it is")


@pytest.fixture
def counted_segment_fit(monkeypatch):
    """The segment stage's function replaced by one that counts its calls and raises what it is given."""
    import tasks.segment

    def install(error: Exception | None) -> list[int]:
        calls: list[int] = []

        def run_segment(settings, paths):
            calls.append(1)
            if error is not None:
                raise error
            return {"fitted": 1}

        monkeypatch.setattr(tasks.segment, "run_segment", run_segment)
        return calls

    return install


@pytest.mark.integration
def test_a_stage_task_is_retried_for_a_blink_before_the_fit_and_never_refits(
    project, counted_segment_fit, monkeypatch
):
    """Through Prefect's task engine: a dropped connection while opening the stage's MLflow run is
    retried and the model fitted once; a failed fit, or a server lost after it, is not retried.
    (The stage's MLflow run is a stand-in: what is tested is when the task engine retries.)"""
    from contextlib import nullcontext

    from segmint.settings import load_settings
    from tasks import tracking
    from tasks.paths import ProjectPaths

    paths = ProjectPaths(project)
    settings = load_settings(paths.params)
    segment = PREFECT_TASKS["segment"].with_options(retry_delay_seconds=0)
    opened: list[int] = []

    def stage_run_that_blinks_once(*args, **kwargs):
        opened.append(1)
        if len(opened) == 1:
            raise ConnectionError("connection reset while opening the run")
        return nullcontext()

    monkeypatch.setattr(tracking, "stage_run", stage_run_that_blinks_once)
    monkeypatch.setattr(tracking, "log_stage_result", lambda result, hashes: None)
    calls = counted_segment_fit(None)
    assert segment("segment", settings, paths)["fitted"] == 1
    assert len(opened) == 2 and len(calls) == 1

    calls = counted_segment_fit(ValueError("the fit failed"))
    with pytest.raises(ValueError, match="the fit failed"):
        segment("segment", settings, paths)
    assert len(calls) == 1

    calls = counted_segment_fit(ConnectionError("registry gone while logging the model"))
    with pytest.raises(ServiceLostAfterWorkError):
        segment("segment", settings, paths)
    assert len(calls) == 1

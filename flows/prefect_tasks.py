"""The Prefect tasks the flows run: each wraps a ``tasks`` function as it is.

They live with the flows, so that ``segmint stage NAME`` (what ``dvc repro`` calls) and every other
command outside a flow run never import Prefect (about 3 s of CPU per command).
"""

from __future__ import annotations

from prefect import task

from tasks.anomaly import run_anomaly_scoring
from tasks.drift import record_monitoring, run_drift
from tasks.features import run_scoring_features
from tasks.processes import releasing_memory
from tasks.retry import retry_on_service_error
from tasks.stages import STAGES, run_stage

RETRY_DELAYS_SECONDS: list[float] = [2, 8]

# A flow runs its steps in one process: each step gives back the memory it freed before the next
# (tasks.processes.releasing_memory). Only stages that touch the registry or other services retry,
# and only on a service error before their work begins (tasks.retry.retry_on_service_error).
PREFECT_TASKS = {
    name: task(
        name=name,
        retries=spec.retries,
        retry_delay_seconds=RETRY_DELAYS_SECONDS[: spec.retries] or 0,
        retry_condition_fn=retry_on_service_error,
    )(releasing_memory(run_stage))
    for name, spec in STAGES.items()
}

# Drift fits nothing, but a retry still recomputes every report: only a service error is retried.
drift_task = task(name="drift", retries=1, retry_delay_seconds=2, retry_condition_fn=retry_on_service_error)(
    run_drift
)
record_monitoring_task = task(name="record-monitoring")(record_monitoring)
scoring_features_task = task(name="scoring_features")(releasing_memory(run_scoring_features))
anomaly_scores_task = task(name="anomaly_scores")(releasing_memory(run_anomaly_scoring))

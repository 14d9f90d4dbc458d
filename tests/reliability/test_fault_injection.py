"""Fault injection on the first half of the DAG: validate, features, segment, anomaly, recommend and uplift
are each killed mid-writes and rerun; the project equals a clean run (the rest:
test_fault_injection_models.py)."""

from __future__ import annotations

import pytest

from tasks.stages import FAULT_KILL_ENV, TRAINING_ORDER
from tests.reliability.faults import killed_and_rerun_equals_clean

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

# The DAG's first half, up to the uplift fit: the two halves (about 3 minutes each) run on two workers.
DATA_STAGES = TRAINING_ORDER[: TRAINING_ORDER.index("uplift") + 1]


def test_killing_each_data_stage_then_rerunning_equals_a_clean_run(trained_project, tmp_path):
    killed_and_rerun_equals_clean(trained_project, tmp_path / "faulty", DATA_STAGES)


def test_fault_hook_is_inert_unless_the_variable_names_the_stage(monkeypatch):
    from tasks import io
    from tasks.stages import _arm_fault_injection

    monkeypatch.delenv(FAULT_KILL_ENV, raising=False)
    assert _arm_fault_injection("features") is False
    monkeypatch.setenv(FAULT_KILL_ENV, "segment")
    assert _arm_fault_injection("features") is False
    assert io.BEFORE_REPLACE_HOOKS == []

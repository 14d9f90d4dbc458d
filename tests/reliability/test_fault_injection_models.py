"""Fault injection on the second half of the DAG: evaluate, gate, campaign and report are each killed
mid-writes and rerun; the project equals a clean run (the first half: test_fault_injection.py)."""

from __future__ import annotations

import pytest

from tasks.stages import TRAINING_ORDER
from tests.reliability.faults import killed_and_rerun_equals_clean
from tests.reliability.test_fault_injection import DATA_STAGES

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

MODEL_STAGES = TRAINING_ORDER[len(DATA_STAGES) :]


def test_every_stage_is_in_one_of_the_two_halves():
    assert (*DATA_STAGES, *MODEL_STAGES) == tuple(TRAINING_ORDER) and "evaluate" in MODEL_STAGES


def test_killing_each_model_stage_then_rerunning_equals_a_clean_run(trained_project, tmp_path):
    killed_and_rerun_equals_clean(trained_project, tmp_path / "faulty", MODEL_STAGES)

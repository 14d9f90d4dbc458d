from __future__ import annotations

import logging

import pytest

from segmint.settings import RuntimeSettings, Settings, SettingsError
from tasks.paths import ProjectPaths
from tasks.stages import STAGES, _timing, run_stage


def _settings(budgets: dict) -> Settings:
    return Settings.model_validate({"runtime": {"stage_budget_seconds": budgets}})


def test_a_stage_over_its_budget_is_flagged_and_logged(caplog):
    settings = _settings({"segment": 10.0})
    # caplog listens on the root logger, whose handlers Prefect replaces when a test before this one,
    # in the same process, imported it: listen on the stage logger itself.
    logger = logging.getLogger("segmint.stages")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="segmint.stages"):
            over = _timing("segment", 12.5, settings)
    finally:
        logger.removeHandler(caplog.handler)
    assert over == {"stage_seconds": 12.5, "stage_budget_seconds": 10.0, "over_budget": True}
    assert "over its budget" in caplog.text
    assert _timing("segment", 3.0, settings)["over_budget"] is False
    assert _timing("anomaly", 3.0, settings) == {"stage_seconds": 3.0}


def test_budgets_must_be_positive_and_name_known_stages(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        _settings({"segment": 0})
    # model_copy skips validation (params.yaml typos fail at load): this is run_stage's own check
    runtime = RuntimeSettings().model_copy(update={"stage_budget_seconds": {"segmnet": 5.0}})
    with pytest.raises(SettingsError, match="unknown stage.*segmnet"):
        run_stage("segment", Settings().model_copy(update={"runtime": runtime}), ProjectPaths(tmp_path))


def test_default_budgets_cover_every_stage():
    from segmint.settings import load_settings
    from tests.conftest import ROOT

    budgets = load_settings(ROOT / "params.yaml").runtime.stage_budget_seconds
    assert set(budgets) == set(STAGES)

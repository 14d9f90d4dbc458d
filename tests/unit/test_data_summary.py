"""The gate's data summary made ahead in a separate process, taken only when it is of the same file."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from segmint.settings import MonitorSettings
from tasks import data_summary


@pytest.fixture()
def features(tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"spend": rng.gamma(2.0, 30.0, 200), "orders": rng.poisson(3, 200).astype(float)})
    path = tmp_path / "features.parquet"
    frame.to_parquet(path)
    return path


@pytest.fixture()
def made_here(monkeypatch):
    """The summaries made in this process (the separate one does not see this patch)."""
    made: list[pd.DataFrame] = []
    real = data_summary.summary_report

    def recorded(current, settings, html_path):
        made.append(current)
        real(current, settings, html_path)

    monkeypatch.setattr(data_summary, "summary_report", recorded)
    yield made
    data_summary.discard_ahead()


def test_the_summary_made_ahead_is_taken_for_the_same_file_and_settings(features, made_here, tmp_path):
    settings = MonitorSettings(summary_report=True)
    assert data_summary.start_ahead(features, settings)
    html = tmp_path / "out" / "summary.html"
    data_summary.write_summary(pd.read_parquet(features), features, settings, html)
    assert made_here == []  # the separate process made it
    assert "spend" in html.read_text() and "orders" in html.read_text()
    assert not data_summary._AHEAD
    # nothing is started when the summary is off, and then none is left behind
    assert not data_summary.start_ahead(features, MonitorSettings(summary_report=False))
    data_summary.write_summary(
        pd.read_parquet(features), features, MonitorSettings(summary_report=False), html
    )
    assert not html.exists()


def test_a_file_rewritten_or_other_settings_or_a_failure_make_it_here(features, made_here, tmp_path, caplog):
    settings = MonitorSettings(summary_report=True)
    html = tmp_path / "summary.html"

    # the features were written again after the process read them: its report is of the old ones
    data_summary.start_ahead(features, settings)
    next(iter(data_summary._AHEAD.values())).process.wait()
    rewritten = pd.read_parquet(features).assign(spend=lambda f: f["spend"] * 2)
    rewritten.to_parquet(features)
    data_summary.write_summary(rewritten, features, settings, html)
    assert len(made_here) == 1 and made_here[0].equals(rewritten)

    # the gate's settings differ from the ones the process ran with
    data_summary.start_ahead(features, settings)
    other = MonitorSettings(summary_report=True, sample_rows=150)
    data_summary.write_summary(rewritten, features, other, html)
    assert len(made_here) == 2

    # the process fails (the file is not parquet): the gate makes it, and the failure is logged
    features.write_text("not parquet")
    data_summary.start_ahead(features, settings)
    with caplog.at_level(logging.WARNING, logger="tasks.data_summary"):
        data_summary.write_summary(rewritten, features, settings, html)
    assert len(made_here) == 3 and "failed" in caplog.text
    assert html.stat().st_size > 0 and not data_summary._AHEAD


def test_summaries_nothing_took_are_stopped_and_removed(features):
    assert data_summary.start_ahead(features, MonitorSettings(summary_report=True))
    ahead = next(iter(data_summary._AHEAD.values()))
    data_summary.discard_ahead()
    assert ahead.process.poll() is not None and not ahead.folder.exists() and not data_summary._AHEAD


def test_a_training_run_starts_the_gate_summary_once_the_features_are_written(
    tmp_path, monkeypatch, made_here
):
    from flows import training
    from segmint.settings import Settings
    from tasks.paths import ProjectPaths

    paths = ProjectPaths(tmp_path)
    settings = Settings().model_copy(update={"monitor": MonitorSettings(summary_report=True)})
    source = paths.features / "features.parquet"
    seen: dict[str, bool] = {}

    def features(name, settings, paths):
        paths.features.mkdir(parents=True)
        pd.DataFrame({"spend": np.arange(300.0)}).to_parquet(source)
        return {}

    def gate(name, settings, paths):
        seen["started"] = source.resolve() in data_summary._AHEAD
        html = paths.reports / "drift" / "summary.html"
        data_summary.write_summary(pd.read_parquet(source), source, settings.monitor, html)
        return {"html": html.exists()}

    def failing(name, settings, paths):
        raise RuntimeError("stage failed")

    monkeypatch.setattr(training, "PREFECT_TASKS", {"features": features, "gate": gate, "campaign": failing})
    assert training._run_in_turn(["features", "gate"], settings, paths) == {
        "features": {},
        "gate": {"html": True},
    }
    assert seen == {"started": True} and made_here == []
    # without the gate nothing is started; a failing stage leaves no process behind
    source.unlink()
    paths.features.rmdir()
    training._run_in_turn(["features"], settings, paths)
    assert not data_summary._AHEAD
    source.unlink()
    paths.features.rmdir()
    with pytest.raises(RuntimeError, match="stage failed"):
        training._run_in_turn(["features", "campaign", "gate"], settings, paths)
    assert not data_summary._AHEAD

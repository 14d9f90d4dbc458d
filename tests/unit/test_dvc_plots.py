"""The DVC plots: dvc.yaml draws every plot file a stage writes, and the tables behind them are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from segmint.plot_data import calibration_by_decile, cumulative_gain, file_stem, qini_by_offer
from tasks.stages import STAGES, dvc_plots, dvc_stages

ROOT = Path(__file__).resolve().parents[2]


def test_written_dvc_yaml_draws_qini_gain_ndcg_and_clv_calibration_from_stage_outputs():
    written = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert written["plots"] == dvc_plots(), "dvc.yaml is stale: run `make dvc.yaml`"
    definitions = {path: props for entry in written["plots"] for path, props in entry.items()}
    assert set(definitions) == {
        "plots/qini_by_offer",
        "plots/clv_gain.csv",
        "plots/clv_calibration.csv",
        "plots/recommend_ndcg.csv",
    }
    assert definitions["plots/qini_by_offer"]["x"] == "share_targeted"
    assert definitions["plots/recommend_ndcg.csv"]["y"] == "candidate"
    uncached = {
        path: name
        for name, entry in dvc_stages().items()
        for out in entry.get("outs", [])
        if isinstance(out, dict)
        for path, props in out.items()
        if props == {"cache": False}
    }
    assert uncached["plots/qini_by_offer"] == "uplift" and uncached["plots/recommend_ndcg.csv"] == "recommend"
    assert set(definitions) <= set(uncached)
    # Plot data is declared as uncached outs, not as stage plots, so only the definitions above render.
    assert not any("plots" in entry for entry in written["stages"].values())
    assert all(set(STAGES[name].plots) <= set(uncached) for name in STAGES)


def test_qini_by_offer_is_one_wide_table_per_offer():
    grid = np.linspace(0, 1, 3)
    long = pd.concat(
        [
            pd.DataFrame({"offer": offer, "learner": learner, "fraction": grid, "qini": grid * scale})
            for offer, learner, scale in (
                ("discount_10", "t_learner", 0.2),
                ("discount_10", "random", 0.1),
                ("free shipping", "x_learner", 0.3),
                ("free shipping", "random", 0.05),
            )
        ]
    )
    wide = qini_by_offer(long)
    assert set(wide) == {"discount_10", "free shipping"}
    assert list(wide["discount_10"].columns) == ["share_targeted", "model", "random"]
    np.testing.assert_allclose(wide["discount_10"]["model"], [0, 0.1, 0.2])
    np.testing.assert_allclose(wide["free shipping"]["random"], [0, 0.025, 0.05])
    assert file_stem("free shipping") == "free_shipping"
    assert qini_by_offer(long.iloc[:0]) == {}
    with pytest.raises(ValueError, match="expected one learner"):
        qini_by_offer(long[long["learner"] != "random"])


def test_cumulative_gain_ranks_by_prediction_between_random_and_perfect():
    actual = np.array([0.0, 10.0, 0.0, 30.0, 60.0])
    gain = cumulative_gain(np.array([5.0, 4.0, 3.0, 2.0, 1.0]), actual, points=6)
    np.testing.assert_allclose(gain["share_targeted"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(gain["perfect"], [0, 0.6, 0.9, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(gain["model"], [0, 0.0, 0.1, 0.1, 0.4, 1.0])
    np.testing.assert_allclose(gain["random"], gain["share_targeted"])
    with pytest.raises(ValueError, match="sum to zero"):
        cumulative_gain(np.ones(3), np.zeros(3))


def test_calibration_by_decile_averages_predicted_and_actual_per_equal_sized_bin():
    predicted = np.arange(20, dtype=float)[::-1]
    table = calibration_by_decile(predicted, predicted * 2.0)
    assert list(table["decile"]) == list(range(1, 11))
    assert (table["customers"] == 2).all()
    np.testing.assert_allclose(table["predicted"], [0.5 + 2 * i for i in range(10)])
    np.testing.assert_allclose(table["actual"], table["predicted"] * 2.0)
    with pytest.raises(ValueError, match="at least 10 rows"):
        calibration_by_decile(np.ones(5), np.ones(5))

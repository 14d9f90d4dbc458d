"""Learning across waves on tiny frames: the history's counts, its idempotence, the posteriors that stop
a harmful pair and the scores the planner then gets; and the generator's planted trap."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pandas as pd
import pytest

from segmint.generate.outcomes import trapped_truth
from segmint.generate.shop import ARCHETYPES
from segmint.learning import (
    HISTORY_COLUMNS,
    appended_history,
    learned_scores,
    outcomes_key,
    pair_posteriors,
    wave_counts,
)
from segmint.settings import (
    LearningSettings,
    SettingsError,
    TrapArchetype,
    TrapSettings,
    settings_from_mapping,
)


def _plan() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "offer": ["x", "x", "x", "y", "x", None],
            "group": ["treatment", "treatment", "holdout", "treatment", "holdout", "treatment"],
        }
    )


def _outcomes() -> pd.DataFrame:
    # e (hold-out) has no row: not converted; f has no offer and is not counted
    return pd.DataFrame(
        {
            "campaign_id": "wave-2",
            "customer_id": ["a", "b", "c", "d", "f"],
            "converted": [1, 0, 1, 1, 1],
            "revenue": [10.0, 0.0, 5.0, 7.0, 3.0],
        }
    )


def test_wave_counts_count_each_arm_per_segment_and_offer() -> None:
    segments = pd.DataFrame({"customer_id": list("abcdef"), "segment_id": [0, 0, 0, 1, 1, 1]})
    counts = wave_counts(_plan(), _outcomes(), segments, "k1", "out.parquet")
    assert list(counts.columns) == list(HISTORY_COLUMNS)
    rows = counts.set_index(["segment_id", "offer"])
    assert rows.loc[("0", "x"), ["n_treated", "n_holdout"]].tolist() == [2, 1]
    assert rows.loc[("0", "x"), ["conversions_treated", "conversions_holdout"]].tolist() == [1.0, 1.0]
    assert rows.loc[("0", "x"), ["revenue_treated", "revenue_holdout"]].tolist() == [10.0, 5.0]
    assert rows.loc[("1", "x"), ["n_treated", "n_holdout", "conversions_holdout"]].tolist() == [0, 1, 0.0]
    assert rows.loc[("1", "y"), ["n_treated", "conversions_treated"]].tolist() == [1, 1.0]
    assert set(counts["campaign_id"]) == {"wave-2"} and set(counts["wave_key"]) == {"k1"}


def test_measuring_the_same_outcomes_twice_does_not_count_them_twice() -> None:
    outcomes = _outcomes()
    key = outcomes_key(outcomes)
    assert key == outcomes_key(outcomes.iloc[::-1])
    assert key != outcomes_key(outcomes.assign(converted=[1, 1, 1, 1, 1]))
    wave = wave_counts(_plan(), outcomes, None, key, "o")
    once = appended_history(None, wave)
    twice = appended_history(once, wave)
    pd.testing.assert_frame_equal(once, twice)
    other = wave_counts(_plan(), outcomes.assign(converted=0), None, "k2", "o")
    both = appended_history(twice, other)
    assert len(both) == 2 * len(once) and both["n_treated"].sum() == 2 * once["n_treated"].sum()


def _scores(n: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"c{i}" for i in range(n)]
    scores = pd.DataFrame(
        {
            "customer_id": ids * 2,
            "offer": ["good"] * n + ["trap"] * n,
            "uplift": np.r_[np.linspace(0.02, 0.06, n), np.linspace(0.04, 0.08, n)],
            "response_probability": np.r_[np.full(n, 0.15), np.full(n, 0.17)],
        }
    )
    return scores, pd.DataFrame({"customer_id": ids, "segment_id": 3})


def _history(n_treated: int, n_holdout: int, treated_rate: float, holdout_rate: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "wave_key": "k",
            "campaign_id": "wave-2",
            "outcomes_file": "o",
            "segment_id": "3",
            "offer": "trap",
            "n_treated": n_treated,
            "n_holdout": n_holdout,
            "conversions_treated": treated_rate * n_treated,
            "conversions_holdout": holdout_rate * n_holdout,
            "revenue_treated": 0.0,
            "revenue_holdout": 0.0,
        },
        index=[0],
    ).astype(HISTORY_COLUMNS)


def test_a_pair_measured_harmful_is_stopped_and_one_never_measured_follows_the_model() -> None:
    scores, segments = _scores()
    settings = LearningSettings(prior_weight=100.0, stop_below=0.1)
    history = _history(n_treated=600, n_holdout=200, treated_rate=0.03, holdout_rate=0.13)
    pairs = pair_posteriors(scores, segments, history, settings, np.random.default_rng(0)).set_index("offer")
    assert pairs.loc["trap", "stopped"] and pairs.loc["trap", "prob_positive"] < 0.01
    assert pairs.loc["trap", "posterior_uplift"] < 0 < pairs.loc["trap", "prior_uplift"]
    assert pairs.loc["trap", "n_treated"] == 600 and pairs.loc["good", "n_treated"] == 0
    assert not pairs.loc["good", "stopped"] and pairs.loc["good", "prob_positive"] > 0.7
    assert pairs.loc["good", "posterior_uplift"] == pytest.approx(0.04, abs=0.01)
    assert pairs["share"].sum() == pytest.approx(1.0) and pairs.loc["good", "share"] > 0.9


def test_learned_scores_drop_stopped_pairs_except_for_explorers_and_move_the_rest_to_the_posterior() -> None:
    scores, segments = _scores()
    history = _history(n_treated=600, n_holdout=200, treated_rate=0.03, holdout_rate=0.13)
    learned = learned_scores(scores, segments, history, LearningSettings(exploration_share=0.1), seed=1)
    kept = learned.uplift_scores.set_index(["customer_id", "offer"])
    assert list(learned.uplift_scores.columns) == list(scores.columns)
    raw = scores.set_index(["customer_id", "offer"])["uplift"]
    explorers = set(kept.xs("trap", level="offer").index)
    # an explorer keeps every pair, each score at its own Thompson draw
    assert len(explorers) == learned.explorers and 0 < learned.explorers < 0.2 * 400
    trap_shift = kept.xs("trap", level="offer")["uplift"] - raw.xs("trap", level="offer").loc[list(explorers)]
    assert trap_shift.nunique() == len(explorers)
    pair = learned.pairs.set_index("offer").loc["good"]
    good = kept.xs("good", level="offer")
    settled = good.index.difference(list(explorers))
    shift = good.loc[settled, "uplift"] - raw.xs("good", level="offer").loc[settled]
    assert np.allclose(shift, pair["posterior_uplift"] - pair["prior_uplift"])


def test_explorers_sample_around_the_posterior_and_keep_every_pair() -> None:
    scores, segments = _scores()
    history = _history(n_treated=600, n_holdout=200, treated_rate=0.03, holdout_rate=0.13)
    learned = learned_scores(scores, segments, history, LearningSettings(exploration_share=1.0), seed=1)
    assert len(learned.uplift_scores) == len(scores) and learned.explorers == 400
    moved = learned.uplift_scores["uplift"].to_numpy() - scores["uplift"].to_numpy()
    pairs = learned.pairs.set_index("offer")
    trap = moved[scores["offer"].to_numpy() == "trap"]
    expected = pairs.loc["trap", "posterior_uplift"] - pairs.loc["trap", "prior_uplift"]
    assert trap.mean() == pytest.approx(expected, abs=0.005) and trap.std() > 0.005


def test_the_trap_moves_only_its_archetype_and_offer_to_the_new_uplift() -> None:
    assert get_args(TrapArchetype) == ARCHETYPES
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "archetype": ["window_shopper", "loyal"],
            "baseline_conversion": [0.3, 0.3],
            "expected_order_value": [50.0, 50.0],
        }
    )
    effects = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "offer": ["discount_10", "free_shipping"] * 2,
            "true_uplift": [0.02, 0.1, 0.0, 0.0],
            "true_incremental_revenue": [1.0, 5.0, 0.0, 0.0],
        }
    )
    truth = {"customers_truth": customers, "effects": effects}
    assert trapped_truth(truth, None) is truth
    trapped = trapped_truth(
        truth, TrapSettings(archetype="window_shopper", offer="free_shipping", uplift=-0.1)
    )
    moved = trapped["effects"]
    assert moved["true_uplift"].tolist() == pytest.approx([0.02, -0.1, 0.0, 0.0])
    assert moved.loc[1, "true_incremental_revenue"] == pytest.approx(0.2 * 50 - 0.3 * 50)
    assert effects["true_uplift"].tolist() == [0.02, 0.1, 0.0, 0.0]


def test_a_trap_or_learning_setting_outside_its_allow_list_or_range_names_the_key() -> None:
    with pytest.raises(SettingsError, match="generate.trap.archetype"):
        settings_from_mapping({"generate": {"trap": {"archetype": "whale"}}})
    with pytest.raises(SettingsError, match="campaign.learning.stop_below"):
        settings_from_mapping({"campaign": {"learning": {"stop_below": 2.0}}})
    settings = settings_from_mapping({"generate": {"trap": {"offer": "discount_10"}}})
    assert settings.generate.trap == TrapSettings(offer="discount_10")
    assert settings_from_mapping({}).generate.trap is None

"""Segmentation without behaviour: customers with attributes only are clustered on those attributes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmint.contracts import NothingToDoError
from segmint.segmentation import ACTIVITY_COLUMNS, fit_feature_scaler, fit_segmenter
from segmint.settings import SegmentSettings

SETTINGS = SegmentSettings(k_min=3, k_max=4, sample_size=500, eval_sample_size=200, bootstrap_rounds=1)


def _attributes_only(n_per: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features as the features stage builds them for customers with no orders, events or reviews:
    activity counts 0, recency equal to tenure, and three planted groups in the attributes."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), n_per)
    n = len(truth)
    tenure = rng.uniform(30, 365, n)
    channel = np.array(["web", "phone", "web"])[truth]
    history = np.array([60.0, 250.0, 900.0])[truth] * rng.lognormal(0, 0.1, n)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)]})
    for column in ACTIVITY_COLUMNS:
        frame[column] = 0.0
    frame = frame.assign(
        recency_days=tenure,
        tenure_days=tenure,
        monetary=0.0,
        mean_rating=3.0,
        channel__phone=(channel == "phone").astype(float),
        channel__web=(channel == "web").astype(float),
        attr_history=history,
        attr_newbie=(truth == 0).astype(float),
    )
    return frame, truth


def test_without_behaviour_the_attributes_are_clustered() -> None:
    features, truth = _attributes_only()
    segmenter = fit_segmenter(features, SETTINGS)
    assert segmenter.basis == "attributes"
    assert {"channel__web", "attr_history", "attr_newbie"} <= set(segmenter.feature_columns)
    assert not set(segmenter.feature_columns) & {"recency_days", "monetary", *ACTIVITY_COLUMNS}
    assigned = segmenter.assign(features)
    assert adjusted_rand_score(truth, assigned["segment_id"]) > 0.9
    assert assigned["segment_name"].nunique() == segmenter.k


def test_attribute_segments_are_named_after_their_attributes() -> None:
    features, _ = _attributes_only()
    names = set(fit_segmenter(features, SETTINGS).names.values())
    assert any(name.startswith(("high history", "low history", "channel phone")) for name in names), names
    assert not any(name.startswith("average customers") for name in names), names


def test_with_behaviour_the_attributes_stay_out() -> None:
    features, _ = _attributes_only()
    rng = np.random.default_rng(1)
    active = features.assign(
        frequency=rng.poisson(3, len(features)).astype(float), monetary=rng.gamma(2, 50, len(features))
    )
    segmenter = fit_segmenter(active, SETTINGS)
    assert segmenter.basis == "behaviour"
    assert "frequency" in segmenter.feature_columns
    assert not [
        column for column in segmenter.feature_columns if "__" in column or column.startswith("attr_")
    ]


def test_new_customers_lacking_an_attribute_level_are_assigned() -> None:
    features, _ = _attributes_only()
    segmenter = fit_segmenter(features, SETTINGS)
    # In the new data nobody is on the phone channel: the one-hot column is absent, not broken.
    new = features[features["channel__phone"] == 0].drop(columns=["channel__phone"])
    expected = segmenter.assign(features[features["channel__phone"] == 0])
    pd.testing.assert_frame_equal(
        segmenter.assign(new).reset_index(drop=True), expected.reset_index(drop=True)
    )


def test_nothing_varying_is_nothing_to_do_naming_why() -> None:
    features, _ = _attributes_only()
    constant = features.assign(tenure_days=365.0, recency_days=365.0, channel__phone=0.0, channel__web=1.0)
    constant = constant.assign(attr_history=100.0, attr_newbie=0.0)
    with pytest.raises(NothingToDoError, match="no customer attribute varies"):
        fit_segmenter(constant, SETTINGS)
    with pytest.raises(NothingToDoError, match="to scale"):
        fit_feature_scaler(constant)


def test_a_constant_column_with_rounding_noise_counts_as_constant() -> None:
    # 0.1 * n has a standard deviation of ~4e-17 in floating point; it still does not vary.
    features, _ = _attributes_only()
    constant = features.assign(tenure_days=0.1, recency_days=0.1, channel__phone=0.0, channel__web=1.0)
    constant = constant.assign(attr_history=0.1, attr_newbie=0.0)
    with pytest.raises(NothingToDoError):
        fit_segmenter(constant, SETTINGS)


def test_too_few_customers_is_nothing_to_do() -> None:
    features, _ = _attributes_only()
    with pytest.raises(NothingToDoError, match="need at least"):
        fit_segmenter(features.head(5), SETTINGS)


def test_nothing_to_do_is_still_a_value_error() -> None:
    # Callers that caught ValueError before keep working.
    assert issubclass(NothingToDoError, ValueError)


def test_input_not_mutated() -> None:
    features, _ = _attributes_only()
    before = features.copy()
    fit_segmenter(features, SETTINGS)
    pd.testing.assert_frame_equal(features, before)

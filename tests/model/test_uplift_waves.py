"""Uplift on a generated shop with two campaign waves: features per wave as of its own send, every
campaign row accounted for, and the latest wave as the untouched test part."""

from __future__ import annotations

import pandas as pd
import pytest

from segmint.generate import generate_shop
from segmint.settings import FeatureSettings, GenerateSettings, UpliftSettings
from segmint.uplift import campaign_rows, fit_uplift, wave_features

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_waves():
    shop = generate_shop(GenerateSettings(customers=20_000, seed=5, waves=2))
    campaigns = shop.tables.campaigns
    assert set(campaigns["campaign_id"]) == {"wave-1", "wave-2"}
    return shop, campaigns, wave_features(shop.tables, FeatureSettings())


def test_each_wave_is_featured_as_of_its_own_send_and_no_row_vanishes(two_waves) -> None:
    shop, campaigns, features = two_waves
    sent = campaigns.groupby("campaign_id")["sent_ts"].min()
    assert (features["features_as_of"] == features["campaign_id"].map(sent)).all()
    both = features.pivot_table(index="customer_id", columns="campaign_id", values="tenure_days").dropna()
    gap = (sent["wave-2"] - sent["wave-1"]) / pd.Timedelta(days=1)
    assert len(both) > 1000 and (both["wave-2"] - both["wave-1"] - gap).abs().max() < 1e-6
    joined = campaign_rows(features, campaigns, shop.tables.customers)
    assert len(joined.frame) + sum(joined.dropped.values()) == len(campaigns)


def test_the_latest_wave_is_the_test_part_and_the_planted_effect_shows_on_it(two_waves) -> None:
    shop, campaigns, features = two_waves
    selection = fit_uplift(features, campaigns, UpliftSettings(), customers=shop.tables.customers)
    frame = campaign_rows(features, campaigns).frame
    latest = int((frame["campaign_id"] == "wave-2").sum())
    assert "latest wave wave-2" in selection.rows and f"n={latest}" in selection.rows
    assert selection.baseline is not None and selection.baseline.low > 0

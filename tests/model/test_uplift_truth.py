"""Behavioural checks of the uplift model against the generator's planted effects, and of its
test-part interval on a shop whose treatments carry no effect at all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.features import customer_features
from segmint.generate import generate_shop
from segmint.settings import FeatureSettings, GenerateSettings, UpliftSettings
from segmint.uplift import fit_uplift

pytestmark = pytest.mark.slow

PERSUADABLE = ("bargain_hunter", "lapsing")
DO_NOT_DISTURB = ("new", "bulk_reseller")
HELD_OUT_SHARE = 0.3


@pytest.fixture(scope="module")
def shop_at_send():
    shop = generate_shop(GenerateSettings(customers=20_000, seed=5))
    campaigns = shop.tables.campaigns
    features = customer_features(shop.tables, campaigns["sent_ts"].min(), FeatureSettings())
    return shop, features


@pytest.fixture(scope="module")
def fitted(shop_at_send):
    """Fitted on the campaign rows of 70 % of the customers; scores only the other 30 %."""
    shop, features = shop_at_send
    campaigns = shop.tables.campaigns
    customers = campaigns["customer_id"].unique()
    held_out = np.random.default_rng(11).choice(
        customers, int(HELD_OUT_SHARE * len(customers)), replace=False
    )
    selection = fit_uplift(features, campaigns[~campaigns["customer_id"].isin(held_out)], UpliftSettings())
    scores = selection.model.predict(features[features["customer_id"].isin(held_out)])
    assert not set(scores["customer_id"]) & set(
        campaigns.loc[~campaigns["customer_id"].isin(held_out), "customer_id"]
    )
    return shop, selection, scores


def test_persuadable_ranked_above_do_not_disturb(fitted) -> None:
    shop, _, scores = fitted
    arch = shop.truth["customers_truth"].set_index("customer_id")["archetype"]
    disc = scores[scores["offer"] == "discount_10"].assign(archetype=lambda d: d["customer_id"].map(arch))
    pers = disc.loc[disc["archetype"].isin(PERSUADABLE), "uplift"].to_numpy()
    dnd = disc.loc[disc["archetype"].isin(DO_NOT_DISTURB), "uplift"].to_numpy()
    assert len(pers) > 200 and len(dnd) > 200
    assert pers.mean() > dnd.mean() + 0.05
    # Probability that a random persuadable customer outranks a random do-not-disturb customer.
    ranks = pd.Series(np.r_[pers, dnd]).rank().to_numpy()
    auc = (ranks[: len(pers)].sum() - len(pers) * (len(pers) + 1) / 2) / (len(pers) * len(dnd))
    assert auc > 0.8


def test_predicted_uplift_tracks_true_uplift(fitted) -> None:
    shop, selection, scores = fitted
    truth = shop.truth["effects"][["customer_id", "offer", "true_uplift"]]
    joined = scores.merge(truth, on=["customer_id", "offer"])
    for offer, part in joined.groupby("offer"):
        assert len(part) > 3000, offer
        assert part["uplift"].corr(part["true_uplift"], method="spearman") > 0.4, offer
    # Measured on the test part of the training customers, which selection never saw.
    assert "stratified" in selection.rows
    assert selection.metrics["overall"]["qini_auc"] > 0.02
    assert selection.baseline is not None and selection.baseline.low > 0


def test_shuffled_treatments_give_an_interval_that_covers_zero(shop_at_send) -> None:
    """With the treatments permuted among the rows no offer has any effect: whatever the selection
    picks on the training part, its test-part interval against random targeting must include 0."""
    shop, features = shop_at_send
    campaigns = shop.tables.campaigns
    shuffled = campaigns.assign(
        treatment=np.random.default_rng(3).permutation(campaigns["treatment"].to_numpy())
    )
    selection = fit_uplift(features, shuffled, UpliftSettings())
    baseline = selection.baseline
    assert baseline is not None and baseline.rounds == UpliftSettings().bootstrap_rounds
    assert baseline.low < 0 < baseline.high, baseline
    assert set(baseline.offers) == set(campaigns["treatment"]) - {"control"}

"""Behavioural checks of the generator's planted truth: archetype overlap, campaign effects, anomalies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from segmint.contracts import Tables
from segmint.generate import ARCHETYPES, GeneratedShop, generate_shop
from segmint.settings import GenerateSettings


def _end(tables: Tables) -> pd.Timestamp:
    return max(tables.events["ts"].max(), tables.orders["ts"].max()) + pd.Timedelta(seconds=1)


def _order_stats(tables: Tables) -> pd.DataFrame:
    o = tables.orders.assign(
        value=lambda d: d["quantity"] * d["unit_price"], discounted=lambda d: (d["discount"] > 0).astype(float)
    )
    bought, ret = o[~o["is_return"]], o[o["is_return"]]
    end = _end(tables)
    per = bought.groupby("customer_id").agg(
        frequency=("order_id", "nunique"),
        gross=("value", "sum"),
        last=("ts", "max"),
        lines=("product_id", "size"),
        quantity=("quantity", "mean"),
        discount_share=("discounted", "mean"),
    )
    per["returned"] = ret.groupby("customer_id")["value"].sum().reindex(per.index).fillna(0.0)
    per["return_lines"] = ret.groupby("customer_id").size().reindex(per.index).fillna(0)
    per["recency_days"] = (end - per["last"]).dt.total_seconds() / 86_400
    return per


def rfm_features(tables: Tables) -> pd.DataFrame:
    """Standard log-RFM per customer (customers without orders: recency = whole period, F = M = 0)."""
    per = _order_stats(tables)
    ids = tables.customers["customer_id"]
    span = (_end(tables) - tables.events["ts"].min()).total_seconds() / 86_400
    out = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    out["recency"] = np.log1p(per["recency_days"].reindex(out.index).fillna(span))
    out["frequency"] = np.log1p(per["frequency"].reindex(out.index).fillna(0))
    out["monetary"] = np.log1p((per["gross"] - per["returned"]).clip(lower=0).reindex(out.index).fillna(0))
    return out


def rich_features(tables: Tables) -> pd.DataFrame:
    """RFM plus tenure, basket, discount, returns, funnel, session depth, category mix and rating."""
    out = rfm_features(tables)
    per = _order_stats(tables).reindex(out.index)
    end = _end(tables)
    signup = tables.customers.set_index("customer_id")["signup_ts"].reindex(out.index)
    out["tenure"] = np.log1p((end - signup).dt.total_seconds() / 86_400)
    out["quantity"] = np.log(per["quantity"].fillna(1.0))
    out["discount_share"] = per["discount_share"].fillna(0.0)
    out["return_rate"] = (per["return_lines"] / per["lines"]).fillna(0.0)
    ev = tables.events
    counts = ev.groupby(["customer_id", "event_type"], observed=True).size().unstack(fill_value=0)
    counts = counts.reindex(index=out.index, columns=["view", "cart", "purchase"], fill_value=0)
    out["view_to_cart"] = (counts["cart"] / counts["view"].clip(lower=1)).fillna(0.0)
    out["cart_to_purchase"] = (counts["purchase"] / counts["cart"].clip(lower=1)).fillna(0.0)
    sessions = ev.groupby("customer_id", observed=True)["session_id"].nunique().reindex(out.index).fillna(1)
    out["views_per_session"] = np.log1p(counts["view"] / sessions.clip(lower=1))
    category = tables.products.set_index("product_id")["category"]
    cat = pd.DataFrame({"customer_id": ev["customer_id"], "category": ev["product_id"].map(category)})
    mix = cat.groupby(["customer_id", "category"], observed=True).size().unstack(fill_value=0)
    mix = mix.div(mix.sum(axis=1), axis=0).reindex(out.index).fillna(0.0)
    out = out.join(mix.add_prefix("cat_"))
    rating = tables.reviews.groupby("customer_id")["rating"].mean().reindex(out.index)
    out["rating"] = rating.fillna(tables.reviews["rating"].mean())
    return out


@pytest.fixture(scope="module")
def shop() -> GeneratedShop:
    return generate_shop(GenerateSettings(customers=20_000, seed=7))


@pytest.mark.slow
def test_rfm_alone_does_not_recover_archetypes_but_rich_features_do(shop: GeneratedShop) -> None:
    truth = shop.truth["customers_truth"].set_index("customer_id")
    rfm = rfm_features(shop.tables)
    labels = truth.loc[rfm.index, "archetype"]
    k = len(ARCHETYPES)
    rfm_pred = KMeans(k, n_init=4, random_state=0).fit_predict(StandardScaler().fit_transform(rfm))
    assert adjusted_rand_score(labels, rfm_pred) < 0.6

    rich = rich_features(shop.tables)
    x = StandardScaler().fit_transform(rich.loc[rfm.index])
    gmm_pred = GaussianMixture(k, covariance_type="full", n_init=2, random_state=0).fit_predict(x)
    assert adjusted_rand_score(labels, gmm_pred) >= 0.9

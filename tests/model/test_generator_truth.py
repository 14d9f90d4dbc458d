"""Behavioural checks of the generator's planted truth: archetype overlap, campaign effects, anomalies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from segmint.contracts import Tables
from segmint.generate import ARCHETYPES, GeneratedShop, generate_shop
from segmint.settings import GenerateSettings


def _end(tables: Tables) -> pd.Timestamp:
    return max(tables.events["ts"].max(), tables.orders["ts"].max()) + pd.Timedelta(seconds=1)


def _order_stats(tables: Tables) -> pd.DataFrame:
    o = tables.orders.assign(
        value=lambda d: d["quantity"] * d["unit_price"],
        discounted=lambda d: (d["discount"] > 0).astype(float),
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
    rich_pred = KMeans(k, n_init=4, random_state=0).fit_predict(x)
    assert adjusted_rand_score(labels, rich_pred) >= 0.9


def _best_uplift_by_archetype(shop: GeneratedShop) -> pd.Series:
    truth = shop.truth["customers_truth"][["customer_id", "archetype"]]
    eff = shop.truth["effects"].merge(truth, on="customer_id")
    return eff.groupby(["archetype", "offer"])["true_uplift"].mean().unstack().max(axis=1)


def test_planted_uplift_ranks_persuadables_above_do_not_disturb(shop: GeneratedShop) -> None:
    best = _best_uplift_by_archetype(shop)
    for persuadable in ("bargain_hunter", "lapsing", "window_shopper"):
        assert best[persuadable] > 0.08
        for dnd in ("new", "bulk_reseller"):
            assert best[persuadable] > best[dnd] + 0.08
    assert best["new"] < 0 and best["bulk_reseller"] < 0
    assert abs(best["loyal"]) < 0.01 and abs(best["casual"]) < 0.03
    base = shop.truth["customers_truth"].groupby("archetype")["baseline_conversion"].mean()
    assert base["loyal"] > 2 * base["casual"]  # sure things vs lost causes


def test_realised_wave1_shows_the_planted_effect_signs(shop: GeneratedShop) -> None:
    truth = shop.truth["customers_truth"][["customer_id", "archetype"]]
    c = shop.tables.campaigns.merge(truth, on="customer_id")
    rate = c.groupby(["archetype", "treatment"])["converted"].mean().unstack()
    treated = c[c["treatment"] != "control"].groupby("archetype")["converted"].mean()
    assert rate.loc["bargain_hunter", "discount_10"] - rate.loc["bargain_hunter", "control"] > 0.05
    assert rate.loc["lapsing", "discount_10"] - rate.loc["lapsing", "control"] > 0.05
    assert rate.loc["window_shopper", "free_shipping"] - rate.loc["window_shopper", "control"] > 0.03
    assert treated["bulk_reseller"] < rate.loc["bulk_reseller", "control"]
    assert treated["new"] < rate.loc["new", "control"]
    # Offers move different customers.
    assert rate.loc["window_shopper", "free_shipping"] > rate.loc["window_shopper", "discount_10"]
    assert rate.loc["bargain_hunter", "discount_10"] > rate.loc["bargain_hunter", "free_shipping"]


def test_anomalies_stand_out_on_their_signals_yet_overlap_normal_customers(shop: GeneratedShop) -> None:
    """Planted strengths are shifted, not separated: a share of each kind sits inside the normal range,
    so no threshold on one signal finds them all (and a detector's test cannot mirror the generator)."""
    truth = shop.truth["customers_truth"].set_index("customer_id")
    normal = truth.index[~truth["is_anomalous"]]
    ev = shop.tables.events
    views = ev[ev["event_type"] == "view"].groupby("customer_id", observed=True).size()
    sessions = ev.groupby("customer_id", observed=True)["session_id"].nunique()
    vps = (views / sessions).reindex(truth.index).fillna(0)
    bots = truth.index[truth["anomaly_type"] == "bot"]
    assert vps[bots].median() > 2 * vps[normal].median()
    assert (vps[bots] < vps[normal].quantile(0.99)).mean() > 0.15

    o = shop.tables.orders
    bought = o[~o["is_return"]]
    lines = bought.groupby("customer_id", observed=True).size()
    ret_rate = (o[o["is_return"]].groupby("customer_id", observed=True).size() / lines).fillna(0)
    abusers = ret_rate.reindex(truth.index[truth["anomaly_type"] == "refund_abuse"]).fillna(0)
    regular = ret_rate[normal.intersection(lines.index[lines >= 4])]  # rates of one or two lines are noise
    assert abusers.median() > regular.quantile(0.9)
    assert (abusers < regular.quantile(0.99)).mean() > 0.15

    value = (bought["quantity"] * bought["unit_price"]).groupby(bought["customer_id"], observed=True).sum()
    tenure_days = shop.tables.orders["ts"].max() - shop.tables.customers.set_index("customer_id")["signup_ts"]
    spend_rate = (value.reindex(truth.index).fillna(0) / tenure_days.dt.days.clip(lower=1)).fillna(0)
    fraud = truth.index[truth["anomaly_type"] == "fraud"]
    assert spend_rate[fraud].median() > spend_rate[normal].quantile(0.99)
    per_order = bought.groupby(["customer_id", "order_id"], observed=True)["quantity"].sum()
    basket = per_order.groupby("customer_id", observed=True).max()
    fraud_basket, normal_basket = basket.reindex(fraud).fillna(0), basket.reindex(normal).dropna()
    # Fraud's large baskets are as large as bulk buyers' own: no basket size only fraud reaches.
    assert normal_basket.max() > 0.5 * fraud_basket.max()
    assert (fraud_basket < normal_basket.quantile(0.99)).mean() > 0.5


def test_review_text_carries_sentiment_but_not_perfectly(shop: GeneratedShop) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    r = shop.tables.reviews
    r = r[r["rating"] != 3]
    y = (r["rating"] >= 4).astype(int)
    x_tr, x_te, y_tr, y_te = train_test_split(r["text"], y, test_size=0.3, random_state=0, stratify=y)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    clf = LogisticRegression(max_iter=1000).fit(vec.fit_transform(x_tr), y_tr)
    acc = clf.score(vec.transform(x_te), y_te)
    assert 0.8 < acc < 0.995


def test_realistic_volumes(shop: GeneratedShop) -> None:
    t, n = shop.tables, len(shop.tables.customers)
    counts = t.events["event_type"].value_counts()
    assert counts["view"] > 3 * counts["cart"] and counts["cart"] > counts["purchase"]
    assert 35 < len(t.events) / n < 80 and 6 < len(t.orders) / n < 15
    assert 0.04 < t.orders["is_return"].mean() < 0.11
    bought = t.orders[~t.orders["is_return"]]
    spend = (bought["quantity"] * bought["unit_price"]).groupby(bought["customer_id"]).sum()
    assert spend.mean() > 1.5 * spend.median()  # heavy-tailed
    month = t.orders["ts"].dt.month.value_counts()
    # Gift-season peak, against the neighbouring months (a similar customer base, unlike the
    # period's ends where sign-ups ramp up and lapsing customers fade out).
    assert month[[11, 12]].mean() > 1.15 * month[[9, 10, 1]].mean()

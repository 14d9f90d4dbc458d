"""Recency-aware recommenders and a selection that looks like the future, on tiny hand-made shops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.contracts import Tables, coerce_table
from segmint.recommend import (
    choose_recommender,
    interactions_from,
    make_recommender,
    report_cutoff,
    selection_splits,
)
from segmint.recommend.selection import CANDIDATE_COLUMNS, chosen_configuration
from segmint.settings import RecommendSettings

START = pd.Timestamp("2021-01-01", tz="UTC")


def _tables(rows: list[tuple]) -> Tables:
    orders = pd.DataFrame(
        rows, columns=["order_id", "customer_id", "product_id", "quantity", "ts", "is_return"]
    )
    orders = coerce_table("orders", orders.assign(unit_price=1.0))
    ids = sorted(set(orders["customer_id"]))
    customers = pd.DataFrame(
        {"customer_id": ids, "signup_ts": "2020-01-01", "country": "UK", "channel": "web"}
    )
    return Tables(customers=coerce_table("customers", customers), orders=orders)


def _buy(customer: str, product: str, day: int) -> tuple:
    return (f"o_{customer}_{product}_{day}", customer, product, 1, START + pd.Timedelta(days=day), False)


def _fading_shop() -> Tables:
    """``old`` had four buyers three months ago; ``new`` two buyers last week (segment b: ``b_new``)."""
    rows = [_buy(f"a{i}", "old", 0) for i in range(4)]
    rows += [_buy(f"a{i}", "new", 95) for i in range(2)]
    rows += [_buy(f"b{i}", "old", 1) for i in range(4)] + [_buy(f"b{i}", "b_new", 96) for i in range(2)]
    return _tables(rows)


def test_recent_popularity_decays_overall_and_per_segment():
    tables = _fading_shop()
    settings = RecommendSettings(min_item_customers=1, recency_half_life_days=7.0)
    inter = interactions_from(tables, settings)
    segments = pd.DataFrame(
        {"customer_id": [f"{g}{i}" for g in "ab" for i in range(4)], "segment_id": list("aaaabbbb")}
    )
    plain = make_recommender("popularity", settings).fit(inter)
    recent = make_recommender("recent_popularity", settings).fit(inter)
    # a newcomer: the all-time bestseller for popularity, last week's for recent popularity
    assert plain.recommend(["nobody"], n=1)["recommended_product_ids"][0] == ["old"]
    assert recent.recommend(["nobody"], n=1)["recommended_product_ids"][0][0] in {"new", "b_new"}
    # per segment: each segment's own recent bestseller
    by_segment = make_recommender("recent_popularity", settings).fit(inter, segments)
    recs = by_segment.recommend(["a1", "b1"], n=1, exclude_seen=False)["recommended_product_ids"]
    assert recs.tolist() == [["new"], ["b_new"]]
    # the decayed weight: a week-old purchase counts half, a three-month-old one almost nothing
    assert recent.popularity_.tolist() == plain.popularity_.tolist()  # tie-breaks stay plain counts
    overall = recent.segment_popularity_[-1]
    assert overall[list(recent.item_ids_).index("new")] == pytest.approx(2 * 0.5 ** (1 / 7), rel=1e-3)


def _steady_shop(days: int = 120, customers: int = 12) -> Tables:
    # each customer moves on to a new product every five days, one others bought before
    rows = [_buy(f"c{c}", f"p{d // 5 + c}", d) for d in range(days) for c in range(customers)]
    return _tables(rows)


def test_rolling_cuts_have_the_served_horizon_and_never_read_the_outer_test_period():
    tables = _steady_shop()
    settings = RecommendSettings(min_item_customers=1, horizon_days=10.0, selection_cuts=3)
    outer = report_cutoff(tables, settings)
    cuts = selection_splits(tables, settings)
    assert len(cuts) == 3
    assert [c.cutoff for c in cuts] == [outer - pd.Timedelta(days=10 * i) for i in (1, 2, 3)]
    for i, cut in enumerate(cuts):
        end = outer - pd.Timedelta(days=10 * i)
        assert cut.role == "selection" and cut.cutoff <= cut.last_purchase < end
        assert cut.last_purchase - cut.cutoff <= pd.Timedelta(days=10)
        assert len(cut.test_customers) > 0
    # without horizon_days the inner test periods are as long as the outer one
    default = selection_splits(tables, RecommendSettings(min_item_customers=1))
    horizon = tables.orders["ts"].max() - outer
    assert len(default) == 2 and default[1].cutoff == outer - 2 * horizon
    with pytest.raises(ValueError):
        RecommendSettings(selection_cuts=1)


def _candidates(rows: list[tuple[str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"name": n, "recency_half_life_days": None, "ndcg": v} for n, v in rows], columns=CANDIDATE_COLUMNS
    )
    frame["recency_half_life_days"] = pd.Series([None] * len(rows), dtype=object)
    return frame


def _per(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"0:c{i}" for i in range(len(values))], "ndcg": values})


def test_a_simpler_candidate_wins_within_the_noise_and_loses_outside_it():
    rng = np.random.default_rng(0)
    ease = rng.random(400)
    close = ease + rng.normal(0, 0.3, 400)  # 0.01 below on average, far inside the noise
    close -= close.mean() - (ease.mean() - 0.01)
    settings = RecommendSettings(bootstrap_rounds=200)
    per = {
        ("ease", None): _per(ease),
        ("popularity", None): _per(close),
        ("itemknn", None): _per(close - 0.5),
    }
    frame = _candidates(
        [("popularity", close.mean()), ("itemknn", (close - 0.5).mean()), ("ease", ease.mean())]
    )
    rule = chosen_configuration(frame, per, settings)
    assert rule["name"] == "popularity" and rule["best"] == "ease" and rule["simpler_within_noise"]
    assert rule["vs_best"]["low"] <= 0 <= rule["vs_best"]["high"]
    # a real gap: the front runner stays
    per[("popularity", None)] = _per(ease - 0.2)
    frame = _candidates(
        [("popularity", (ease - 0.2).mean()), ("itemknn", (close - 0.5).mean()), ("ease", ease.mean())]
    )
    rule = chosen_configuration(frame, per, settings)
    assert rule["name"] == "ease" and not rule["simpler_within_noise"] and rule["vs_best"] is None


def test_selection_tries_each_half_life_on_every_cut_and_reports_the_rule():
    tables = _steady_shop()
    settings = RecommendSettings(
        min_item_customers=1,
        candidates=("popularity", "recent_popularity", "itemknn"),
        recency_grid_days=(7.0, None),
        bootstrap_rounds=20,
    )
    choice = choose_recommender(tables, None, settings)
    rows = choice.candidates
    assert rows[["name", "recency_half_life_days"]].values.tolist() == [
        ["popularity", None],
        ["recent_popularity", 7.0],
        ["itemknn", 7.0],
        ["itemknn", None],
    ]
    assert all(len(cuts) == 2 for cuts in rows["ndcg_cuts"])
    assert rows["ndcg"].tolist() == pytest.approx([float(np.mean(c)) for c in rows["ndcg_cuts"]])
    assert len(choice.metrics["selection_splits"]) == 2
    assert choice.metrics["recency_half_life_days"] == choice.settings.recency_half_life_days
    assert choice.metrics["selection_rule"]["best"] in {"popularity", "recent_popularity", "itemknn"}


def test_torch_stops_at_its_time_budget_and_says_so():
    tables = _steady_shop(days=60, customers=20)
    tiny = RecommendSettings(
        min_item_customers=1, torch_max_seconds=1e-6, torch_max_epochs=50, torch_batch_size=8
    )
    model = make_recommender("torch", tiny).fit(interactions_from(tables, tiny))
    assert model.stopped_ == "time_budget" and model.epochs_ == 1
    # no budget pressure: early stopping or the epoch cap ends it
    roomy = tiny.model_copy(update={"torch_max_seconds": 600.0, "torch_max_epochs": 3})
    model = make_recommender("torch", roomy).fit(interactions_from(tables, roomy))
    assert model.stopped_ in {"early_stopping", "max_epochs"} and model.epochs_ <= 3
    choice = choose_recommender(tables, None, tiny.model_copy(update={"candidates": ("popularity", "torch")}))
    assert choice.metrics["torch_stopped"] == "time_budget"
    assert choice.candidates.set_index("name").loc["torch", "stopped"] == "time_budget"


def _uneven_shop() -> Tables:
    """Thirty customers buying overlapping items on different days, some items more than once."""
    rng = np.random.default_rng(3)
    rows = [
        _buy(f"c{c}", f"p{int(rng.integers(0, 14))}", int(rng.integers(0, 90)))
        for c in range(30)
        for _ in range(int(rng.integers(1, 6)))
    ]
    rows = list({row[0]: row for row in rows}.values())  # one order per (customer, product, day)
    return _tables(rows)


@pytest.mark.parametrize("value", ["binary", "count", "log"])
def test_redecayed_interactions_equal_those_read_under_the_half_life(value):
    tables = _uneven_shop()
    settings = RecommendSettings(min_item_customers=3, interaction_value=value)
    kept = interactions_from(tables, settings.model_copy(update={"recency_half_life_days": 30.0}))
    keep = np.arange(kept.shape[1]) % 2 == 0
    rows = np.arange(0, kept.shape[0], 2)
    for life in (7.0, None):
        direct = interactions_from(tables, settings.model_copy(update={"recency_half_life_days": life}))
        assert (kept.with_half_life(life).matrix != direct.matrix).nnz == 0
        # slicing items, then customers, keeps each entry's raw value and age with it
        sliced = direct.restrict_items(keep).customers_at(rows[rows < direct.restrict_items(keep).shape[0]])
        redecayed = kept.restrict_items(keep).customers_at(rows[rows < kept.restrict_items(keep).shape[0]])
        assert (redecayed.with_half_life(life).matrix != sliced.matrix).nnz == 0
        assert list(redecayed.customer_ids) == list(sliced.customer_ids)
    undecayed = kept.with_half_life(None).matrix.max()
    assert undecayed == pytest.approx(1.0 if value == "binary" else kept.raw.max())


def test_selection_reads_the_orders_once_for_every_half_life(monkeypatch):
    from segmint.recommend import evaluation

    calls = []
    real = evaluation.interactions_from

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "interactions_from", counted)
    settings = RecommendSettings(
        candidates=["popularity", "itemknn"],
        min_item_customers=1,
        recency_grid_days=[7.0, 30.0, None],
        selection_cuts=2,
        bootstrap_rounds=20,
    )
    choice = choose_recommender(_steady_shop(), None, settings)
    assert len(choice.candidates) == 4  # popularity once, item-kNN under each half-life
    assert len(calls) == 2 + 1  # the two inner cuts once, then the outer split


@pytest.mark.parametrize("name", ["popularity", "itemknn", "ease"])
def test_evaluation_from_positions_equals_evaluation_from_the_recommended_ids(name):
    from segmint.recommend import per_customer_metrics, temporal_split
    from segmint.recommend.evaluation import evaluate_on_split

    settings = RecommendSettings(min_item_customers=2, recency_half_life_days=30.0, ease_max_items=10)
    split = temporal_split(_uneven_shop(), settings)
    model = make_recommender(name, settings).fit(split.train)
    fast = evaluate_on_split(model, split, k=10)
    recs = model.recommend(split.test_customers.tolist(), 10, exclude_seen=True)
    slow = per_customer_metrics(recs, split, 10)
    assert len(slow) > 0 and split.train.shape[1] > settings.ease_max_items
    pd.testing.assert_frame_equal(fast["per_customer"], slow)
    recommended = {p for x in recs["recommended_product_ids"] for p in x}
    assert fast["coverage"] == len(recommended) / split.train.shape[1]


def _two_interest_shop() -> Tables:
    """Six customers bought ``a`` with ``ra``, five ``b`` with ``rb`` (day 50); ``t`` bought ``a``
    on day 0 and ``b`` on day 100, so ``ra`` follows ``t``'s whole history, ``rb`` the recent part."""
    rows = [_buy(f"x{i}", p, 50) for i in range(6) for p in ("a", "ra")]
    rows += [_buy(f"y{i}", p, 50) for i in range(5) for p in ("b", "rb")]
    rows += [_buy("t", "a", 0), _buy("t", "b", 100)]
    return _tables(rows)


@pytest.mark.parametrize("name", ["itemknn", "rp3beta", "ease"])
def test_item_models_score_a_customer_from_their_history_decayed_on_its_own(name):
    tables = _two_interest_shop()
    base = RecommendSettings(min_item_customers=1, knn_similarity="cosine", ease_lambda=1.0)
    inter = interactions_from(tables, base)

    def first_for_t(history: float | str | None) -> str:
        model = make_recommender(name, base.model_copy(update={"history_half_life_days": history}))
        return model.fit(inter).recommend(["t"], n=1)["recommended_product_ids"][0][0]

    # undecayed (and, with no fitted decay, "fitted"): the stronger all-time association leads
    assert first_for_t(None) == first_for_t("fitted") == "ra"
    # a week's half-life: the purchase of 100 days ago counts next to nothing
    assert first_for_t(7.0) == "rb"
    # the item-to-item weights are learnt from the fitted matrix whatever the history decay
    fitted = make_recommender(name, base.model_copy(update={"history_half_life_days": 7.0})).fit(inter)
    assert (inter.matrix != fitted.X_).nnz == 0
    assert fitted.history_[fitted.customer_index_.get_loc("t")].toarray().max() == pytest.approx(1.0)


def test_models_saved_before_the_history_decay_score_from_their_fitted_matrix():
    inter = interactions_from(_two_interest_shop(), RecommendSettings(min_item_customers=1))
    model = make_recommender("ease", RecommendSettings(min_item_customers=1, ease_lambda=1.0)).fit(inter)
    expected = model.recommend(["t", "x1"], n=3)
    del model.history_, model.history_modelled_  # what an artifact from an older version holds
    pd.testing.assert_frame_equal(model.recommend(["t", "x1"], n=3), expected)

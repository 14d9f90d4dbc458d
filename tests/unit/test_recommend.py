"""Unit tests for segmint.recommend on tiny hand-made shops."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from segmint.contracts import Tables, coerce_table
from segmint.recommend import (
    RECOMMENDERS,
    describe_split,
    evaluate_on_split,
    interactions_from,
    make_recommender,
    paired_bootstrap,
    per_customer_metrics,
    select_recommender,
    selection_split,
    temporal_split,
    top_n_indices,
)
from segmint.settings import RecommendSettings

FAST = RecommendSettings(
    bootstrap_rounds=20,
    min_item_customers=1,
    torch_max_epochs=20,
    torch_batch_size=16,
    als_iterations=5,
    als_factors=8,
    batch_size=64,
)


def _orders(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "quantity", "ts", "is_return"])
    return coerce_table("orders", df.assign(unit_price=1.0))


def _tables(orders: pd.DataFrame, events: pd.DataFrame | None = None) -> Tables:
    ids = sorted(set(orders["customer_id"]))
    customers = pd.DataFrame(
        {"customer_id": ids, "signup_ts": "2020-01-01", "country": "UK", "channel": "web"}
    )
    return Tables(customers=coerce_table("customers", customers), orders=orders, events=events)


def _shop(n_customers: int = 60, seed: int = 0) -> Tables:
    """Two taste groups: customers of group g buy mostly items of group g, across time."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2021-01-01", tz="UTC")
    for c in range(n_customers):
        group = c % 2
        items = [f"p{group}{j}" for j in range(6)]
        for t in range(8):
            item = items[rng.integers(0, 6)] if rng.random() < 0.9 else f"p{1 - group}{rng.integers(0, 6)}"
            ts = start + pd.Timedelta(days=int(rng.integers(0, 100)))
            rows.append((f"o{c}_{t}", f"c{c}", item, 1, ts, False))
    return _tables(_orders(rows))


def test_interactions_net_of_returns_and_excludes_return_rows():
    orders = _orders(
        [
            ("o1", "a", "x", 2, "2021-01-01", False),
            ("o2", "a", "x", 2, "2021-01-02", True),  # fully returned: no evidence
            ("o3", "a", "y", 1, "2021-01-03", False),
            ("o4", "b", "y", 1, "2021-01-03", False),
            ("o5", "b", "z", 1, "2021-01-04", True),  # a return alone is no purchase
        ]
    )
    inter = interactions_from(_tables(orders), RecommendSettings())
    dense = pd.DataFrame(inter.matrix.toarray(), index=inter.customer_ids, columns=inter.item_ids)
    assert list(inter.item_ids) == ["y"]
    assert dense.loc["a", "y"] == 1.0 and dense.loc["b", "y"] == 1.0
    assert orders.shape[0] == 5  # input untouched


def test_interactions_until_counts_and_event_weights():
    orders = _orders(
        [
            ("o1", "a", "x", 1, "2021-01-01", False),
            ("o2", "a", "x", 1, "2021-01-05", False),
            ("o3", "a", "y", 1, "2021-02-01", False),
        ]
    )
    events = coerce_table(
        "events",
        pd.DataFrame(
            {
                "customer_id": ["b"],
                "product_id": ["x"],
                "event_type": ["cart"],
                "ts": ["2021-01-02"],
                "session_id": ["s"],
            }
        ),
    )
    s = RecommendSettings(
        interaction_value="count", event_weights={"purchase": 1.0, "cart": 0.5, "view": 0.0}
    )
    inter = interactions_from(_tables(orders, events), s, until=pd.Timestamp("2021-01-10", tz="UTC"))
    dense = pd.DataFrame(inter.matrix.toarray(), index=inter.customer_ids, columns=inter.item_ids)
    assert list(inter.item_ids) == ["x"]  # y was bought after `until`
    assert dense.loc["a", "x"] == 2.0 and dense.loc["b", "x"] == 0.5


def test_interactions_rejects_unknown_names():
    """interactions_from checks the names itself, also for settings built without validation."""
    orders = _orders([("o1", "a", "x", 1, "2021-01-01", False)])
    bad_value = RecommendSettings().model_copy(update={"interaction_value": "nope"})
    with pytest.raises(ValueError, match=r"unknown interaction_value 'nope'; valid: binary, count, log"):
        interactions_from(_tables(orders), bad_value)
    bad_event = RecommendSettings().model_copy(update={"event_weights": {"click": 1.0}})
    with pytest.raises(ValueError, match=r"unknown event types \['click'\] in event_weights; valid: "):
        interactions_from(_tables(orders), bad_event)


def test_recency_half_life_halves_value():
    orders = _orders([("o1", "a", "x", 1, "2021-01-01", False), ("o2", "a", "y", 1, "2021-01-11", False)])
    inter = interactions_from(_tables(orders), RecommendSettings(recency_half_life_days=10.0))
    assert np.allclose(sorted(inter.matrix.toarray().ravel()), [0.5, 1.0])


def test_top_n_indices_orders_best_first():
    scores = np.array([[0.1, 0.9, 0.5, -1.0], [3.0, 2.0, 1.0, 0.0]], dtype=np.float32)
    idx, vals = top_n_indices(scores, 2)
    assert idx.tolist() == [[1, 2], [0, 1]]
    assert vals[0].tolist() == pytest.approx([0.9, 0.5])


def test_make_recommender_allow_list():
    with pytest.raises(ValueError, match="valid: popularity"):
        make_recommender("magic", RecommendSettings())


@pytest.mark.parametrize("name", sorted(RECOMMENDERS))
def test_every_candidate_recommends_in_taste_group_and_excludes_seen(name):
    tables = _shop()
    inter = interactions_from(tables, FAST)
    s = FAST.model_copy(update={"blend_members": ("ease", "itemknn"), "blend_weights": (0.5, 0.5)})
    model = make_recommender(name, s).fit(inter)
    recs = model.recommend(["c0", "c1"], n=3)
    assert list(recs.columns) == ["customer_id", "recommended_product_ids", "scores"]
    seen = {c: set(tables.orders.loc[tables.orders["customer_id"] == c, "product_id"]) for c in ["c0", "c1"]}
    for _, row in recs.iterrows():
        assert not set(row["recommended_product_ids"]) & seen[row["customer_id"]]
        assert row["scores"] == sorted(row["scores"], reverse=True)
    if name not in ("popularity", "recent_popularity"):
        # Personalised models recommend from the customer's own taste group when it has unseen items.
        all_recs = model.recommend([f"c{i}" for i in range(20)], n=1, exclude_seen=False)
        own = [
            r[0][1] == cid_group
            for r, cid_group in zip(
                all_recs["recommended_product_ids"], [str(i % 2) for i in range(20)], strict=True
            )
        ]
        assert np.mean(own) >= 0.8


def test_cold_start_uses_segment_bestsellers_and_counts_unknown_products():
    orders = _orders(
        [
            ("o1", "a", "x", 1, "2021-01-01", False),
            ("o2", "b", "x", 1, "2021-01-01", False),
            ("o3", "c", "y", 1, "2021-01-01", False),
            ("o4", "a", "z", 1, "2021-01-01", False),
        ]
    )
    inter = interactions_from(_tables(orders), RecommendSettings())
    segments = pd.DataFrame({"customer_id": ["c", "new"], "segment_id": [1, 1]})
    model = make_recommender("itemknn", RecommendSettings()).fit(inter, segments)
    recs = model.recommend(["new", "stranger"], n=2, exclude={"stranger": ["x", "nope", "gone"]})
    by_id = recs.set_index("customer_id")["recommended_product_ids"]
    assert by_id["new"][0] == "y"  # segment 1 bought y
    assert by_id["stranger"][0] != "x"  # overall bestseller x is excluded
    assert model.unknown_products == 2 and recs.attrs["unknown_products"] == 2


def test_recommend_scores_in_bounded_batches(monkeypatch):
    inter = interactions_from(_shop(), FAST)
    model = make_recommender("ease", FAST).fit(inter)
    sizes = []
    original = model._score_rows

    def spy(rows):
        sizes.append(len(rows))
        return original(rows)

    monkeypatch.setattr(model, "_score_rows", spy)
    model.recommend([f"c{i}" for i in range(60)], n=2)
    assert max(sizes) <= FAST.batch_size and sum(sizes) == 60


def test_ease_cap_keeps_most_popular_items():
    inter = interactions_from(_shop(), FAST)
    model = make_recommender("ease", FAST.model_copy(update={"ease_max_items": 10})).fit(inter)
    assert len(model.cols_) == 10
    assert model.popularity_[model.cols_].min() >= np.sort(model.popularity_)[-10]
    assert len(model.recommend(["c0"], n=5)["recommended_product_ids"][0]) == 5


def test_metrics_on_known_ranking():
    orders = _orders(
        [
            ("o1", "a", "x", 1, "2021-01-01", False),
            ("o2", "a", "y", 1, "2021-01-02", False),
            ("o3", "b", "y", 1, "2021-01-02", False),
            ("o4", "b", "z", 1, "2021-01-02", False),
            ("o5", "a", "z", 1, "2021-03-01", False),
        ]
    )
    split = temporal_split(_tables(orders), RecommendSettings(min_item_customers=1, split_quantile=0.9))
    assert split.test_customers.tolist() == ["a"]
    recs = pd.DataFrame(
        {"customer_id": ["a"], "recommended_product_ids": [["q", "z"]], "scores": [[2.0, 1.0]]}
    )
    per = per_customer_metrics(recs, split, k=2)
    assert per["ndcg"].iloc[0] == pytest.approx(1 / np.log2(3))
    assert per["recall"].iloc[0] == 1.0 and per["ap"].iloc[0] == pytest.approx(0.5)


def test_paired_bootstrap_detects_a_real_difference():
    ids = [f"c{i}" for i in range(200)]
    rng = np.random.default_rng(0)
    a = pd.DataFrame({"customer_id": ids, "ndcg": rng.random(200) * 0.2 + 0.1})
    b = a.assign(ndcg=a["ndcg"] - 0.05)
    res = paired_bootstrap(a, b, rounds=200, seed=1)
    assert res["low"] > 0 and res["diff"] == pytest.approx(0.05)
    same = paired_bootstrap(a, a, rounds=50, seed=1)
    assert same["low"] <= 0 <= same["high"]


def test_select_recommender_picks_best_and_refits_on_all_history():
    tables = _shop(80)
    s = FAST.model_copy(update={"candidates": ("popularity", "itemknn", "ease")})
    sel = select_recommender(tables, None, s)
    assert set(sel.candidates["name"]) == {"popularity", "itemknn", "ease"}
    assert sel.name == sel.candidates.sort_values("ndcg", ascending=False)["name"].iloc[0]
    # on the outer test period, refit beside it on the same part, the pick beats popularity
    assert sel.metrics["vs_popularity"]["diff"] > 0
    low, high = sel.metrics["intervals"]["ndcg"]
    assert low <= sel.metrics["ndcg"] <= high
    # Refit on all history: every customer who ever bought is known to the final model.
    assert len(sel.model.customer_ids_) == tables.orders["customer_id"].nunique()
    with pytest.raises(ValueError, match="valid"):
        select_recommender(tables, None, s.model_copy(update={"candidates": ("bogus",)}))


def test_top_n_indices_never_ranks_nan_first_and_leaves_input_alone():
    scores = np.array([[np.nan, 0.2, 0.7], [1.0, np.nan, -np.inf]], dtype=np.float32)
    before = scores.copy()
    idx, vals = top_n_indices(scores, 2)
    assert idx[0].tolist() == [2, 1] and idx[1, 0] == 0
    np.testing.assert_array_equal(np.isnan(scores), np.isnan(before))


def test_blend_of_a_capped_model_ranks_like_the_model_alone():
    """A capped EASE fills unmodelled items with a sentinel; the blend must not let it skew z-scores."""
    inter = interactions_from(_shop(), FAST)
    capped = FAST.model_copy(
        update={"ease_max_items": 8, "blend_members": ("ease",), "blend_weights": (1.0,)}
    )
    ids = [f"c{i}" for i in range(20)]
    alone = make_recommender("ease", capped).fit(inter).recommend(ids, n=10)
    blend = make_recommender("blend", capped).fit(inter).recommend(ids, n=10)
    assert blend["recommended_product_ids"].tolist() == alone["recommended_product_ids"].tolist()
    # modelled items carry z-scores of a few units, not the sentinel's millions
    assert max(abs(v) for row in blend["scores"] for v in row) < 50


def test_both_torch_architectures_learn_the_taste_groups():
    tables = _shop(n_customers=80)
    inter = interactions_from(tables, FAST)
    ids = [f"c{i}" for i in range(40)]
    for arch, extra in (("linear_dae", {}), ("mult_dae", {"torch_max_epochs": 60, "torch_lr": 0.01})):
        model = make_recommender("torch", FAST.model_copy(update={"torch_architecture": arch, **extra}))
        recs = model.fit(inter).recommend(ids, n=1, exclude_seen=False)
        own = [r[0][1] == str(i % 2) for i, r in enumerate(recs["recommended_product_ids"])]
        assert np.mean(own) >= 0.8, arch


@pytest.mark.parametrize("name", ["ease", "torch"])
def test_restricted_models_score_only_modelled_items_with_the_same_result(name, monkeypatch):
    """Capped models rank among their modelled items; rows left short fall back to the catalogue."""
    tables = _shop(n_customers=80)
    inter = interactions_from(tables, FAST)
    settings = FAST.model_copy(update={"ease_max_items": 7, "torch_max_items": 7})
    model = make_recommender(name, settings).fit(inter)
    assert model._restricted()
    ids = [f"c{i}" for i in range(40)] + ["nobody"]
    exclude = {"c1": ["p00", "p10", "p01"]}
    fast = model.recommend(ids, n=5, exclude=exclude)
    monkeypatch.setattr(type(model), "_restricted", lambda self: False)
    slow = model.recommend(ids, n=5, exclude=exclude)
    assert fast["recommended_product_ids"].tolist() == slow["recommended_product_ids"].tolist()
    # some customers have fewer than 5 unseen modelled items: their tail comes from the catalogue
    modelled = set(model.item_ids_[model.cols_])
    assert any(set(r) - modelled for r in fast["recommended_product_ids"][:40])


def test_selection_split_mirrors_the_outer_test_period_inside_the_training_period():
    start = pd.Timestamp("2021-01-01", tz="UTC")
    rows = [
        # every ten days each customer moves on to a product that others bought before
        (f"o{d}_{c}", f"c{c}", f"p{(d // 10 + c) % 10}", 1, start + pd.Timedelta(days=d), False)
        for d in range(100)
        for c in range(5)
    ]
    # bought only in the outer test period: it may never be relevant, nor known, to selection
    rows.append(("late", "c0", "future", 1, start + pd.Timedelta(days=99, hours=1), False))
    tables = _tables(_orders(rows))
    s = RecommendSettings(min_item_customers=1)
    outer, inner = temporal_split(tables, s), selection_split(tables, s)
    last = tables.orders["ts"].max()
    assert inner.cutoff == outer.cutoff - (last - outer.cutoff)
    assert inner.role == "selection" and outer.role == "report"
    assert inner.last_purchase < outer.cutoff <= outer.last_purchase == last
    assert "future" not in set(inner.train.item_ids)
    described = describe_split(inner)
    assert described["test_from"] == inner.cutoff.isoformat() and described["role"] == "selection"
    assert described["test_customers"] == len(inner.test_customers) == 5
    assert describe_split(outer)["train_before"] == outer.cutoff.isoformat()


def test_selection_never_sees_the_outer_test_period_and_reports_on_it():
    """Two shops with one past and opposite futures: the same choice, different reported numbers."""
    tables = _shop(80)
    s = FAST.model_copy(update={"candidates": ("popularity", "itemknn", "ease")})
    orders = tables.orders
    future = orders["ts"] >= temporal_split(tables, s).cutoff
    # the same rows and times after the cutoff, each bought from the other taste group
    swapped = orders["product_id"].str.replace(r"^p(\d)", lambda m: f"p{1 - int(m.group(1))}", regex=True)
    other = dataclasses.replace(
        tables, orders=orders.assign(product_id=swapped.where(future, orders["product_id"]))
    )
    sel, sel_other = select_recommender(tables, None, s), select_recommender(other, None, s)
    columns = ["name", "ndcg", "recall", "map", "coverage"]
    pd.testing.assert_frame_equal(sel.candidates[columns], sel_other.candidates[columns])
    assert (
        sel.name == sel_other.name and sel.metrics["selection_split"] == sel_other.metrics["selection_split"]
    )
    assert sel.metrics["ndcg"] > sel_other.metrics["ndcg"] + 0.1
    # the reported numbers are the pick refit on the outer training part, scored after the cutoff
    outer = temporal_split(tables, s)
    again = evaluate_on_split(make_recommender(sel.name, s).fit(outer.train), outer, s.k)
    assert sel.metrics["ndcg"] == pytest.approx(again["ndcg"])
    assert sel.metrics["report_split"] == describe_split(outer)
    assert sel.metrics["selection_split"]["test_to"] < sel.metrics["report_split"]["test_from"]
    assert len(sel.per_customer) == sel.metrics["n_customers"] == len(outer.test_customers)

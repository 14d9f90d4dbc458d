"""Point-in-time customer features and future labels on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmint.contracts import Tables
from segmint.features import activity_codes, customer_features, future_labels
from segmint.settings import FeatureSettings

AS_OF = pd.Timestamp("2024-03-01", tz="UTC")


def _ts(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


@pytest.fixture()
def tables() -> Tables:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "late"],
            "signup_ts": [_ts("2024-01-01"), _ts("2024-02-01"), _ts("2023-06-01"), _ts("2024-04-01")],
            "country": ["DE", "FR", "DE", "DE"],
            "channel": ["web", "app", "web", "web"],
            "opted_out": [False, True, False, False],
            "member": [False, True, False, False],
        }
    )
    products = pd.DataFrame(
        {"product_id": ["p1", "p2", "p3"], "category": ["toys", "toys", "books"], "price": 1.0}
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o3", "o4", "o5"],
            "customer_id": ["a", "a", "a", "a", "b", "a"],
            "product_id": ["p1", "p3", "p2", "p1", "p3", "p1"],
            "quantity": [2, 1, 1, 1, 3, 5],
            "unit_price": [10.0, 20.0, 5.0, 10.0, 4.0, 100.0],
            "ts": [
                _ts("2024-01-02"),
                _ts("2024-01-02"),
                _ts("2024-02-20"),
                _ts("2024-02-25"),
                _ts("2024-02-10"),
                _ts("2024-03-05"),
            ],
            "is_return": [False, False, False, True, False, False],
            "discount": [0.0, 0.0, 0.1, 0.0, 0.0, 0.0],
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "a"],
            "product_id": ["p1"] * 6,
            "event_type": ["view", "view", "cart", "purchase", "view", "view"],
            "ts": [_ts("2024-01-02")] * 5 + [_ts("2024-03-02")],
            "session_id": ["s1", "s1", "s2", "s2", "s3", "s9"],
        }
    )
    reviews = pd.DataFrame(
        {
            "review_id": ["r1", "r2"],
            "customer_id": ["a", "a"],
            "product_id": ["p1", "p2"],
            "rating": [5, 3],
            "text": ["great", "ok"],
            "ts": [_ts("2024-01-05"), _ts("2024-03-10")],
        }
    )
    return Tables(customers=customers, products=products, events=events, orders=orders, reviews=reviews)


def test_one_row_per_known_customer_numeric_and_finite(tables: Tables) -> None:
    f = customer_features(tables, AS_OF, FeatureSettings())
    assert f["customer_id"].tolist() == ["a", "b", "c"]  # "late" signed up after as_of
    numeric = f.drop(columns="customer_id")
    assert all(pd.api.types.is_float_dtype(t) for t in numeric.dtypes)
    assert np.isfinite(numeric.to_numpy()).all()


def test_rfm_basket_and_returns_use_only_the_past(tables: Tables) -> None:
    f = customer_features(tables, AS_OF, FeatureSettings()).set_index("customer_id")
    a = f.loc["a"]
    assert a["frequency"] == 2  # o1, o2; o5 is after as_of, o3 is a return
    assert a["gross_revenue"] == pytest.approx(2 * 10 + 20 + 5)
    assert a["monetary"] == pytest.approx(45 - 10)
    assert a["return_rate"] == pytest.approx(10 / 45)
    assert a["recency_days"] == pytest.approx(10.0)  # last purchase 2024-02-20
    assert a["lines_per_order"] == pytest.approx(1.5)
    assert a["discount_share"] == pytest.approx(1 / 3)
    assert a["cat_share_toys"] == pytest.approx(25 / 45)
    assert a["cat_share_books"] == pytest.approx(20 / 45)
    assert a["views"] == 2 and a["sessions"] == 2 and a["view_to_cart"] == pytest.approx(0.5)
    assert a["review_count"] == 1 and a["mean_rating"] == 5.0
    assert a["orders_30d"] == 1  # only o2 is within 30 days


def test_no_leakage_when_future_rows_change(tables: Tables) -> None:
    before = customer_features(tables, AS_OF, FeatureSettings())
    future = tables.orders.assign(
        unit_price=np.where(tables.orders["ts"] >= AS_OF, 1e6, tables.orders["unit_price"])
    )
    after = customer_features(Tables(**{**tables.__dict__, "orders": future}), AS_OF, FeatureSettings())
    pd.testing.assert_frame_equal(before, after)


def test_tables_coded_once_give_each_cutoff_the_features_it_gets_alone(tables: Tables) -> None:
    """One :func:`activity_codes` serves every cutoff: the cutoffs only filter the coded rows, also
    with rows lacking a customer id or a session."""
    events = tables.events.assign(customer_id=["a", None, "a", "a", "b", "a"], session_id=[None, *["s1"] * 5])
    broken = Tables(**{**tables.__dict__, "events": events})
    settings = FeatureSettings()
    for shop in (tables, broken):
        codes = activity_codes(shop, settings)
        for as_of in (_ts("2024-01-03"), _ts("2024-02-21"), AS_OF, _ts("2024-06-01")):
            alone = customer_features(shop, as_of, settings)
            pd.testing.assert_frame_equal(customer_features(shop, as_of, settings, codes=codes), alone)


def test_customer_without_history_gets_defaults(tables: Tables) -> None:
    c = customer_features(tables, AS_OF, FeatureSettings()).set_index("customer_id").loc["c"]
    assert c["frequency"] == 0 and c["monetary"] == 0 and c["views"] == 0
    assert c["recency_days"] == pytest.approx(c["tenure_days"])
    assert c["mean_rating"] == 3.0 and c["mean_sentiment"] == 0.0


def test_absent_tables_give_zero_features_and_attributes(tables: Tables) -> None:
    f = customer_features(Tables(customers=tables.customers), AS_OF, FeatureSettings())
    assert (f["frequency"] == 0).all() and (f["views"] == 0).all() and (f["review_count"] == 0).all()
    assert f["attr_member"].tolist() == [0.0, 1.0, 0.0]  # a boolean attribute becomes 0/1
    assert "attr_opted_out" not in f.columns  # consent is no customer trait
    assert f["channel__app"].tolist() == [0.0, 1.0, 0.0]


def test_customers_without_country_or_channel_keep_their_other_attributes(tables: Tables) -> None:
    for missing in ("country", "channel"):
        customers = tables.customers.drop(columns=[missing])
        f = customer_features(Tables(customers=customers), AS_OF, FeatureSettings())
        assert f["customer_id"].tolist() == ["a", "b", "c"]
        assert not [column for column in f.columns if column.startswith(f"{missing}__")]
        assert f["attr_member"].tolist() == [0.0, 1.0, 0.0]
    kept = customer_features(
        Tables(customers=tables.customers.drop(columns=["country"])), AS_OF, FeatureSettings()
    )
    assert kept["channel__app"].tolist() == [0.0, 1.0, 0.0]


def test_inputs_are_not_mutated(tables: Tables) -> None:
    copies = {name: df.copy() for name, df in tables.items()}
    customer_features(tables, AS_OF, FeatureSettings())
    for name, df in tables.items():
        pd.testing.assert_frame_equal(df, copies[name])


def test_future_labels_count_the_window_after_as_of(tables: Tables) -> None:
    labels = future_labels(tables, AS_OF, 30).set_index("customer_id")
    assert labels.loc["a", "future_orders"] == 1
    assert labels.loc["a", "future_revenue"] == pytest.approx(500.0)
    assert labels.loc["a", "future_purchased"] == 1
    assert labels.loc["b", "future_purchased"] == 0
    assert "late" not in labels.index


def _arrow_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text columns Arrow-held (pandas' ``str`` dtype), as ``read_tables`` reads them."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    with pd.option_context("future.infer_string", True):
        return frame.astype({c: "str" for c in text})


def test_events_with_arrow_held_text_give_the_features_of_python_strings(tables: Tables) -> None:
    """The features stage reads the event log's text into Arrow: every event feature is unchanged,
    with missing ids and sessions, unknown kinds and products, on the hand-made and a generated shop."""
    from segmint.generate import generate_shop
    from segmint.settings import GenerateSettings

    events = tables.events.assign(
        customer_id=["a", None, "a", "a", "b", "a"],
        session_id=[None, *["s1"] * 5],
        event_type=["view", "wishlist", "cart", "purchase", "view", None],
        product_id=["p1", "p9", "p2", None, "p3", "p1"],
    )
    generated = generate_shop(GenerateSettings(customers=600, products=60, seed=3)).tables
    settings = FeatureSettings()
    for shop, as_of in ((Tables(**{**tables.__dict__, "events": events}), AS_OF), (generated, None)):
        as_of = as_of if as_of is not None else shop.events["ts"].max() - pd.Timedelta(days=10)
        arrow = Tables(**{**shop.__dict__, "events": _arrow_text(shop.events)})
        assert isinstance(arrow.events["session_id"].dtype, pd.StringDtype)
        pd.testing.assert_frame_equal(
            customer_features(arrow, as_of, settings), customer_features(shop, as_of, settings)
        )


def test_a_category_called_other_gives_each_column_once(tables: Tables) -> None:
    """A category slugged like the fixed "other" share column names it twice; the features keep one
    column per name (the feature store and the segmenter refuse duplicates)."""
    products = tables.products.assign(category=["Other", "Other", "books"])
    features = customer_features(
        Tables(**{**tables.__dict__, "products": products}), AS_OF, FeatureSettings()
    )
    assert features.columns.is_unique
    assert {"cat_share_other", "view_share_other", "cat_share_books"} <= set(features.columns)


def test_money_is_summed_exactly_whatever_the_order_of_the_rows(tables: Tables) -> None:
    """Sums of doubles depend on the order of their terms, and DuckDB's threads take the rows in no
    fixed order: spend is summed exactly instead, so the features are the same run after run."""
    lines = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["a", "a", "a"],
            "product_id": ["p1", "p2", "p3"],
            "quantity": [1, 1, 1],
            "unit_price": [0.1, 0.2, 0.3],  # 0.1 + 0.2 + 0.3 is 0.6000000000000001 in doubles
            "ts": [_ts("2024-01-02"), _ts("2024-01-05"), _ts("2024-01-09")],
            "is_return": [False, False, False],
            "discount": [0.0, 0.0, 0.0],
        }
    )
    forward, backward = (
        customer_features(Tables(**{**tables.__dict__, "orders": orders}), AS_OF, FeatureSettings())
        for orders in (lines, lines.iloc[::-1].reset_index(drop=True))
    )
    pd.testing.assert_frame_equal(forward, backward, check_exact=True)
    a = forward.set_index("customer_id").loc["a"]
    assert a["gross_revenue"] == 0.6 and a["monetary"] == 0.6 and a["mean_unit_price"] == 0.2

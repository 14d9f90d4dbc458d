"""Canonical contracts: coercion to canonical dtypes, UTC timestamps, clear errors."""

import pandas as pd
import pytest

from segmint.contracts import BadInputError, Tables, coerce_table, latest_timestamp, to_utc


def test_naive_timestamps_mean_utc_and_zones_are_converted():
    naive = to_utc(pd.Series(["2024-01-01 10:00"]), "events", "ts")
    zoned = to_utc(pd.Series(["2024-01-01 11:00+01:00"]), "events", "ts")
    assert naive.iloc[0] == zoned.iloc[0] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


@pytest.mark.parametrize("value", [1704103200, 1704103200_000, 1704103200_000_000, 1704103200_000_000_000])
def test_epoch_integers_in_any_unit(value):
    out = to_utc(pd.Series([value]), "events", "ts")
    assert out.iloc[0] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_unparseable_timestamps_are_counted():
    with pytest.raises(BadInputError) as info:
        to_utc(pd.Series(["2024-01-01", "not a date", "nope"]), "orders", "ts")
    assert info.value.table == "orders" and info.value.column == "ts" and info.value.count == 2


def test_missing_required_column_names_table_column_and_rule():
    with pytest.raises(BadInputError) as info:
        coerce_table("products", pd.DataFrame({"product_id": ["p"], "price": [1.0]}))
    assert (info.value.table, info.value.column, info.value.rule) == (
        "products",
        "category",
        "column_required",
    )


def test_coercion_returns_a_copy_with_canonical_types():
    raw = pd.DataFrame({"product_id": [1, 2], "category": ["a", "b"], "price": ["1.5", "2"]})
    out = coerce_table("products", raw)
    assert out["product_id"].tolist() == ["1", "2"] and out["price"].dtype == "float64"
    assert raw["price"].tolist() == ["1.5", "2"]  # the input is untouched


def test_orders_get_is_return_from_negative_quantity_when_absent():
    raw = pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["c", "c"],
            "product_id": ["p", "p"],
            "quantity": [2, -1],
            "unit_price": [1.0, 1.0],
            "ts": ["2024-01-01", "2024-01-02"],
        }
    )
    assert coerce_table("orders", raw)["is_return"].tolist() == [False, True]


def test_tables_require_customers_and_know_the_latest_timestamp():
    with pytest.raises(BadInputError):
        Tables.from_mapping({})
    customers = pd.DataFrame({"customer_id": ["c"], "signup_ts": [pd.Timestamp("2024-01-01", tz="UTC")]})
    events = pd.DataFrame({"ts": [pd.Timestamp("2024-03-01", tz="UTC")]})
    tables = Tables(customers=customers, events=events)
    assert tables.present() == ("customers", "events")
    assert latest_timestamp(tables) == pd.Timestamp("2024-03-01", tz="UTC")
    with pytest.raises(ValueError, match="valid tables"):
        tables.get("nope")

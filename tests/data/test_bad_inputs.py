"""The bad-input corpus: every case asserts the exact outcome and that accepted + quarantined == input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmint.adapters import load_source
from segmint.contracts import BadInputError, Tables
from segmint.settings import ValidateSettings
from segmint.validation import assess_tables

NOW = pd.Timestamp("2024-06-01T00:00:00Z")


def base_frames() -> dict[str, pd.DataFrame]:
    """A tiny valid shop; c4 has no events, orders or reviews, p3 is bought once (order o2)."""
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": ["c1", "c2", "c3", "c4"],
                "signup_ts": pd.to_datetime(
                    ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"], utc=True
                ),
                "country": ["UK", "FR", "UK", "DE"],
                "channel": ["web", "app", "web", "web"],
            }
        ),
        "products": pd.DataFrame(
            {"product_id": ["p1", "p2", "p3"], "category": ["a", "b", "b"], "price": [10.0, 20.0, 30.0]}
        ),
        "events": pd.DataFrame(
            {
                "customer_id": ["c1", "c1", "c2", "c3"],
                "product_id": ["p1", "p2", "p1", "p2"],
                "event_type": ["view", "cart", "purchase", "view"],
                "ts": pd.to_datetime(["2024-02-01", "2024-02-02", "2024-02-03", "2024-02-04"], utc=True),
                "session_id": ["s1", "s1", "s2", "s3"],
            }
        ),
        "orders": pd.DataFrame(
            {
                "order_id": ["o1", "o1", "o2", "o3"],
                "customer_id": ["c1", "c1", "c2", "c3"],
                "product_id": ["p1", "p2", "p3", "p1"],
                "quantity": [2, 1, 1, 3],
                "unit_price": [10.0, 20.0, 30.0, 9.5],
                "ts": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-02", "2024-03-03"], utc=True),
            }
        ),
        "reviews": pd.DataFrame(
            {
                "review_id": ["r1", "r2", "r3"],
                "customer_id": ["c1", "c2", "c3"],
                "product_id": ["p1", "p1", "p2"],
                "rating": [5, 3, 1],
                "text": ["great", "ok", "bad"],
                "ts": pd.to_datetime(["2024-04-01", "2024-04-02", "2024-04-03"], utc=True),
            }
        ),
        "campaigns": pd.DataFrame(
            {
                "campaign_id": ["k1"] * 4,
                "customer_id": ["c1", "c2", "c3", "c4"],
                "treatment": ["control", "offer", "control", "offer"],
                "sent_ts": pd.to_datetime(["2024-05-01"] * 4, utc=True),
                "converted": [0, 1, 0, 1],
                "revenue": [0.0, 12.0, 0.0, 8.0],
            }
        ),
    }


def tables_of(frames: dict[str, pd.DataFrame | None], arrow_text: bool = False) -> Tables:
    """The frames as tables; with ``arrow_text``, text columns as ``read_tables(arrow_strings=True)``
    gives them to validation (Arrow-held ``str`` dtype, missing values NaN)."""
    present = {k: v for k, v in frames.items() if v is not None}
    if arrow_text:
        present = {k: _with_arrow_text(v) for k, v in present.items()}
    return Tables.from_mapping(present)


ARROW_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _with_arrow_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding only text (and nulls) as Arrow strings; a parquet column cannot mix
    text with numbers, so mixed columns stay as they are."""
    text = [
        c
        for c in frame.columns
        if frame[c].dtype == object and frame[c].dropna().map(lambda v: isinstance(v, str)).all()
    ]
    return frame.astype(dict.fromkeys(text, ARROW_TEXT))


# Every corpus case runs on both text representations validation can be given.
TEXT_KINDS = pytest.mark.parametrize("arrow_text", [False, True], ids=["object_text", "arrow_text"])


# ---------------------------------------------------------------------------------------------------
# helpers

LENIENT = {"max_quarantine_share": 1.0, "max_duplicate_key_share": 1.0, "max_unattributed_share": 1.0}


def _set(table: str, column: str, index: int, value):
    def mutate(frames):
        df = frames[table].copy()
        if df[column].dtype.kind in "iub" and not isinstance(value, (int, bool)):
            df[column] = df[column].astype(object)
        df.loc[index, column] = value
        frames[table] = df

    return mutate


def _replace(table: str, **columns):
    def mutate(frames):
        frames[table] = frames[table].assign(**columns)

    return mutate


def _append(table: str, row: dict):
    def mutate(frames):
        frames[table] = pd.concat([frames[table], pd.DataFrame([row])], ignore_index=True)

    return mutate


def _drop(table: str, column: str):
    def mutate(frames):
        frames[table] = frames[table].drop(columns=[column])

    return mutate


def _rename(table: str, old: str, new: str):
    def mutate(frames):
        frames[table] = frames[table].rename(columns={old: new})

    return mutate


def _empty(table: str):
    def mutate(frames):
        frames[table] = frames[table].iloc[0:0]

    return mutate


def _chain(*mutations):
    def mutate(frames):
        for m in mutations:
            m(frames)

    return mutate


def _order(i: int, **over) -> dict:
    row = {
        "order_id": f"ox{i}",
        "customer_id": "c1",
        "product_id": "p1",
        "quantity": 1,
        "unit_price": 10.0,
        "ts": pd.Timestamp("2024-03-05", tz="UTC"),
    }
    return {**row, **over}


# (id, mutation, settings overrides, previous counts, expected)
# expected: ("raise", table, column, rule, count) or ("quarantine", {table: sorted rule values})
RAISE_CASES = [
    (
        "missing_column",
        _drop("orders", "unit_price"),
        {},
        None,
        ("orders", "unit_price", "column_required", None),
    ),
    (
        "renamed_column",
        _rename("customers", "signup_ts", "signup_date"),
        {},
        None,
        ("customers", "signup_ts", "column_required", None),
    ),
    (
        "wrong_dtype_price_text",
        _replace("products", price=["abc", "def", "ghi"]),
        {},
        None,
        ("products", "price", "type_float", 3),
    ),
    (
        "fractional_quantity",
        _set("orders", "quantity", 0, 2.5),
        {},
        None,
        ("orders", "quantity", "type_int", 1),
    ),
    ("rating_text", _set("reviews", "rating", 0, "five"), {}, None, ("reviews", "rating", "type_int", 1)),
    (
        "unparseable_timestamp",
        _set("orders", "ts", 1, "not a date"),
        {},
        None,
        ("orders", "ts", "timestamp_parseable", 1),
    ),
    (
        "all_null_category",
        _replace("products", category=[None, None, None]),
        {},
        None,
        ("products", "category", "column_not_all_null", 3),
    ),
    (
        "all_null_signup",
        _replace("customers", signup_ts=[None] * 4),
        {},
        None,
        ("customers", "signup_ts", "column_not_all_null", 4),
    ),
    ("empty_events", _empty("events"), {}, None, ("events", None, "table_not_empty", 0)),
    (
        "too_many_duplicate_keys",
        _set("customers", "customer_id", 1, "c1"),
        {"max_quarantine_share": 1.0},
        None,
        ("customers", "customer_id", "max_duplicate_key_share", 1),
    ),
    (
        "quarantine_share",
        _replace("orders", unit_price=[-1.0, -1.0, -1.0, 5.0]),
        {},
        None,
        ("orders", "unit_price", "max_quarantine_share", 3),
    ),
    ("row_count_drop", lambda f: None, {}, {"orders": 100}, ("orders", None, "row_count_ratio", 4)),
    (
        "row_count_jump",
        lambda f: None,
        {"max_row_ratio": 2.0},
        {"customers": 1},
        ("customers", None, "row_count_ratio", 4),
    ),
    (
        "all_orders_unattributed",
        _replace("orders", customer_id=[None] * 4),
        {},
        None,
        ("orders", "customer_id", "max_unattributed_share", 4),
    ),
]

QUARANTINE_CASES = [
    (
        "negative_price_cascades",
        _set("products", "price", 2, -5.0),
        {},
        {"products": ["price_range"], "orders": ["product_known"]},
    ),
    (
        "absurd_price_1e12",
        _set("products", "price", 2, 1e12),
        {},
        {"products": ["price_range"], "orders": ["product_known"]},
    ),
    (
        "nan_price",
        _set("products", "price", 2, float("nan")),
        {},
        {"products": ["price_finite"], "orders": ["product_known"]},
    ),
    (
        "inf_price",
        _set("products", "price", 2, float("inf")),
        {},
        {"products": ["price_finite"], "orders": ["product_known"]},
    ),
    ("zero_quantity", _set("orders", "quantity", 3, 0), {}, {"orders": ["quantity_nonzero"]}),
    (
        "negative_quantity_explicitly_not_return",
        _chain(_set("orders", "quantity", 3, -2), _replace("orders", is_return=[False] * 4)),
        {},
        {"orders": ["return_consistent"]},
    ),
    ("nan_unit_price", _set("orders", "unit_price", 0, float("nan")), {}, {"orders": ["unit_price_finite"]}),
    ("inf_unit_price", _set("orders", "unit_price", 0, float("inf")), {}, {"orders": ["unit_price_finite"]}),
    ("negative_unit_price", _set("orders", "unit_price", 0, -1.0), {}, {"orders": ["unit_price_range"]}),
    (
        "inf_quantity",
        _replace("orders", quantity=[2.0, 1.0, float("inf"), 3.0]),
        {},
        {"orders": ["quantity_finite"]},
    ),
    (
        "nan_quantity",
        _replace("orders", quantity=[2.0, float("nan"), 1.0, 3.0]),
        {},
        {"orders": ["quantity_finite"]},
    ),
    ("rating_7", _set("reviews", "rating", 0, 7), {}, {"reviews": ["rating_domain"]}),
    (
        "rating_0_and_nan",
        _replace("reviews", rating=[0.0, float("nan"), 4.0]),
        {},
        {"reviews": ["rating_domain", "rating_finite"]},
    ),
    ("unknown_event_type", _set("events", "event_type", 1, "click"), {}, {"events": ["event_type_domain"]}),
    (
        "future_order_ts",
        _set("orders", "ts", 3, NOW + pd.Timedelta(days=2)),
        {},
        {"orders": ["ts_not_future"]},
    ),
    (
        "future_signup_cascades",
        _set("customers", "signup_ts", 2, NOW + pd.Timedelta(days=30)),
        {},
        {
            "customers": ["signup_ts_not_future"],
            "events": ["customer_known"],
            "orders": ["customer_known"],
            "reviews": ["customer_known"],
            "campaigns": ["customer_known"],
        },
    ),
    ("null_event_ts", _set("events", "ts", 0, None), {}, {"events": ["ts_not_null"]}),
    (
        "duplicate_order_line",
        _append(
            "orders",
            _order(
                0,
                order_id="o3",
                customer_id="c3",
                quantity=3,
                unit_price=9.5,
                ts=pd.Timestamp("2024-03-03", tz="UTC"),
            ),
        ),
        {},
        {"orders": ["duplicate_line"]},
    ),
    ("orphan_product_in_events", _set("events", "product_id", 2, "p99"), {}, {"events": ["product_known"]}),
    (
        "orphan_customer_in_reviews",
        _set("reviews", "customer_id", 1, "c99"),
        {},
        {"reviews": ["customer_known"]},
    ),
    ("null_customer_order", _set("orders", "customer_id", 3, None), {}, {"orders": ["customer_id_not_null"]}),
    (
        "duplicate_customer_key",
        _append(
            "customers", {"customer_id": "c2", "signup_ts": "2024-02-01", "country": "FR", "channel": "web"}
        ),
        LENIENT,
        {"customers": ["duplicate_key"]},
    ),
    (
        "duplicate_campaign_key",
        _append(
            "campaigns",
            {
                "campaign_id": "k1",
                "customer_id": "c1",
                "treatment": "offer",
                "sent_ts": "2024-05-01",
                "converted": 1,
                "revenue": 3.0,
            },
        ),
        LENIENT,
        {"campaigns": ["duplicate_key"]},
    ),
    ("duplicate_review_key", _set("reviews", "review_id", 2, "r1"), LENIENT, {"reviews": ["duplicate_key"]}),
    ("converted_2", _set("campaigns", "converted", 1, 2), {}, {"campaigns": ["converted_domain"]}),
    ("negative_revenue", _set("campaigns", "revenue", 1, -3.0), {}, {"campaigns": ["revenue_range"]}),
    ("nan_revenue", _set("campaigns", "revenue", 1, float("nan")), {}, {"campaigns": ["revenue_finite"]}),
    ("null_treatment", _set("campaigns", "treatment", 1, None), {}, {"campaigns": ["treatment_not_null"]}),
    (
        "several_rules_one_row",
        _chain(_set("orders", "quantity", 3, 0), _set("orders", "unit_price", 3, -1.0)),
        {},
        {"orders": ["quantity_nonzero;unit_price_range"]},
    ),
    ("null_product_id_order", _set("orders", "product_id", 1, None), {}, {"orders": ["product_id_not_null"]}),
]

# ---------------------------------------------------------------------------------------------------
# table-driven tests


def _assert_counts_add_up(result, tables: Tables) -> None:
    for name, frame in tables.items():
        accepted = result.accepted.get(name) if result.accepted is not None else None
        quarantined = result.quarantine.get(name)
        if accepted is None and quarantined is None:
            continue
        assert len(accepted) + len(quarantined) == len(frame), name
        assert result.summary[name]["input"] == len(frame)
        assert result.summary[name]["accepted"] + result.summary[name]["quarantined"] == len(frame)


def _run(mutate, overrides=None, previous=None, lenient=True, arrow_text=False):
    # Tiny frames: one bad row is a large share, so the share gates are opened unless a test needs them.
    frames = base_frames()
    mutate(frames)
    tables = tables_of(frames, arrow_text)
    settings = ValidateSettings(**{**(LENIENT if lenient else {}), **(overrides or {})})
    return tables, assess_tables(tables, settings, previous, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "overrides", "previous", "expected"),
    [pytest.param(m, o, p, e, id=i) for i, m, o, p, e in RAISE_CASES],
)
@TEXT_KINDS
def test_table_level_breakage_raises(mutate, overrides, previous, expected, arrow_text):
    table, column, rule, count = expected
    frames = base_frames()
    mutate(frames)
    tables = tables_of(frames, arrow_text)
    with pytest.raises(BadInputError) as info:
        assess_tables(tables, ValidateSettings(**overrides), previous, now=NOW).checked()
    err = info.value
    assert (err.table, err.column, err.rule) == (table, column, rule)
    if count is not None:
        assert err.count == count
    result = assess_tables(tables, ValidateSettings(**overrides), previous, now=NOW)
    assert result.failure is not None and result.failure.rule == rule
    # Tables validated before the failing one still add up.
    for name, summary in result.summary.items():
        assert summary["accepted"] + summary["quarantined"] == summary["input"], name


@pytest.mark.parametrize(
    ("mutate", "overrides", "expected"),
    [pytest.param(m, o, e, id=i) for i, m, o, e in QUARANTINE_CASES],
)
@TEXT_KINDS
def test_row_level_problems_are_quarantined(mutate, overrides, expected, arrow_text):
    tables, result = _run(mutate, overrides, arrow_text=arrow_text)
    assert result.failure is None, result.failure
    _assert_counts_add_up(result, tables)
    for name in tables.present():
        got = sorted(result.quarantine[name]["rule"].tolist())
        assert got == expected.get(name, []), name


def test_missing_customers_table_is_table_level():
    with pytest.raises(BadInputError) as info:
        assess_tables(Tables(customers=None), ValidateSettings(), None, now=NOW).checked()  # type: ignore[arg-type]
    assert (info.value.table, info.value.rule) == ("customers", "table_required")


def test_customers_without_activity_are_accepted():
    tables, result = _run(lambda f: None, lenient=False)
    assert result.passed
    assert "c4" in set(result.accepted.customers["customer_id"])
    _assert_counts_add_up(result, tables)
    assert all(len(q) == 0 for q in result.quarantine.values())


def test_negative_quantity_without_return_flag_becomes_a_return_row():
    tables, result = _run(_set("orders", "quantity", 3, -2))
    row = result.accepted.orders.iloc[3]
    assert (row["quantity"], bool(row["is_return"])) == (2, True)
    assert result.summary["orders"]["repairs"] == {"return_quantity_made_positive": 1}
    _assert_counts_add_up(result, tables)


def test_same_product_twice_in_an_order_is_not_a_duplicate():
    tables, result = _run(_append("orders", _order(1, order_id="o1", product_id="p1", quantity=5)))
    assert len(result.quarantine["orders"]) == 0
    assert len(result.accepted.orders) == 5


def test_timestamp_within_tolerance_is_accepted():
    tables, result = _run(_set("orders", "ts", 3, NOW + pd.Timedelta(hours=1)))
    assert len(result.quarantine["orders"]) == 0


def test_epoch_units_strings_and_zones_normalise_to_the_same_utc_instant():
    instant = pd.Timestamp("2024-03-01T08:00:00Z")
    seconds = int(instant.timestamp())
    variants = {
        "epoch_s": [seconds] * 4,
        "epoch_ms": [seconds * 1000] * 4,
        "epoch_us": [seconds * 1_000_000] * 4,
        "iso_z": ["2024-03-01T08:00:00Z"] * 4,
        "mixed_zones": [
            "2024-03-01T10:00:00+02:00",
            "2024-03-01T03:00:00-05:00",
            "2024-03-01 08:00:00",
            "2024-03-01T08:00:00+00:00",
        ],
        "naive_datetime": [pd.Timestamp("2024-03-01 08:00")] * 4,
        "tz_aware_berlin": [pd.Timestamp("2024-03-01 09:00", tz="Europe/Berlin")] * 4,
    }
    for label, values in variants.items():
        tables, result = _run(_replace("orders", ts=values))
        assert result.passed, label
        assert (result.accepted.orders["ts"] == instant).all(), label
        assert str(result.accepted.orders["ts"].dtype) == "datetime64[ns, UTC]"


def test_megabyte_review_text_is_truncated_not_quarantined():
    settings = ValidateSettings()
    tables, result = _run(_set("reviews", "text", 1, "x" * 1_000_000))
    assert len(result.quarantine["reviews"]) == 0
    assert len(result.accepted.reviews.loc[1, "text"]) == settings.max_text_chars
    assert result.summary["reviews"]["repairs"] == {"text_truncated": 1}
    assert len(tables.reviews.loc[1, "text"]) == 1_000_000  # the input is not mutated


def test_control_characters_are_stripped():
    tables, result = _run(_set("reviews", "text", 0, "gr\x00ea\x07t\nline two\x1b"))
    assert result.accepted.reviews.loc[0, "text"] == "great\nline two"
    assert result.summary["reviews"]["repairs"] == {"text_control_chars_removed": 1}


def test_campaign_with_only_control_is_accepted_but_flagged():
    tables, result = _run(_replace("campaigns", treatment=["control"] * 4))
    assert result.passed and len(result.accepted.campaigns) == 4
    assert result.summary["campaigns"]["flags"] == list(result.warnings)
    assert "only control" in result.warnings[0]


def test_unattributed_rows_do_not_count_against_the_quarantine_share():
    # 2 of 4 order lines without a customer: 50 % quarantined, but allowed as unattributed.
    tables, result = _run(_replace("orders", customer_id=["c1", None, None, "c3"]), lenient=False)
    assert result.passed
    assert result.summary["orders"]["unattributed"] == 2
    _assert_counts_add_up(result, tables)


# ---------------------------------------------------------------------------------------------------
# file-level cases through the canonical adapter


def _write_shop(folder: Path, as_csv: tuple[str, ...] = ()) -> None:
    for name, frame in base_frames().items():
        if name in as_csv:
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)


def _csv_wrong_delimiter(folder: Path, sep: str = ";") -> None:
    (folder / "customers.parquet").unlink()
    base_frames()["customers"].to_csv(folder / "customers.csv", sep=sep, index=False)


def _empty_file(folder: Path) -> None:
    (folder / "orders.parquet").unlink()
    (folder / "orders.csv").write_bytes(b"")


def _header_only(folder: Path) -> None:
    (folder / "orders.parquet").unlink()
    (folder / "orders.csv").write_text("order_id,customer_id,product_id,quantity,unit_price,ts\n")


def _zero_row_parquet(folder: Path) -> None:
    base_frames()["reviews"].iloc[0:0].to_parquet(folder / "reviews.parquet", index=False)


def _truncated_parquet(folder: Path) -> None:
    data = (folder / "events.parquet").read_bytes()
    (folder / "events.parquet").write_bytes(data[: len(data) // 2])


def _zero_byte_parquet(folder: Path) -> None:
    (folder / "products.parquet").write_bytes(b"")


def _latin1_csv(folder: Path) -> None:
    (folder / "customers.parquet").unlink()
    (folder / "customers.csv").write_bytes(
        "customer_id,signup_ts,country,channel\nc1,2024-01-01,Fran\u00e7e,web\n".encode("latin-1")
    )


def _no_customers(folder: Path) -> None:
    (folder / "customers.parquet").unlink()


def _both_formats(folder: Path) -> None:
    base_frames()["products"].to_csv(folder / "products.csv", index=False)


FILE_CASES = [
    ("csv_semicolon", _csv_wrong_delimiter, ("customers", "csv_delimiter")),
    ("csv_tab", lambda f: _csv_wrong_delimiter(f, "\t"), ("customers", "csv_delimiter")),
    ("empty_csv_file", _empty_file, ("orders", "file_not_empty")),
    ("zero_byte_parquet", _zero_byte_parquet, ("products", "file_not_empty")),
    ("header_only_csv", _header_only, ("orders", "table_not_empty")),
    ("zero_row_parquet", _zero_row_parquet, ("reviews", "table_not_empty")),
    ("truncated_parquet", _truncated_parquet, ("events", "file_readable")),
    ("non_utf8_csv", _latin1_csv, ("customers", "encoding_utf8")),
    ("missing_customers_file", _no_customers, ("customers", "table_required")),
    ("csv_and_parquet_for_one_table", _both_formats, ("products", "table_unambiguous")),
]


@pytest.mark.parametrize(("breaks", "expected"), [pytest.param(b, e, id=i) for i, b, e in FILE_CASES])
def test_file_level_problems_name_the_table(tmp_path, breaks, expected):
    _write_shop(tmp_path)
    breaks(tmp_path)
    with pytest.raises(BadInputError) as info:
        load_source("canonical", tmp_path)
    assert (info.value.table, info.value.rule) == expected
    assert expected[0] in str(info.value)


def test_csv_shop_loads_and_validates(tmp_path):
    _write_shop(tmp_path, as_csv=("customers", "orders", "reviews"))
    tables = load_source("canonical", tmp_path)
    assert set(tables.present()) == set(base_frames())
    assert str(tables.orders["ts"].dtype) == "datetime64[ns, UTC]"
    result = assess_tables(tables, ValidateSettings(), None, now=NOW).checked()
    assert result.summary["orders"] == {
        **result.summary["orders"],
        "input": 4,
        "accepted": 4,
        "quarantined": 0,
    }
    _assert_counts_add_up(result, tables)


def test_canonical_subset_with_only_customers(tmp_path):
    base_frames()["customers"].to_csv(tmp_path / "customers.csv", index=False)
    tables = load_source("canonical", tmp_path)
    assert tables.present() == ("customers",)

"""Personal data: recognised by name and content, dropped unless allowed, never features; keyed pseudonyms."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from segmint.contracts import Tables
from segmint.features import customer_features
from segmint.privacy import personal_by_content, personal_by_name, pseudonymised, without_personal_columns
from segmint.settings import FeatureSettings, PrivacySettings, SettingsError
from tasks.privacy import KEY_VARIABLE, _rows_mentioning, private_tables


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "signup_ts": pd.to_datetime(["2024-01-01"] * 4, utc=True),
            "country": ["UK", "UK", "FR", "FR"],
            "channel": ["web", "app", "web", "app"],
            "opted_out": [False, True, False, False],
            "First Name": ["Ann", "Bo", "Cy", "Di"],
            "e_mail": ["ann@example.org", "bo@example.org", "cy@example.org", "di@example.org"],
            "contact": ["+44 20 7946 0001", "+44 20 7946 0002", "(020) 7946-0003", "+33 1 23 45 67 89"],
            "Date of Birth": pd.to_datetime(["1980-02-01", "1975-05-05", "1990-09-09", "2000-01-01"]),
            "street_address": ["1 Harbour Lane", "2 Mill Road", "3 Quay St", "4 Rue Haute"],
            "loyalty_points": [10, 20, 30, 40],
            "tier": ["gold", "silver", "gold", "bronze"],
        }
    )


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["c1", "c2", "c1"],
            "product_id": ["p1", "p2", "p1"],
            "ts": pd.to_datetime(["2024-02-01", "2024-02-02", "2024-03-01"], utc=True),
            "quantity": [1, 2, 1],
            "unit_price": [5.0, 3.0, 5.0],
        }
    )


@pytest.mark.parametrize(
    ("column", "personal"),
    [
        ("First Name", True),
        ("surname", True),
        ("EMail", True),
        ("phone_number", True),
        ("mobile", True),
        ("street_address", True),
        ("postcode", True),
        ("Date of Birth", True),
        ("dob", True),
        ("iban", True),
        ("country", False),
        ("channel", False),
        ("loyalty_points", False),
        ("tier", False),
        ("signup_ts", False),
    ],
)
def test_personal_columns_are_recognised_by_name(column: str, personal: bool) -> None:
    assert (personal_by_name(column) is not None) is personal


def test_personal_columns_are_recognised_by_content() -> None:
    customers = _customers()
    assert personal_by_content(customers["e_mail"]) == "e-mail addresses (by content)"
    assert personal_by_content(customers["contact"]) == "phone numbers (by content)"
    assert personal_by_content(customers["tier"]) is None
    assert personal_by_content(customers["loyalty_points"]) is None


def test_personal_columns_are_dropped_unless_allowed_and_canonical_ones_stay() -> None:
    tables = Tables(customers=_customers(), orders=_orders())
    minimised = without_personal_columns(tables, allow=["customers.street_address"])
    kept = list(minimised.tables.customers.columns)
    assert {c.column for c in minimised.dropped} == {"First Name", "e_mail", "contact", "Date of Birth"}
    assert [c.qualified for c in minimised.kept] == ["customers.street_address"]
    assert "street_address" in kept and "loyalty_points" in kept and "opted_out" in kept
    assert list(minimised.tables.orders.columns) == list(_orders().columns)
    assert list(tables.customers.columns) == list(_customers().columns)  # the input is not changed


def test_consent_and_personal_columns_never_become_features() -> None:
    tables = Tables(customers=_customers(), orders=_orders())
    features = customer_features(tables, pd.Timestamp("2024-04-01", tz="UTC"), FeatureSettings())
    columns = " ".join(features.columns).lower()
    assert "attr_loyalty_points" in features.columns and "tier__gold" in features.columns
    for fragment in ("opted", "name", "mail", "contact", "birth", "street", "harbour"):
        assert fragment not in columns, fragment


def test_pseudonyms_are_keyed_consistent_across_tables_and_leave_no_raw_id() -> None:
    tables = Tables(customers=_customers(), orders=_orders())
    first = pseudonymised(tables, b"key one")
    again = pseudonymised(tables, b"key one")
    other = pseudonymised(tables, b"key two")
    ids = first.customers["customer_id"]
    assert ids.tolist() == again.customers["customer_id"].tolist()
    assert ids.str.fullmatch(r"p[0-9a-f]{24}").all() and ids.is_unique
    assert not set(ids) & set(other.customers["customer_id"])
    assert set(first.orders["customer_id"]) <= set(ids)
    assert first.orders["customer_id"].iloc[0] == ids.iloc[0]  # c1 is c1 in every table
    assert not {"c1", "c2", "c3", "c4"} & set(ids)


def test_pseudonymisation_without_its_key_stops_with_a_message_naming_the_variable(monkeypatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(SettingsError, match=KEY_VARIABLE):
        private_tables(Tables(customers=_customers()), PrivacySettings(pseudonymise=True))
    monkeypatch.setenv(KEY_VARIABLE, "s3cret")
    private = private_tables(Tables(customers=_customers()), PrivacySettings(pseudonymise=True))
    assert not private.tables.customers["customer_id"].isin(["c1"]).any()
    assert any("dropped personal column customers.e_mail" in note for note in private.notes)
    assert not any("s3cret" in note for note in private.notes)


def test_erasure_finds_ids_in_text_and_list_columns_and_passes_over_empty_tables() -> None:
    targets = pa.array(["c2"])
    table = pa.table(
        {
            "customer_id": pa.array(["c1", "c2", None], type=pa.large_string()),
            "members": pa.array([["c9"], [], ["c3", "c2"]], type=pa.list_(pa.string())),
            "n": [1, 2, 3],
        }
    )
    assert _rows_mentioning(table, targets).to_pylist() == [False, True, True]
    # an empty quarantine file keeps its text columns' type: nothing to erase, and no error
    empty = pa.table({"customer_id": pa.array([], type=pa.large_string()), "rule": pa.array([], pa.string())})
    assert _rows_mentioning(empty, targets).to_pylist() == []

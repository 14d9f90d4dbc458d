from __future__ import annotations

import pandas as pd
import pytest

from segmint.contracts import BadInputError, Tables
from segmint.settings import ValidateSettings
from segmint.validation import RULES, ValidationResult, assess_tables

NOW = pd.Timestamp("2024-06-01T00:00:00Z")


def _shop() -> Tables:
    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "signup_ts": pd.to_datetime(["2024-01-01"] * 2, utc=True),
            "country": ["UK", None],
            "channel": ["web", "app"],
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["c1", "c2", "<script>"],
            "product_id": ["p", "p", "p"],
            "quantity": [1, -2, 1],
            "unit_price": [1.0, 2.0, 3.0],
            "ts": pd.to_datetime(["2024-02-01"] * 3, utc=True),
        }
    )
    return Tables(customers=customers, orders=orders)


LENIENT = ValidateSettings(max_quarantine_share=1.0)


def test_inputs_are_not_mutated_and_rules_are_listed():
    tables = _shop()
    before = {n: f.copy() for n, f in tables.items()}
    result = assess_tables(tables, LENIENT, None, now=NOW).checked()
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, before[name])
    assert result.quarantine["orders"]["rule"].tolist() == ["customer_known"]
    assert result.accepted.orders["quantity"].tolist() == [1, 2]
    assert result.accepted.customers["country"].tolist() == ["UK", "unknown"]
    assert set(result.summary["orders"]["rules"]) <= set(RULES)


def test_failure_is_reported_and_raised_with_the_report_path():
    result = assess_tables(_shop(), LENIENT, None, now=NOW).checked()
    assert isinstance(result, ValidationResult) and result.passed
    with pytest.raises(BadInputError) as info:
        assess_tables(_shop(), ValidateSettings(), None, now=NOW).checked()
    assert "orders" in str(info.value) and "max_quarantine_share" in str(info.value)

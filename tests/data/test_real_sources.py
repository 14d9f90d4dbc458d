"""Each adapter on the shared real datasets: loads, validates with the defaults, counts add up."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segmint.adapters import load_source, load_source_with_notes
from segmint.contracts import BadInputError, Tables
from segmint.settings import Settings, ValidateSettings
from segmint.validation import RULES, assess_tables
from tasks.io import write_tables
from tasks.paths import ProjectPaths
from tasks.validate import SUITES, load_suite, run_expectation_suites, run_validate
from tests.conftest import shared_data_dir

SOURCES = [
    ("online_retail", None, {"orders": 541_909, "customers": 4_372}),
    ("online_retail", "online_retail_ii_2009_2010", {"orders": 525_461, "customers": 4_383}),
    ("cdnow", None, {"orders": 69_659, "customers": 23_570}),
    ("hillstrom", None, {"customers": 64_000, "campaigns": 64_000}),
    ("amazon_reviews", None, {"reviews": 4_424}),
]


@pytest.mark.parametrize(("name", "folder", "counts"), SOURCES, ids=[f"{s[0]}-{s[1]}" for s in SOURCES])
def test_real_source_loads_and_passes_validation(name, folder, counts):
    path = shared_data_dir() / folder if folder else None
    loaded = load_source_with_notes(name, path)
    tables = loaded.tables
    for table, n in counts.items():
        assert len(tables.get(table)) == n, table
    result = assess_tables(tables, ValidateSettings(), None).checked()
    for table, frame in tables.items():
        s = result.summary[table]
        assert s["accepted"] + s["quarantined"] == s["input"] == len(frame)
        assert len(result.accepted.get(table)) + len(result.quarantine[table]) == len(frame)
        assert set(s["rules"]) <= set(RULES)
    if name == "online_retail":
        # Every line without a customer is kept and quarantined under its reason, none disappear.
        assert (
            result.summary["orders"]["rules"]["customer_id_not_null"]
            == loaded.notes["orders_without_customer"]
        )
        assert loaded.notes["orders_without_customer"] in (135_080, 107_927)
        accepted = result.accepted.orders
        assert (accepted["quantity"] > 0).all() and accepted["is_return"].any()
    if name == "hillstrom":
        assert set(result.accepted.campaigns["treatment"]) == {"mens_email", "womens_email", "control"}
        # converted is the visit outcome; the purchase outcome stays beside it as conversion.
        assert result.accepted.campaigns["converted"].mean() == pytest.approx(0.146781, abs=1e-6)
        assert result.accepted.campaigns["conversion"].mean() == pytest.approx(0.009031, abs=1e-6)


def test_online_retail_accepts_a_single_file_path():
    file = shared_data_dir() / "online_retail_ii_2009_2010" / "online_retail_ii_year_2009_2010.parquet"
    tables = load_source("online_retail", file)
    assert str(tables.orders["ts"].dtype) == "datetime64[ns, UTC]"
    assert tables.orders["ts"].min() == pd.Timestamp("2009-12-01 07:45", tz="UTC")


def test_suites_name_known_rules_and_take_thresholds_from_settings():
    extra = {
        "column_required",
        "table_not_empty",
        "text_truncated",
        "country_filled_unknown",
        "channel_filled_unknown",
        "category_filled_unknown",
    }
    for file in sorted(f for f in SUITES.iterdir() if f.name.endswith(".json")):
        suite = json.loads(file.read_text())
        for expectation in suite["expectations"]:
            assert expectation["meta"]["rule"] in set(RULES) | extra, (file.name, expectation)
    suite = load_suite("products")
    price = [e for e in suite["expectations"] if e["meta"]["rule"] == "price_range"][0]
    assert price["kwargs"]["max_value"] == {"$PARAMETER": "max_price"}


@pytest.mark.slow
def test_expectations_pass_on_accepted_rows_and_catch_a_breach():
    tables = load_source("hillstrom", shared_data_dir() / "hillstrom")
    result = assess_tables(tables, ValidateSettings(), None).checked()
    rows = run_expectation_suites(result.accepted, ValidateSettings())
    assert rows and all(r["success"] for r in rows)
    broken = Tables(
        customers=result.accepted.customers, campaigns=result.accepted.campaigns.assign(revenue=-1.0)
    )
    failed = {r["rule"] for r in run_expectation_suites(broken, ValidateSettings()) if not r["success"]}
    assert failed == {"revenue_range"}


@pytest.mark.slow
def test_run_validate_writes_outputs_and_gates(tmp_path):
    paths = ProjectPaths(tmp_path)
    write_tables(paths.raw, load_source("amazon_reviews", shared_data_dir() / "amazon_reviews_5core"), paths)
    metrics = run_validate(Settings(), paths)
    assert metrics["passed"] and metrics["accepted_counts"]["reviews"] == 4_350
    for table in ("customers", "products", "orders", "reviews"):
        assert paths.table(paths.validated, table).exists()
        quarantine = pd.read_parquet(paths.table(paths.quarantine, table))
        assert "rule" in quarantine.columns
    assert (paths.reports / "validation" / "index.html").exists()
    # A shrunken re-delivery breaks the row-count gate: report and metrics first, then the error.
    small = load_source("amazon_reviews", shared_data_dir() / "amazon_reviews_5core")
    write_tables(paths.raw, Tables(customers=small.customers.head(100)), paths)
    with pytest.raises(BadInputError) as info:
        run_validate(Settings(), paths)
    assert info.value.rule == "row_count_ratio" and info.value.report.endswith("index.html")
    saved = json.loads(paths.metric("validation").read_text())
    assert saved["passed"] is False and saved["accepted_counts"]["reviews"] == 4_350

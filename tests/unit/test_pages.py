"""Pages people read: numbers formatted for people, no None/nan/? shown, data escaped, summary first."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from segmint.contracts import Tables
from segmint.settings import Settings, ValidateSettings
from segmint.validation import ValidationFailure, ValidationResult, assess_tables
from tasks.drift import _write_index
from tasks.io import write_json, write_parquet
from tasks.pages import cell, number, percent, signed, table
from tasks.paths import ProjectPaths
from tasks.report import render_report, report_sections
from tasks.validation_page import render_validation_page
from tests.unit.test_validation import _shop

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
LONG = 0.12345678901234567  # what json.dump leaves of a float
NAN = float("nan")
# A number as a reader sees it: not part of a word or a longer token (hex run ids, file names).
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")


def visible_text(page: str) -> str:
    """The page's text with the tags (and the inline images' base64) removed."""
    body = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def significant_digits(token: str) -> int:
    digits = token.lstrip("-").replace(",", "")
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0"))
    return len(digits.strip("0"))


def assert_readable(page: str) -> None:
    """No None/nan/? shown, no number with more than 6 significant digits, no live script from data."""
    text = visible_text(page)
    assert re.findall(r"\b(?:None|nan|NaN|NaT|null)\b", text) == []
    assert re.findall(r"<td>\s*\?\s*</td>|\(\?\)|\s\?\s", page) == []
    long_numbers = [n for n in NUMBER.findall(text) if significant_digits(n) > 6]
    assert long_numbers == []
    assert XSS not in page and "<script" not in page


def test_numbers_are_three_significant_figures_with_separators():
    assert number(8600.58364545198) == "8,600"
    assert number(0.09788151309460882) == "0.0979"
    assert number(0.4) == "0.4"
    assert number(-1234.5) == "-1,230"
    assert number(12898) == "12,898"  # counts below a million are exact
    assert number(123_456_789) == "123,000,000"
    assert number(0.000123456) == "0.000123"
    assert number(1.23456e-7) == "1.23e-07"
    assert number(-0.0000001) == "-1e-07"
    assert number(0.0) == "0" and number(-0.0001) == "-0.0001"
    assert number(True) == "yes" and number(math.inf) == "∞"
    assert percent(0.3974358974358974) == "39.7%" and percent(1.0) == "100%"
    assert signed(0.000332) == "+0.000332" and signed(-0.5) == "-0.5" and signed(0.0) == "0"


def test_missing_values_read_as_words_or_a_dash():
    assert number(None) == "—" and number(NAN) == "—" and number(pd.NA) == "—"
    assert number(None, "no champion yet") == "no champion yet"
    assert percent(NAN, "not measured") == "not measured"
    assert cell(pd.NaT) == "—" and cell([]) == "—" and cell([1, None, LONG]) == "1, —, 0.123"
    assert cell("2026-12-01T16:21:04.300377+00:00") == "2026-12-01 16:21 UTC"
    frame = pd.DataFrame({"segment": [XSS, None], "reference_share": [LONG, NAN], "n": [3, 4]})
    formatted = table(frame)
    assert formatted.rows == ((XSS, "12.3%", "3"), ("—", "—", "4"))


def hostile_project(root) -> ProjectPaths:
    """A trained-then-retrained project whose metrics hold None, NaN, long floats and markup."""
    paths = ProjectPaths(root)
    names = [XSS, "loyal", "bargain hunters"]
    write_parquet(
        paths.segments / "segments.parquet",
        pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "segment_name": names}),
    )
    write_parquet(
        paths.segments / "profiles.parquet",
        pd.DataFrame({"segment_name": names, "monetary": [LONG, NAN, 1e7 / 3], "keywords": [XSS, None, ""]}),
    )
    entry = {
        "decision": "promote",
        "reasons": [f"segment {XSS} is new", "stability 0.987 vs floor 0.700"],
        "challenger_quality": LONG,
        "champion_quality": None,
        "challenger_version": "2",
        "champion_version_before": None,
        "champion_version": "2",
        "quality_name": "silhouette",
        "inputs": {"stability": NAN},
    }
    write_json(paths.metric("gate"), {"segmenter": entry, "uplift": {**entry, "champion_quality": LONG / 3}})
    write_json(
        paths.metric("evaluate"),
        {
            "segmenter": {
                "challenger_quality": LONG,
                "challenger_version": "2",
                "quality_name": "silhouette",
                "stability": {"ari": LONG, "nmi": None},
                "migration": {"rows": names, "columns": names, "counts": [[5, 1, 0], [0, 7, 2], [0, 0, 9]]},
            },
            "uplift": {"skipped": f"no waves {XSS}"},
        },
    )
    write_json(
        paths.metric("drift"),
        {
            "drift_detected": True,
            "drifted_share": LONG,
            "drifted_columns": ["monetary_total", XSS],
            "drifted_models": ["segmenter"],
            "n_columns": None,
            "share_threshold": 0.3,
            "columns": {
                "monetary_total": {
                    "method": "Wasserstein",
                    "statistic": LONG,
                    "threshold": 0.1,
                    "drifted": True,
                },
                XSS: {"method": "K-S p_value", "statistic": 1e-9, "threshold": 0.05, "drifted": True},
                "tenure_days": {
                    "method": "K-S p_value",
                    "statistic": NAN,
                    "threshold": 0.05,
                    "drifted": False,
                },
            },
            "predictions": {
                "segments": {
                    "psi": LONG,
                    "threshold": 0.2,
                    "total_variation": None,
                    "shares": [
                        {"category": XSS, "reference_share": LONG, "current_share": 0.5, "change": NAN}
                    ],
                },
                "uplift": {"discount_10": {"reference_mean": LONG, "current_mean": None, "drifted": False}},
                "recommendations": {"reference_coverage": LONG, "current_coverage": NAN},
            },
            "reports": ["reports/drift/features.html"],
        },
    )
    write_json(
        paths.metric("campaign"),
        {
            "plan_kind": "uplift",
            "contacted": 1181,
            "holdout": 134,
            "expected_incremental_profit": 8600.58364545198,
            "plan": [
                {
                    "offer": XSS,
                    "sent": 848,
                    "holdout": 95,
                    "spend": 848.0,
                    "expected_incremental_profit": LONG,
                },
                {"offer": "free_shipping", "sent": 333, "holdout": 39, "spend": 333.0},
                {"offer": "total", "sent": 1181, "holdout": 134, "spend": 1181.0},
            ],
            "strategies": [
                {"strategy": "uplift", "contacts": 1315, "incremental_profit": 9605.662980187713},
                {"strategy": "random", "contacts": 1872, "incremental_profit": -780.8325444819716},
            ],
        },
    )
    write_json(
        paths.metric("segment"),
        {"n_segments": 3, "selected": {"algorithm": "kmeans", "silhouette": LONG}, "as_of": None},
    )
    return paths


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[ProjectPaths, str]:
    paths = hostile_project(tmp_path_factory.mktemp("project"))
    return paths, render_report(report_sections(paths, Settings()), f"report {XSS}")


def test_report_shows_no_none_nan_or_long_numbers_and_escapes_data(report):
    _, page = report
    assert_readable(page)
    assert ESCAPED in page


def test_report_opens_with_the_summary(report):
    _, page = report
    body = page[page.index("<body>") :]
    assert body.index('<section id="summary"') < body.index("<nav>") < body.index("<h2>Promotion decisions")
    summary = body[: body.index("<nav>")]
    assert "<h2>Summary</h2>" in summary
    # what was trained, what was promoted and why, what changed, the plan at a glance
    assert "kmeans, 3 segments" in summary and "skipped: no waves " + ESCAPED in summary
    assert "promote" in summary and "the first champion" in summary and f"segment {ESCAPED} is new" in summary
    assert "no champion yet" in summary and "+0.0823" in summary  # challenger − champion for uplift
    assert "87.5% of customers kept a segment of the same name" in summary  # (5 + 7 + 9) / 24
    assert "2 from loyal to bargain hunters" in summary
    # the p-value feature drifted far past its threshold: ranked before the distance one
    assert summary.index(ESCAPED + "</td><td>K-S p_value") < summary.index("monetary_total</td>")
    assert "models whose own inputs drifted: segmenter" in summary
    assert "1,181 customers contacted, 134 held out (10.2%)" in summary
    assert "budget of 5,000" in summary and "<td>free_shipping</td><td>333</td><td>39</td>" in summary
    assert "no Data Docs built" in summary


def test_report_links_data_docs_when_they_exist(report):
    paths, _ = report
    docs = paths.reports / "data_docs" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<html></html>")
    try:
        page = render_report(report_sections(paths), "report")
    finally:
        docs.unlink()
    assert 'href="data_docs/index.html"' in page and "no Data Docs built" not in page


def test_report_figures_are_inline_and_nothing_is_fetched(report):
    _, page = report
    assert page.count('src="data:image/png;base64,') >= 3
    assert re.findall(r'(?:src|href)="(?:https?:)?//', page) == []


def test_validation_page_is_readable_escaped_and_opens_with_the_verdict():
    shop = _shop()  # two customers, three orders, one of them from an unknown "<script>" customer
    orders = shop.orders.assign(customer_id=["c1", "c2", XSS], unit_price=[1.0, LONG, NAN])
    result = assess_tables(
        Tables(customers=shop.customers, orders=orders),
        ValidateSettings(max_quarantine_share=1.0),
        None,
        now=pd.Timestamp("2024-06-01T00:00:00Z"),
    )
    expectations = [
        {"table": "orders", "expectation": XSS, "column": None, "success": True, "unexpected_count": None},
        {
            "table": "orders",
            "expectation": "not_null",
            "success": False,
            "unexpected_count": 3,
            "element_count": 9,
        },
    ]
    page = render_validation_page(result, expectations)
    assert_readable(page)
    assert ESCAPED in page and "PASSED" in page
    assert page.index('<section id="summary"') < page.index("<h2>Tables</h2>")
    assert "rows read in 2 tables" in page and "not measured" in page and "whole table" in page
    # one of three orders quarantined: the share, its gate's observed value and threshold as percentages
    gate = "<td>max_quarantine_share</td><td>whole table</td><td>passed</td><td>33.3%</td><td>100%</td>"
    assert gate in page


def test_failed_validation_page_names_the_failure_in_words():
    failure = ValidationFailure("orders", "missing_column", f"no column {XSS}", None, None)
    page = render_validation_page(ValidationResult(accepted=None, quarantine={}, summary={}, failure=failure))
    assert_readable(page)
    assert "FAILED" in page and "all columns" in page and "not counted" in page and ESCAPED in page


def test_drift_index_links_reports_or_says_why_there_are_none(tmp_path):
    _write_index(tmp_path, ["reports/drift/features.html", f"reports/drift/{XSS}.html"])
    page = (tmp_path / "index.html").read_text()
    assert_readable(page)
    assert 'href="features.html"' in page and ESCAPED in page
    _write_index(tmp_path, [], note=f"no champion yet {XSS}")
    page = (tmp_path / "index.html").read_text()
    assert_readable(page)
    assert "No drift report: no champion yet" in page and ESCAPED in page

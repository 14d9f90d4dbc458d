"""The reviewer report: every value that came from data is escaped; the sections say what matters."""

import pandas as pd

from tasks.paths import ProjectPaths
from tasks.report import (
    Section,
    drift_section,
    gate_section,
    html_table,
    measure_section,
    messages_section,
    migration_section,
    render_report,
)

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_segment_names_and_keywords_are_escaped_in_tables_and_page():
    profiles = pd.DataFrame(
        {"segment_name": [XSS, "loyal"], "customers": [10, 20], "keywords": [f"cheap, {XSS}", "fast"]}
    )
    page = render_report([Section("Segments " + XSS, html_table(profiles))], "report " + XSS)
    assert ESCAPED in page
    assert XSS not in page and "<script" not in page


def test_gate_section_lists_decisions_with_escaped_reasons_and_inputs():
    gate = {
        "segmenter": {
            "decision": "needs_review",
            "review": True,
            "reasons": ["stability 0.412 vs floor 0.700", f"segment {XSS} moved"],
            "inputs": {"quality_name": "silhouette", "stability": 0.412},
            "challenger_quality": 0.3,
            "champion_quality": 0.29,
            "challenger_version": "2",
            "champion_version_before": "1",
            "champion_version": "1",
        }
    }
    section = gate_section(gate)
    assert "needs_review" in section and "stability 0.412 vs floor 0.700" in section
    assert ESCAPED in section and XSS not in section


def test_drift_section_names_drifted_features_and_escapes_segment_shares(tmp_path):
    drift = {
        "drift_detected": True,
        "drifted_share": 0.5,
        "drifted_columns": ["monetary_total", "recency_days"],
        "n_columns": 4,
        "share_threshold": 0.3,
        "columns": {
            "monetary_total": {
                "method": "K-S p_value",
                "statistic": 0.001,
                "threshold": 0.05,
                "drifted": True,
            },
            "tenure_days": {"method": "K-S p_value", "statistic": 0.6, "threshold": 0.05, "drifted": False},
        },
        "predictions": {
            "segments": {
                "psi": 0.4,
                "threshold": 0.2,
                "total_variation": 0.3,
                "shares": [
                    {"category": XSS, "reference_share": 0.5, "current_share": 0.2, "change": -0.3},
                    {"category": "loyal", "reference_share": 0.5, "current_share": 0.8, "change": 0.3},
                ],
            }
        },
        "reports": ["reports/drift/features.html"],
    }
    section = drift_section(drift, ProjectPaths(tmp_path))
    assert "Drift detected" in section and "monetary_total, recency_days" in section
    assert "PSI 0.4 (threshold 0.2)" in section and 'href="drift/features.html"' in section
    assert ESCAPED in section and XSS not in section


def test_migration_and_measurement_sections_show_their_numbers():
    evaluation = {
        "segmenter": {
            "stability": {"ari": 0.81, "nmi": 0.77},
            "migration": {"rows": ["a", XSS], "columns": ["a", "b"], "counts": [[5, 1], [0, 7]]},
        }
    }
    section = migration_section(evaluation)
    assert "ARI 0.81" in section and ESCAPED in section and XSS not in section
    measure = {
        "outcomes_file": "out.parquet",
        "outcome_rows": 100,
        "overall": {
            "uplift": 0.05,
            "uplift_low": 0.01,
            "uplift_high": 0.09,
            "n_treated": 80,
            "n_holdout": 20,
        },
        "per_segment": [{"segment_id": "all", "segment_name": XSS, "offer": "discount_10", "uplift": 0.05}],
    }
    section = measure_section(measure)
    assert "0.05" in section and "[95% 0.01, 0.09]" in section and ESCAPED in section and XSS not in section


def test_messages_section_shows_one_example_per_segment_and_offer_as_text(tmp_path):
    from tasks.io import write_parquet

    paths = ProjectPaths(tmp_path)
    write_parquet(
        paths.outputs / "messages.parquet",
        pd.DataFrame(
            {
                "customer_id": ["c1", "c2", "c3", "c4"],
                "offer": ["free_shipping", "free_shipping", "discount_10", "free_shipping"],
                "segment_name": ["loyal", "loyal", "loyal", None],
                # the message renderer escapes HTML; the report shows the text once
                "subject": ["Tom &amp; Jerry", "second", "ten off", "hello"],
                "body": [f"Hi {ESCAPED}", "second body", "ten body", "hello body"],
            }
        ),
    )
    body = str(messages_section(paths))
    assert body.count("<tr><td>") == 3  # loyal × 2 offers, and the customers without a segment
    assert "second body" not in body and "Tom &amp; Jerry" in body and "&amp;amp;" not in body
    assert f"Hi {ESCAPED}" in body and "<script" not in body
    assert "no segment" in body and "4 messages written" in body
    assert "no messages in this run" in str(messages_section(ProjectPaths(tmp_path / "empty")))

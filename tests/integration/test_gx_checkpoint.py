"""The validate stage's Great Expectations checkpoint: every accepted row, thresholds as suite
parameters from the settings, and GX's Data Docs site under reports/data_docs/."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segmint.settings import Settings, ValidateSettings, load_settings
from tasks.generate import ingest_tables
from tasks.gx_checkpoint import (
    SUITES,
    _quiet_context,
    build_checkpoint,
    expectation_parameters,
    load_suite,
    run_checkpoint,
    text_read_into_arrow,
)
from tasks.paths import ProjectPaths
from tasks.validate import run_validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def validated(tmp_path_factory, shop_dir) -> tuple[ProjectPaths, dict, Settings]:
    """A project that ingested the small shop and ran the validate stage once."""
    from tests.conftest import ROOT

    paths = ProjectPaths(tmp_path_factory.mktemp("validated"))
    settings = load_settings(ROOT / "params.yaml")
    ingest_tables("canonical", shop_dir, settings, paths)
    return paths, run_validate(settings, paths), settings


def test_the_checkpoint_validates_every_accepted_row(validated):
    paths, metrics, settings = validated
    assert metrics["passed"], metrics["failure"]
    accepted = metrics["accepted_counts"]
    rows = run_checkpoint(paths.validated, list(accepted), settings.validate_)
    assert {row["table"] for row in rows} == set(accepted)
    for row in rows:
        assert row["success"], row
        if row["element_count"] is not None:
            assert row["element_count"] == accepted[row["table"]], row
    counted = {row["table"] for row in rows if row["expectation"] == "expect_table_row_count_to_be_between"}
    assert counted == set(accepted)
    # the stage itself records as many expectations as the suites hold, none failing
    assert metrics["expectations_evaluated"] == sum(len(load_suite(t)["expectations"]) for t in accepted)
    assert metrics["expectations_failed"] == 0


def test_the_checkpoint_reads_text_into_arrow(validated):
    """GX validates Arrow-held text (missing-value and duplicate checks read Arrow arrays, not
    Python objects) and numpy numbers and times (its vectorised range checks)."""
    paths, metrics, _ = validated
    context = _quiet_context()
    build_checkpoint(context, paths.validated.resolve(), {"orders": load_suite("orders")})
    asset = context.data_sources.get("accepted").get_asset("orders")
    with text_read_into_arrow():
        frame = asset.get_batch_definition("orders").get_batch().data.dataframe
    assert isinstance(frame["customer_id"].dtype, pd.StringDtype), frame.dtypes.to_dict()
    assert frame["customer_id"].dtype.storage == "pyarrow"
    assert frame["quantity"].dtype.kind in "iuf" and frame["ts"].dtype.kind == "M", frame.dtypes.to_dict()


def test_the_checkpoint_keeps_no_table_it_loaded(validated):
    """GX caches every batch it loads for as long as its (global) context lives; after a checkpoint
    nothing of the validated tables may stay in memory for the stages that follow."""
    import gc

    paths, metrics, settings = validated
    run_checkpoint(paths.validated, list(metrics["accepted_counts"]), settings.validate_)
    gc.collect()
    events = len(pd.read_parquet(paths.table(paths.validated, "events")))
    alive = [o for o in gc.get_objects() if isinstance(o, pd.DataFrame) and len(o) == events]
    assert alive == []


def test_a_threshold_in_the_settings_changes_the_verdict_through_the_suite_parameter(validated):
    paths, _, settings = validated
    suite_text = (SUITES / "products.json").read_text()
    assert '"$PARAMETER": "max_price"' in suite_text
    top_price = float(pd.read_parquet(paths.table(paths.validated, "products"))["price"].max())

    def price_verdict(max_price: float) -> bool:
        cfg = settings.validate_.model_copy(update={"max_price": max_price})
        rows = run_checkpoint(paths.validated, ["products"], cfg)
        return [row["success"] for row in rows if row["rule"] == "price_range"][0]

    assert price_verdict(top_price) is True
    assert price_verdict(top_price / 2) is False
    # the suite on disk is unchanged: the threshold came in as a parameter at run time
    assert (SUITES / "products.json").read_text() == suite_text


def test_suite_parameters_name_validate_settings():
    suites = [json.loads(file.read_text()) for file in SUITES.iterdir() if file.name.endswith(".json")]
    assert len(suites) == 6
    parameters = expectation_parameters(suites, ValidateSettings(max_price=12.5))
    assert parameters == {"max_price": 12.5, "max_text_chars": 20_000}
    broken = {"expectations": [{"kwargs": {"max_value": {"$PARAMETER": "no_such_setting"}}}]}
    with pytest.raises(ValueError, match="no_such_setting"):
        expectation_parameters([broken], ValidateSettings())


def test_the_data_docs_site_is_built_under_reports(validated):
    paths, metrics, _ = validated
    docs = paths.reports / "data_docs"
    index = docs / "index.html"
    assert index.exists()
    html = index.read_text()
    for table in metrics["accepted_counts"]:
        assert table in html
    assert len(list((docs / "validations").rglob("*.html"))) == len(metrics["accepted_counts"])
    # the staging folder of the accepted tables is gone once they are in place
    assert not list(paths.data.glob(".validating-*"))

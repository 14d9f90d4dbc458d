"""The Great Expectations checkpoint of the validate stage, and its Data Docs site.

The reviewed suites ship with the package (``tasks/expectations/<table>.json``). A threshold in a suite
is a suite parameter, ``{"$PARAMETER": "<setting>"}``, named after the ``validate`` setting that fills
it at run time, so the suites and ``params.yaml`` never disagree. One checkpoint validates every row of
every accepted table, read from parquet files with Arrow-backed columns (Arrow strings keep GX's
column checks fast on millions of rows). GX's own Data Docs site is built once from the stored results
of the run (GX's ``UpdateDataDocsAction`` rebuilds the whole site once per table, six times a run).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pandas as pd

from segmint.contracts import TABLE_NAMES
from segmint.settings import ValidateSettings

SUITES: Traversable = files("tasks") / "expectations"
CHECKPOINT = "segmint_validate"
DOCS_SITE = "segmint"
PARAMETER = "$PARAMETER"


def suites_folder(root: Path) -> Traversable:
    """Where a project's suites lie: its own ``expectations/`` (``segmint init`` writes one), else the
    packaged ones."""
    own = root / "expectations"
    return own if own.is_dir() else SUITES


def load_suite(table: str, folder: Traversable = SUITES) -> dict[str, Any]:
    """The reviewed suite of ``table`` as a GX suite mapping (thresholds stay suite parameters)."""
    if table not in TABLE_NAMES:
        raise ValueError(f"unknown table {table!r}; valid tables: {', '.join(TABLE_NAMES)}")
    return json.loads((folder / f"{table}.json").read_text())


def suite_parameter_names(suite: dict[str, Any]) -> set[str]:
    """The names of the suite parameters that ``suite``'s expectations take."""
    return {
        value[PARAMETER]
        for expectation in suite["expectations"]
        for value in expectation["kwargs"].values()
        if isinstance(value, dict) and PARAMETER in value
    }


def expectation_parameters(suites: Iterable[dict[str, Any]], settings: ValidateSettings) -> dict[str, Any]:
    """The value of every suite parameter of ``suites``, each taken from the validate setting it names.

    Raises:
        ValueError: a suite names a parameter that is no validate setting.
    """
    names = set().union(*(suite_parameter_names(suite) for suite in suites))
    unknown = sorted(name for name in names if name not in ValidateSettings.model_fields)
    if unknown:
        raise ValueError(
            f"suite parameter(s) {', '.join(unknown)} name no validate setting; "
            f"valid: {', '.join(ValidateSettings.model_fields)}"
        )
    return {name: getattr(settings, name) for name in sorted(names)}


def _quiet_context() -> Any:
    import great_expectations as gx  # heavy import (seconds): only when a checkpoint runs
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX fingerprints every pandas batch under HASH_THRESHOLD bytes by hashing all its rows: a third of
    # the checkpoint's time on a 100k-customer shop, for an identity the run's own id already gives.
    pandas_engine.HASH_THRESHOLD = 0

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _add_docs_site(context: Any, docs_dir: Path) -> None:
    """Point the context's only Data Docs site at ``docs_dir`` (built afresh on each run)."""
    shutil.rmtree(docs_dir, ignore_errors=True)
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )


def build_checkpoint(context: Any, folder: Path, suites: dict[str, dict[str, Any]]) -> Any:
    """A checkpoint with one validation definition per suite over ``folder/<table>.parquet``."""
    import great_expectations as gx

    source = context.data_sources.add_pandas_filesystem("accepted", base_directory=folder)
    definitions = []
    for name, suite in suites.items():
        asset = source.add_parquet_asset(name)
        batch = asset.add_batch_definition_path(name, path=f"{name}.parquet")
        definition = gx.ValidationDefinition(
            name=name, data=batch, suite=context.suites.add(gx.ExpectationSuite(**suite))
        )
        definitions.append(context.validation_definitions.add(definition))
    checkpoint = gx.Checkpoint(
        name=CHECKPOINT,
        validation_definitions=definitions,
        result_format={"result_format": "BASIC"},
    )
    return context.checkpoints.add(checkpoint)


def text_read_into_arrow() -> Any:
    """A context in which pandas reads text into Arrow (its "str" dtype) and numbers and times
    into numpy, as GX validates fastest: it checks missing values and duplicates of Arrow text
    without a pass over Python objects, and takes its vectorised path for numeric and datetime
    ranges only on numpy dtypes (at 1M customers the checkpoint took 32 s on object text)."""
    return pd.option_context("future.infer_string", True)


def run_checkpoint(
    folder: Path,
    tables: Iterable[str],
    settings: ValidateSettings,
    docs_dir: Path | None = None,
    suites_folder: Traversable = SUITES,
) -> list[dict[str, Any]]:
    """Per-expectation results of the checkpoint over every row of ``folder/<table>.parquet``.

    Args:
        tables: the tables to validate (each has a parquet file in ``folder``).
        docs_dir: where GX builds its Data Docs site (``index.html``); None builds none.
        suites_folder: where the suites lie (the packaged ones by default).
    """
    suites = {name: load_suite(name, suites_folder) for name in tables}
    parameters = expectation_parameters(suites.values(), settings)
    context = _quiet_context()
    if docs_dir is not None:
        _add_docs_site(context, docs_dir)
    checkpoint = build_checkpoint(context, Path(folder).resolve(), suites)
    try:
        with text_read_into_arrow():
            outcome = checkpoint.run(expectation_parameters=parameters)
        if docs_dir is not None:  # the run stored its results: one build renders every table's page
            context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=list(outcome.run_results))
    finally:
        _drop_loaded_batches(context)
    return [row for result in outcome.run_results.values() for row in result_rows(result)]


def _drop_loaded_batches(context: Any) -> None:
    """Let go of every table GX loaded to validate.

    GX keeps the ephemeral context as its current project, and each data source's execution engine
    caches the data of every batch it loaded: after a run at 1M customers that was the whole event
    log and order table, 3.3 GB held through the stages that follow in the same process.
    """
    for source in context.data_sources.all().values():
        manager = source.get_execution_engine().batch_manager
        manager.reset_batch_cache()
        # GX 1.x has no public call that empties the batch data cache itself
        manager._batch_data_cache.clear()


def result_rows(result: Any) -> list[dict[str, Any]]:
    """One row per expectation of a suite's validation result: rule, verdict and counts."""
    rows = []
    for expectation_result in result.results:
        config = expectation_result.expectation_config
        # GX types the configuration as optional; the results of a suite run always carry it.
        assert config is not None
        observed = expectation_result.result.get("observed_value")
        rows.append(
            {
                "table": result.suite_name,
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_list"),
                "rule": (config.meta or {}).get("rule"),
                "success": bool(expectation_result.success),
                "unexpected_count": expectation_result.result.get("unexpected_count"),
                "element_count": expectation_result.result.get(
                    "element_count", observed if config.type.endswith("row_count_to_be_between") else None
                ),
            }
        )
    return rows

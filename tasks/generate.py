"""Generated shops and source ingestion: writing canonical folders and ``data/raw``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from segmint.adapters import ADAPTERS, load_source_with_notes
from segmint.contracts import Tables
from segmint.generate import generate_shop, simulate_outcomes
from segmint.settings import GenerateSettings, Settings
from tasks.ingest import write_raw
from tasks.io import read_parquet, write_parquet, write_tables
from tasks.paths import ProjectPaths
from tasks.privacy import private_tables

SOURCES: tuple[str, ...] = ("generator", *ADAPTERS)
TRUTH_TABLES = ("customers_truth", "effects")


def write_generated_shop(out: Path, settings: GenerateSettings) -> dict[str, int]:
    """Generate a shop and write its canonical tables to ``out`` and its truth to ``out/truth``."""
    shop = generate_shop(settings)
    write_tables(out, shop.tables, ProjectPaths(out))
    for name in TRUTH_TABLES:
        write_parquet(out / "truth" / f"{name}.parquet", shop.truth[name])
    return {name: int(len(frame)) for name, frame in shop.tables.items()}


def write_outcomes(plan_file: Path, shop_dir: Path, settings: Settings) -> Path:
    """Simulate, from the shop's truth, the outcomes of executing ``plan_file``.

    Returns:
        The canonical campaigns table written to ``shop_dir/outcomes/campaigns.parquet``.
    """
    plan = read_parquet(plan_file)
    truth = {name: read_parquet(shop_dir / "truth" / f"{name}.parquet") for name in TRUTH_TABLES}
    for frame in truth.values():
        frame.attrs = {k: _timestamp_or_value(v) for k, v in frame.attrs.items()}
    outcomes = simulate_outcomes(plan, truth, seed=settings.generate.seed + 1)
    target = shop_dir / "outcomes" / "campaigns.parquet"
    write_parquet(target, outcomes)
    return target


def source_tables(name: str, path: Path | None, settings: Settings) -> tuple[Tables, list[str]]:
    """The canonical tables of source ``name`` (allow-listed) and notes on what the adapter did."""
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; valid sources: {', '.join(SOURCES)}")
    if name == "generator":
        return generate_shop(settings.generate).tables, [f"generated with {settings.generate.model_dump()}"]
    loaded = load_source_with_notes(name, path)
    return loaded.tables, list(loaded.notes)


def ingest_tables(name: str, path: Path | None, settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Replace ``data/raw`` with the tables of source ``name``; returns the provenance record."""
    tables, notes = source_tables(name, path, settings)
    private = private_tables(tables, settings.privacy)
    notes = [*notes, *private.notes]
    source = {"source": name, "path": str(path) if path is not None else None, "notes": notes}
    return write_raw(private.tables, source, paths)


def _timestamp_or_value(value: object) -> object:
    """Timestamps come back from parquet metadata as ISO strings."""
    if isinstance(value, str):
        try:
            return pd.Timestamp(value)
        except ValueError:
            return value
    return value

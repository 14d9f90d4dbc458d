"""Personal data in a project: minimised and pseudonymised tables at ingest, and erasure (`segmint forget`).

Erasure works on files, not on a list of known outputs, so that nothing a stage adds later is missed:
parquet files are decoded and their rows of the forgotten customers removed; any other file that
mentions one of them (a model pickle, an HTML or JSON report, a DVC cache object, an MLflow artifact) is
deleted, because the next training run writes it again from the rewritten data. MLflow model versions
whose artifacts held them are deleted from the registry as well, and the command says which.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmint.contracts import Tables
from segmint.privacy import pseudonymised, pseudonyms, without_personal_columns
from segmint.settings import PrivacySettings, Settings, SettingsError
from tasks.io import write_json
from tasks.paths import ProjectPaths

KEY_VARIABLE = "SEGMINT_PSEUDONYM_KEY"
# What erasure looks through, relative to the project; the DVC remote is added when it is a folder.
_ERASED_FOLDERS = ("data", "outputs", "reports", "metrics", "models", "plots", "mlartifacts", "mlruns")
_PARQUET_MAGIC = b"PAR1"


def pseudonym_key(required: bool = True) -> bytes | None:
    """The pseudonym key from :data:`KEY_VARIABLE`.

    Raises:
        SettingsError: ``required`` and the variable is unset or empty.
    """
    key = os.environ.get(KEY_VARIABLE, "")
    if not key and required:
        raise SettingsError(
            f"privacy.pseudonymise is on but the environment variable {KEY_VARIABLE} is not set: "
            "set it to the shop's secret key (it is never written to the project)"
        )
    return key.encode("utf-8") or None


@dataclass(frozen=True)
class PrivateTables:
    """Tables ready for ``data/raw`` and the provenance notes on what was done to them."""

    tables: Tables
    notes: tuple[str, ...]


def private_tables(tables: Tables, settings: PrivacySettings) -> PrivateTables:
    """``tables`` without unallowed personal columns, with pseudonymised ids when asked."""
    minimised = without_personal_columns(tables, settings.allow_columns)
    notes = [f"dropped personal column {c.qualified} ({c.reason})" for c in minimised.dropped]
    notes += [
        f"kept allow-listed personal column {c.qualified} ({c.reason}); never a feature"
        for c in minimised.kept
    ]
    out = minimised.tables
    if settings.pseudonymise:
        key = pseudonym_key()
        assert key is not None
        out = pseudonymised(out, key)
        notes.append(f"customer ids pseudonymised with HMAC-SHA256 under ${KEY_VARIABLE}")
    return PrivateTables(out, tuple(notes))


def _targets(raw_ids: Iterable[str], settings: Settings) -> list[str]:
    """The forms in which the customers may be stored: as given and, when keyed, as pseudonyms."""
    ids = [str(i) for i in raw_ids]
    key = pseudonym_key(required=settings.privacy.pseudonymise)
    return ids + (list(pseudonyms(ids, key).values()) if key else [])


def _files(root: Path, folders: Iterable[Path]) -> Iterator[Path]:
    """``mlflow.db`` first (erasure stops there, before deleting anything), then every file of ``folders``."""
    if (root / "mlflow.db").is_file():
        yield root / "mlflow.db"
    for folder in folders:
        if folder.is_dir():
            yield from (p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink())


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4)
        if head != _PARQUET_MAGIC:
            return False
        fh.seek(-4, os.SEEK_END)
        return fh.read(4) == _PARQUET_MAGIC


def _string_columns(table: pa.Table) -> list[str]:
    def stringy(kind: pa.DataType) -> bool:
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return stringy(kind.value_type)
        return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind)

    return [field.name for field in table.schema if stringy(field.type)]


def _rows_mentioning(table: pa.Table, targets: pa.Array) -> pa.Array:
    """A boolean mask of the rows whose string (or list-of-string) cells hold one of ``targets``."""
    mask = pa.array([False] * table.num_rows, type=pa.bool_())  # typed: an empty list reads as null
    for name in _string_columns(table):
        column = table.column(name).combine_chunks()
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            hit_values = pc.is_in(pc.cast(pc.list_flatten(column), pa.string()), value_set=targets)
            parents = pc.list_parent_indices(column)
            hits = pc.filter(parents, hit_values).to_numpy(zero_copy_only=False)
            row_hits = [False] * table.num_rows
            for index in hits:
                row_hits[int(index)] = True
            mask = pc.or_(mask, pa.array(row_hits, type=pa.bool_()))
        else:
            mask = pc.or_(
                mask, pc.fill_null(pc.is_in(pc.cast(column, pa.string()), value_set=targets), False)
            )
    return mask


@dataclass
class Erasure:
    """What erasure did, by path relative to the project (never the customers themselves)."""

    rewritten: list[str]
    deleted: list[str]
    rows_removed: int = 0

    def record(self) -> dict[str, Any]:
        """The JSON-ready summary."""
        return {"rows_removed": self.rows_removed, "rewritten": self.rewritten, "deleted": self.deleted}


def _erase_parquet(path: Path, targets: pa.Array) -> int:
    table = pq.read_table(path)
    mask = _rows_mentioning(table, targets)
    removed = int(pc.sum(mask).as_py() or 0)
    if removed:
        temporary = path.with_name(path.name + ".forget.tmp")
        pq.write_table(table.filter(pc.invert(mask)), temporary)
        temporary.replace(path)
    return removed


def _mentions(path: Path, pattern: re.Pattern[bytes]) -> bool:
    return pattern.search(path.read_bytes()) is not None


def _erase_file(path: Path, values: pa.Array, pattern: re.Pattern[bytes], addressed: bool) -> tuple[str, int]:
    """``("rewritten", rows)``, ``("deleted", 0)`` or ``("", 0)`` for one file.

    Content-addressed files (DVC cache and remote objects) are never rewritten, since their name is the
    hash of their content: an object that holds a forgotten customer is deleted.
    """
    if _is_parquet(path) and not addressed:
        removed = _erase_parquet(path, values)
        return ("rewritten", removed) if removed else ("", 0)
    parquet_hit = _is_parquet(path) and bool(pc.any(_rows_mentioning(pq.read_table(path), values)).as_py())
    if not parquet_hit and not _mentions(path, pattern):
        return "", 0
    if path.name == "mlflow.db":
        raise RuntimeError(
            "the MLflow database itself names a forgotten customer; nothing was deleted from it"
        )
    path.unlink()
    return "deleted", 0


def _erase_files(root: Path, folders: list[Path], addressed: list[Path], targets: list[str]) -> Erasure:
    values = pa.array(targets, pa.string())
    pattern = re.compile(
        b"|".join(re.escape(t.encode("utf-8")) for t in sorted(targets, key=len, reverse=True))
    )
    erasure = Erasure([], [])
    for path in _files(root, [*folders, *addressed]):
        relative = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        in_addressed = any(path.is_relative_to(folder) for folder in addressed)
        action, removed = _erase_file(path, values, pattern, in_addressed)
        erasure.rows_removed += removed
        if action == "rewritten":
            erasure.rewritten.append(relative)
        elif action == "deleted":
            erasure.deleted.append(relative)
    return erasure


def _dvc_remote(paths: ProjectPaths) -> Path | None:
    config = paths.root / ".dvc" / "config"
    if not config.is_file():
        return None
    found = re.search(r"^\s*url\s*=\s*(.+)$", config.read_text(), flags=re.MULTILINE)
    if not found:
        return None
    remote = Path(found.group(1).strip())
    remote = remote if remote.is_absolute() else (config.parent / remote).resolve()
    return remote if remote.is_dir() else None


def _logged_model_dirs(deleted: list[str], paths: ProjectPaths) -> list[Path]:
    """The MLflow logged-model folders (``mlartifacts/models/<id>``) that lost a file to erasure."""
    root = paths.mlflow_artifacts / "models"
    found = {
        (paths.root / relative).relative_to(root).parts[0]
        for relative in deleted
        if (paths.root / relative).is_relative_to(root)
    }
    return [root / model_id for model_id in sorted(found)]


def _drop_model_versions(model_dirs: list[Path], settings: Settings, paths: ProjectPaths) -> list[str]:
    """Delete the folders of broken logged models and the registered versions built on them."""
    if not model_dirs:
        return []
    # Lazy: MLflow takes seconds to import and only erasure that touched a model needs it.
    from mlflow import MlflowClient

    from tasks import tracking

    tracking.configure_mlflow(settings, paths)
    client = MlflowClient()
    ids = {folder.name for folder in model_dirs}
    dropped = []
    for version in client.search_model_versions():
        if any(model_id in (version.source or "") for model_id in ids) or version.model_id in ids:
            client.delete_model_version(version.name, version.version)
            dropped.append(f"{version.name} version {version.version}")
    for folder in model_dirs:
        shutil.rmtree(folder, ignore_errors=True)
    return dropped


def forget_customers(raw_ids: list[str], settings: Settings, paths: ProjectPaths) -> dict[str, Any]:
    """Erase the customers ``raw_ids`` from every file of the project and record a new data version.

    Returns:
        The record written to ``metrics/forget.json``: counts and the paths rewritten or deleted, the
        registry versions and DVC objects dropped; never the customers' ids or pseudonyms.
    """
    # Lazy import: tasks.ingest runs `dvc add`, which only erasure and ingest need.
    from tasks.ingest import dvc_track

    if not raw_ids:
        raise SettingsError("segmint forget needs at least one customer id")
    targets = _targets(raw_ids, settings)
    folders = [paths.root / name for name in _ERASED_FOLDERS]
    remote = _dvc_remote(paths)
    addressed = [paths.root / ".dvc" / "cache", *([remote] if remote else [])]
    erasure = _erase_files(paths.root, folders, addressed, targets)
    versions = _drop_model_versions(_logged_model_dirs(erasure.deleted, paths), settings, paths)
    record = {
        "customers": len(raw_ids),
        **erasure.record(),
        "model_versions_dropped": versions,
        "data_version": dvc_track(paths.raw, paths) if paths.raw.is_dir() else "no data/raw",
    }
    write_json(paths.metrics / "forget.json", record)
    return record

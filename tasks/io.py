"""Atomic file I/O: every write goes to a temporary file in the same folder, then a rename."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segmint.contracts import TABLE_NAMES, Tables
from tasks.paths import ProjectPaths


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _write_with(path: Path, writer: Callable[[Path], None]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> Path:
    text = json.dumps(_finite(data), indent=2, sort_keys=True, default=_json_default) + "\n"
    return _write_with(path, lambda tmp: tmp.write_text(text))


def read_json(path: Path, default: Any = None) -> Any:
    if not path.exists():
        return default
    return json.loads(path.read_text())


def write_text(path: Path, text: str) -> Path:
    return _write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_parquet(path: Path, df: pd.DataFrame) -> Path:
    """Write ``df`` atomically; its ``attrs`` are kept with timestamps as ISO strings."""
    frame = df.copy(deep=False)
    frame.attrs = {k: v.isoformat() if isinstance(v, pd.Timestamp) else v for k, v in df.attrs.items()}
    return _write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def write_pickle(path: Path, obj: Any) -> Path:
    def dump(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)

    return _write_with(path, dump)


def read_pickle(path: Path) -> Any:
    # Only the project's own model files (written by write_pickle) are ever unpickled.
    with open(path, "rb") as fh:
        return pickle.load(fh)


def write_tables(folder: Path, tables: Tables, paths: ProjectPaths) -> list[Path]:
    """Write each present table as ``<table>.parquet`` and remove files of absent tables."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLE_NAMES:
        target = paths.table(folder, name)
        frame = tables.get(name)
        if frame is None:
            if target.exists():
                target.unlink()
            continue
        written.append(write_parquet(target, frame))
    return written


def read_tables(folder: Path, paths: ProjectPaths) -> Tables:
    """Read the canonical tables present in ``folder``."""
    frames = {}
    for name in TABLE_NAMES:
        target = paths.table(folder, name)
        if target.exists():
            frames[name] = pd.read_parquet(target)
    return Tables.from_mapping(frames)

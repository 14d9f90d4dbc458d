"""Atomic writes: a failing writer leaves the previous file intact and no temporary behind."""

import pandas as pd
import pytest

from tasks.io import _write_with, read_json, write_json, write_parquet


def test_json_round_trip_with_numpy_and_nan(tmp_path):
    import numpy as np

    target = write_json(tmp_path / "m.json", {"a": np.int64(3), "b": float("nan"), "c": [np.float32(1.5)]})
    assert read_json(target) == {"a": 3, "b": None, "c": [1.5]}


def test_failed_write_keeps_previous_output(tmp_path):
    target = tmp_path / "x.parquet"
    write_parquet(target, pd.DataFrame({"a": [1]}))

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        _write_with(target, broken)
    assert pd.read_parquet(target)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"]

"""A stage whose inputs hold nothing for it is recorded as skipped, and only then."""

from __future__ import annotations

import json
import logging

import pytest

from segmint.contracts import NothingToDoError
from segmint.settings import Settings
from tasks.io import write_json
from tasks.paths import ProjectPaths
from tasks.stages import SKIPPED_MARKER, STAGES, _result_or_skip, skipped_stage


def _raises(error: Exception):
    def run(settings: Settings, paths: ProjectPaths) -> dict:
        raise error

    return run


def test_nothing_to_do_is_a_skip_that_clears_earlier_outputs(tmp_path, caplog):
    paths = ProjectPaths(tmp_path)
    spec = STAGES["segment"]
    stale = [
        tmp_path / "data" / "segments" / "segments.parquet",
        tmp_path / "models" / "segmenter" / "segmenter.pkl",
    ]
    for file in stale:
        file.parent.mkdir(parents=True)
        file.write_bytes(b"an earlier run's output")
    reason = "no non-constant numeric feature columns to segment on"
    with caplog.at_level(logging.WARNING, logger="segmint.stages"):
        result = _result_or_skip(spec, _raises(NothingToDoError(reason)), Settings(), paths)
    assert result == {"skipped": reason}
    assert f"stage segment skipped: {reason}" in caplog.text
    for out in spec.outs:
        folder = tmp_path / out
        assert [p.name for p in folder.iterdir()] == [SKIPPED_MARKER]
        assert json.loads((folder / SKIPPED_MARKER).read_text()) == result
    assert json.loads((tmp_path / "metrics" / "segment.json").read_text()) == result


def test_other_errors_still_fail_the_stage(tmp_path):
    paths = ProjectPaths(tmp_path)
    with pytest.raises(ValueError, match="broken"):
        _result_or_skip(STAGES["segment"], _raises(ValueError("broken")), Settings(), paths)
    assert not (tmp_path / "metrics" / "segment.json").exists()


def test_a_result_passes_through_untouched(tmp_path):
    paths = ProjectPaths(tmp_path)

    def run(settings: Settings, paths: ProjectPaths) -> dict:
        write_json(paths.metric("segment"), {"customers": 3})
        return {"customers": 3}

    assert _result_or_skip(STAGES["segment"], run, Settings(), paths) == {"customers": 3}
    assert not (tmp_path / "models" / "segmenter").exists()


def test_a_file_output_holds_the_reason(tmp_path):
    result = skipped_stage(STAGES["report"], ProjectPaths(tmp_path), "nothing to report")
    assert result == {"skipped": "nothing to report"}
    assert (tmp_path / "reports" / "report.html").read_text() == "skipped: nothing to report\n"

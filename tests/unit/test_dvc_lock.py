"""Recording the flow's stages in dvc.lock: afterwards DVC sees nothing to run."""

from __future__ import annotations

from pathlib import Path

import yaml

from tasks.dvc_lock import recorded_stages
from tasks.paths import ProjectPaths


def test_a_project_that_is_not_a_dvc_repository_is_left_alone(tmp_path: Path):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    assert recorded_stages(ProjectPaths(tmp_path), ["validate"]).startswith("not a DVC repository")
    assert not (tmp_path / "dvc.lock").exists()


def test_the_stages_that_ran_are_locked_and_dvc_status_is_clean(tmp_path: Path, monkeypatch):
    from dvc.repo import Repo

    Repo.init(str(tmp_path), no_scm=True).close()
    (tmp_path / "params.yaml").write_text("make: {n: 3}\n")
    (tmp_path / "input.txt").write_text("in\n")
    stages = {
        "make": {"cmd": "false", "deps": ["input.txt"], "params": ["make"], "outs": ["made"]},
        "plot": {"cmd": "false", "deps": ["made"], "outs": [{"plots/p.csv": {"cache": False}}]},
        "later": {"cmd": "false", "deps": ["made"], "outs": ["later.txt"]},
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    # What the flow's stages wrote, with temporaries and bytecode beside it that .dvcignore hides.
    (tmp_path / "made").mkdir()
    (tmp_path / "made" / "a.parquet").write_text("a\n")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "p.csv").write_text("x,y\n0,1\n")
    (tmp_path / ".dvcignore").write_text((Path(__file__).resolve().parents[2] / ".dvcignore").read_text())

    said = recorded_stages(ProjectPaths(tmp_path), ["make", "plot", "unknown"])

    assert said == "dvc.lock records 2 stage(s): make, plot"
    assert set(yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]) == {"make", "plot"}
    (tmp_path / "made" / ".a.parquet.x1y2.tmp").write_text("half\n")
    (tmp_path / "made" / "__pycache__").mkdir()
    (tmp_path / "made" / "__pycache__" / "m.cpython-311.pyc").write_text("b\n")
    monkeypatch.chdir(tmp_path)  # DVC resolves stage names from the working directory
    with Repo(str(tmp_path)) as repo:
        assert repo.status(targets=["make", "plot"]) == {}
        assert "later" in repo.status()

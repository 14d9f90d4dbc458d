"""Packaging: the wheel ships the suites, the templates and the project files; `segmint init` writes a
project from the installed package; `--help` names the valid sources and stages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tasks.generate import SOURCES
from tasks.stages import STAGES
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

PACKAGES = ("segmint", "tasks", "flows")
SUITE_FILES = {
    f"{table}.json" for table in ("customers", "products", "orders", "events", "reviews", "campaigns")
}


def test_help_names_the_valid_sources_and_stages():
    from flows.cli import STAGE_NAMES, app

    assert tuple(STAGES) == STAGE_NAMES
    runner = CliRunner()
    top = runner.invoke(app, ["--help"], terminal_width=400)
    assert top.exit_code == 0 and "init" in top.output
    for name in (*SOURCES, *STAGES):
        assert name in top.output, name
    ingest = runner.invoke(app, ["ingest", "--help"], terminal_width=400).output
    stage = runner.invoke(app, ["stage", "--help"], terminal_width=400).output
    assert all(name in ingest for name in SOURCES)
    assert all(name in stage for name in STAGES)


def _check_project(project: Path) -> None:
    assert (project / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()
    assert (project / ".dvcignore").read_text() == (ROOT / ".dvcignore").read_text()
    assert {path.name for path in (project / "expectations").iterdir()} == SUITE_FILES
    shipped = {path.name for path in (ROOT / "tasks" / "message_templates").iterdir()}
    assert {path.name for path in (project / "templates" / "messages").iterdir()} == shipped
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert list(stages) == list(STAGES)
    deps = [dep for stage in stages.values() for dep in stage["deps"]]
    assert "expectations" in stages["validate"]["deps"]
    assert not [dep for dep in deps if dep.startswith(("segmint/", "tasks/", "flows/"))]
    assert (project / ".git").is_dir() and (project / ".dvc").is_dir()


def test_init_writes_a_project_and_refuses_an_existing_one(tmp_path):
    from flows.cli import app

    project = tmp_path / "shop-project"
    result = CliRunner().invoke(app, ["init", str(project)])
    assert result.exit_code == 0, result.output
    _check_project(project)
    again = CliRunner().invoke(app, ["init", str(project)])
    assert again.exit_code == 2 and "already holds a project" in again.output


@pytest.mark.slow
def test_the_wheel_ships_suites_and_templates_and_init_runs_from_it(tmp_path):
    # built from a copy: setuptools leaves build/ beside the sources it builds
    source = tmp_path / "source"
    for name in PACKAGES:
        shutil.copytree(
            ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md", "params.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("segmint-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read("segmint-0.1.0.dist-info/METADATA").decode())
    assert {f"tasks/expectations/{name}" for name in SUITE_FILES} <= names
    assert {"tasks/templates/report.html.j2", "tasks/message_templates/default.j2"} <= names
    assert {"tasks/project/params.yaml", "tasks/project/dvcignore"} <= names
    assert set(metadata.get_all("Provides-Extra")) == {"bench", "dev", "infra"}
    requires = metadata.get_all("Requires-Dist")
    assert any(r.startswith("great-expectations") and "extra" not in r for r in requires)
    assert [r for r in requires if r.startswith("scikit-uplift")] == [
        'scikit-uplift>=0.5.1; extra == "bench"'
    ]

    # the wheel's own files, ahead of the editable checkout, run `segmint init` outside the repository
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    script = (
        "import sys, json; sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        "import flows.cli, tasks\n"
        "print(json.dumps({'tasks': tasks.__file__}), file=sys.stderr)\n"
        "sys.argv = ['segmint', 'init', 'project']; flows.cli.main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
    loaded = json.loads(run.stderr.strip().splitlines()[0])["tasks"]
    assert Path(loaded).is_relative_to(site), loaded
    _check_project(tmp_path / "project")

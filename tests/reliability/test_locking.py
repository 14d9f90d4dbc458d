"""The project lock: one run at a time, a clear refusal, never a stale lock after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.locking import ProjectBusyError, project_lock
from tasks.paths import ProjectPaths

pytestmark = pytest.mark.reliability
ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys, time
from pathlib import Path
from tasks.locking import project_lock
from tasks.paths import ProjectPaths
with project_lock(ProjectPaths(Path(sys.argv[1]))):
    print("locked", flush=True)
    time.sleep(600)
"""


def _start_holder(project: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_holder_is_refused_with_a_clear_message(tmp_path):
    paths = ProjectPaths(tmp_path)
    holder = _start_holder(tmp_path)
    try:
        busy = "another segmint run .* is using this project"
        with pytest.raises(ProjectBusyError, match=busy), project_lock(paths):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)


def _another_process_can_lock(project: Path) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", HOLDER.replace("time.sleep(600)", "pass"), str(project)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert probe.returncode == 0 or "another segmint run" in probe.stderr, probe.stderr[-2000:]
    return probe.returncode == 0


def test_the_lock_is_reentrant_within_one_process_and_released_by_the_outer_hold(tmp_path):
    """The command takes the lock, then the flow it runs takes it again: no deadlock, no refusal."""
    paths = ProjectPaths(tmp_path)
    with project_lock(paths):
        with project_lock(paths):
            pass
        assert not _another_process_can_lock(tmp_path)  # the outer hold still counts
    assert _another_process_can_lock(tmp_path)


@pytest.mark.parametrize("flow_name", ["training", "campaign", "monitoring"])
def test_a_flow_started_while_another_run_holds_the_project_stops_with_a_clear_message(tmp_path, flow_name):
    """Each flow takes the lock itself, so a deployment run and a manual run never overlap."""
    import importlib

    flow = getattr(importlib.import_module(f"flows.{flow_name}"), f"{flow_name}_flow")
    holder = _start_holder(tmp_path)
    try:
        with pytest.raises(ProjectBusyError, match=f"another segmint run \\(pid {holder.pid}\\)"):
            flow.fn(str(tmp_path))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert not (tmp_path / "mlflow.db").exists()  # refused before touching anything


def test_lock_of_a_sigkilled_process_is_released(tmp_path):
    paths = ProjectPaths(tmp_path)
    holder = _start_holder(tmp_path)
    try:
        with pytest.raises(ProjectBusyError, match=f"pid {holder.pid}"), project_lock(paths):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while True:
        try:
            with project_lock(paths):
                break
        except ProjectBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert paths.lock.exists()  # the file stays; only the kernel lock mattered


def test_wait_true_queues_behind_the_holder(tmp_path):
    paths = ProjectPaths(tmp_path)
    holder = _start_holder(tmp_path)
    started = time.monotonic()
    killer = subprocess.Popen(["sh", "-c", f"sleep 1; kill -9 {holder.pid}"])
    with project_lock(paths, wait=True):
        waited = time.monotonic() - started
    killer.wait(timeout=30)
    holder.wait(timeout=30)
    assert waited >= 0.5


def test_cli_refuses_a_second_run_with_exit_1(tmp_path):
    from tests.integration.conftest import light_params, run_segmint

    light_params(tmp_path / "params.yaml")
    holder = _start_holder(tmp_path)
    try:
        for args in (("train",), ("stage", "features"), ("report",)):
            proc = run_segmint(tmp_path, *args, timeout=300)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            text = " ".join((proc.stdout + proc.stderr).split())
            assert "another segmint run" in text and "is using this project" in text
            assert "internal error" not in text
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)

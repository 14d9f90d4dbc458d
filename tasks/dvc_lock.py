"""Record in ``dvc.lock`` what the training flow produced, so that DVC sees the flow's run as its own.

``segmint train`` runs the stages through Prefect rather than ``dvc repro``; without this, ``dvc status``
would call every stage changed and the next ``dvc repro`` would run them all again.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from tasks.paths import ProjectPaths

_log = logging.getLogger("segmint.dvc")


def recorded_stages(paths: ProjectPaths, stages: Sequence[str]) -> str:
    """``dvc commit --force`` the ``stages`` the flow ran; says what happened.

    Each stage's deps, params and outputs, as they are now, are written to ``dvc.lock`` (and cached
    outputs to the DVC cache), exactly as ``dvc repro`` would have after running them. Call it only
    after the stages succeeded, under the project lock. A project that is not a DVC repository
    with a ``dvc.yaml`` is left alone, as are stages its ``dvc.yaml`` does not declare; a failure to
    commit is a warning, not a failed training run.
    """
    dvc_yaml = paths.root / "dvc.yaml"
    if not (paths.root / ".dvc").is_dir() or not dvc_yaml.is_file():
        return "not a DVC repository: dvc.lock not written"
    declared = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    committed = [name for name in stages if name in declared]
    if not committed:
        return "no stage of dvc.yaml ran: dvc.lock not written"
    # The CLI in the project folder, as `dvc repro` would run: DVC resolves stage names from the
    # working directory, which the flow's process must not change.
    dvc = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    proc = subprocess.run(
        [dvc, "commit", "--force", "--quiet", *committed],
        cwd=paths.root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        _log.warning("dvc.lock not updated: %s", proc.stderr.strip()[-1000:])
        return f"dvc commit failed: {proc.stderr.strip()[-300:]}"
    return f"dvc.lock records {len(committed)} stage(s): {', '.join(committed)}"

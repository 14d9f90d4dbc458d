"""Fingerprint a project's outputs, to prove that a refactoring commit changes no result.

    python scripts/output_fingerprint.py run WORKDIR [--customers N] [--seed S]  # generate … campaign
    python scripts/output_fingerprint.py hash PROJECT > fingerprint.json  # content hash per file
    python scripts/output_fingerprint.py diff A.json B.json  # exit 1 when they differ

Parquet files are hashed by content (row order kept, float values rounded to 9 significant digits so
a different summation order in BLAS does not count as a change); JSON files are hashed without the keys
that record wall time, run ids, timestamps or absolute paths. Models are compared through what they
produce (scores, plans, metrics), not through their pickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("data", "outputs", "metrics")
VOLATILE = (
    "seconds",
    "time",
    "duration",
    "run_id",
    "timestamp",
    "_ts",
    "path",
    "uri",
    "version",
    "started",
    "finished",
    "created",
    "ingested_at",
    "over_budget",
    "budget",
    "wall",
)


def _volatile(key: str) -> bool:
    key = key.lower()
    return any(part in key for part in VOLATILE)


def _clean(value: object, project: str) -> object:
    if isinstance(value, dict):
        return {k: _clean(v, project) for k, v in sorted(value.items()) if not _volatile(str(k))}
    if isinstance(value, list):
        return [_clean(v, project) for v in value]
    if isinstance(value, str):
        return value.replace(project, "<project>")
    if isinstance(value, float):
        return float(f"{value:.9g}")
    return value


def _frame_digest(frame: pd.DataFrame) -> str:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            values = frame[column].to_numpy(dtype=float)
            frame[column] = np.array([float(f"{v:.9g}") if np.isfinite(v) else v for v in values])
        elif frame[column].dtype == object:
            frame[column] = frame[column].map(repr)
    cols = ",".join(f"{c}:{frame[c].dtype}" for c in frame.columns)
    body = pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
    return hashlib.sha256(cols.encode() + body).hexdigest()[:16]


def fingerprint(project: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for folder in FOLDERS:
        for path in sorted((project / folder).rglob("*")):
            rel = str(path.relative_to(project))
            if path.suffix == ".parquet":
                out[rel] = _frame_digest(pd.read_parquet(path))
            elif path.suffix == ".json":
                data = _clean(json.loads(path.read_text()), str(project))
                out[rel] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return out


def run(workdir: Path, customers: int, seed: int) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_HOME", None)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    cli = [sys.executable, "-m", "flows.cli"]
    steps = [
        ["generate", "--customers", str(customers), "--seed", str(seed), "--out", "shop"],
        ["ingest", "--source", "canonical", "--path", "shop"],
        ["train"],
        ["campaign"],
    ]
    for step in steps:
        subprocess.run([*cli, *step], cwd=workdir, env=env, check=True)


def main() -> None:
    cmd, *args = sys.argv[1:]
    if cmd == "run":
        customers = int(args[args.index("--customers") + 1]) if "--customers" in args else 3000
        seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 5
        run(Path(args[0]), customers, seed)
    elif cmd == "hash":
        print(json.dumps(fingerprint(Path(args[0])), indent=1, sort_keys=True))
    elif cmd == "diff":
        a, b = (json.loads(Path(p).read_text()) for p in args[:2])
        changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        for key in changed:
            print(f"{key}: {a.get(key)} -> {b.get(key)}")
        print(f"{len(a)} files, {len(changed)} differ")
        sys.exit(1 if changed else 0)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

"""Wall time and peak memory of one command, measured from a fresh parent so children's peaks are its own.

``python -m benchmarks.speed_measure -- CMD ...`` runs CMD and prints one JSON line:
``{"rc": ..., "seconds": ..., "peak_rss_mb": ...}``. ``peak_rss_mb`` is the largest resident set of any
single process of CMD's tree (getrusage of the waited children), not their sum.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def measure(cmd: list[str], cwd: Path, env: dict[str, str], log: Path, timeout: float = 3600) -> dict:
    """Run ``cmd`` through this module in a new interpreter; its output goes to ``log``."""
    wrapper = [sys.executable, "-m", "benchmarks.speed_measure", "--", *cmd]
    root = Path(__file__).resolve().parents[1]
    env = {**env, "PYTHONPATH": f"{root}:{env.get('PYTHONPATH', '')}".rstrip(":")}
    with open(log, "ab") as out:
        done = subprocess.run(
            wrapper, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=out, timeout=timeout, check=False
        )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if not lines:
        return {"rc": done.returncode, "seconds": float("nan"), "peak_rss_mb": float("nan")}
    return json.loads(lines[-1])


def main(argv: list[str]) -> int:
    cmd = argv[argv.index("--") + 1 :] if "--" in argv else argv
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {"rc": done.returncode, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_kb / 1024, 1)}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

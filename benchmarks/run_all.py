"""All speed benchmarks (``make benchmarks``): writes benchmarks/results/speed.json and speed.md.

python -m benchmarks.run_all                                   # 10k and 100k customers
python -m benchmarks.run_all --sizes 10000,100000,1000000      # 1M on demand
python -m benchmarks.run_all --score-customers 1000000         # + campaign scoring of 1M customers
"""

from __future__ import annotations

import sys

from benchmarks import speed


def main(argv: list[str] | None = None) -> None:
    speed.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()

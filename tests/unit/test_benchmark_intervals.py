"""The Hillstrom benchmark's intervals: seeds that re-split the same rows, and the kept-aside power."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmarks.uplift import paired_over_seeds, power


def test_the_seed_interval_is_widened_for_splits_that_share_rows() -> None:
    champion = [0.0646, 0.0616, 0.0722, 0.0644, 0.0653]
    peer = [0.0629, 0.0598, 0.0701, 0.0621, 0.0656]
    out = paired_over_seeds(champion, peer)
    diffs = np.subtract(champion, peer)
    plain = stats.t.ppf(0.975, 4) * diffs.std(ddof=1) / np.sqrt(5)
    assert out["uncorrected_interval_95"] == pytest.approx([diffs.mean() - plain, diffs.mean() + plain])
    low, high = out["interval_95"]
    # Half splits: the variance is (1/5 + 1) s², not s² / 5, so the interval is sqrt(6) times wider.
    assert (high - low) / (2 * plain) == pytest.approx(np.sqrt(6))
    assert out["uncorrected_interval_95"][0] > 0, "the plain interval would have called this a win"
    assert low < 0 < high and out["verdict"] == "tie"


def test_a_clear_lead_over_seeds_is_still_called() -> None:
    out = paired_over_seeds([0.07, 0.071, 0.069, 0.072, 0.07], [0.05, 0.052, 0.049, 0.051, 0.05])
    assert out["verdict"] == "champion better"
    reverse = paired_over_seeds([0.05, 0.052, 0.049, 0.051, 0.05], [0.07, 0.071, 0.069, 0.072, 0.07])
    assert reverse["verdict"] == "peer better"


def test_power_of_the_kept_aside_split() -> None:
    none = power(0.005, 0.0, 20_000)
    assert none["chance_to_call_lead"] == pytest.approx(0.025)
    assert none["smallest_lead_called"] == pytest.approx(1.959964 * 0.005)
    assert none["test_rows_to_call_lead_at_80"] is None
    at_the_line = power(0.005, 1.959964 * 0.005, 20_000)
    assert at_the_line["chance_to_call_lead"] == pytest.approx(0.5)
    # A lead of 2.8 standard deviations is called 4 times in 5 on the rows the split has.
    eighty = power(0.005, (1.959964 + 0.841621) * 0.005, 20_000)
    assert eighty["chance_to_call_lead"] == pytest.approx(0.8, abs=1e-4)
    assert eighty["test_rows_to_call_lead_at_80"] == pytest.approx(20_000)
    # Half the lead needs four times the rows.
    half = power(0.005, (1.959964 + 0.841621) * 0.0025, 20_000)
    assert half["test_rows_to_call_lead_at_80"] == pytest.approx(80_000)

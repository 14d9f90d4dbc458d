"""Segmenter on planted blobs: recovery, assignment, names, selection table, stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segmint.segmentation import fit_segmenter, segment_stability
from segmint.settings import SegmentSettings

SETTINGS = SegmentSettings(k_min=3, k_max=5, sample_size=600, eval_sample_size=300, bootstrap_rounds=2)


def _blobs(n_per: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = {
        "recency_days": [10, 200, 30],
        "frequency": [20, 2, 3],
        "monetary": [2000, 100, 150],
        "discount_share": [0.05, 0.1, 0.9],
        "view_to_cart": [0.4, 0.3, 0.3],
        "tenure_days": [800, 700, 300],
    }
    rows, truth = [], []
    for g in range(3):
        block = {c: np.abs(rng.normal(v[g], abs(v[g]) * 0.08 + 0.01, n_per)) for c, v in centres.items()}
        rows.append(pd.DataFrame(block))
        truth += [g] * n_per
    f = pd.concat(rows, ignore_index=True)
    f.insert(0, "customer_id", [f"c{i}" for i in range(len(f))])
    return f, np.array(truth)


def test_recovers_planted_groups_and_reports_candidates() -> None:
    f, truth = _blobs()
    seg = fit_segmenter(f, SETTINGS)
    out = seg.assign(f)
    assert list(out.columns) == ["customer_id", "segment_id", "segment_name", "value_tier"]
    assert adjusted_rand_score(truth, out["segment_id"]) > 0.95
    assert seg.k == 3
    sel = seg.selection
    assert set(sel["algorithm"]) == {"kmeans", "rfm_rules"} and sel["chosen"].sum() == 1
    assert {"silhouette", "davies_bouldin", "stability", "bic"} <= set(sel.columns)
    assert (
        sel.loc[sel["chosen"], "silhouette"].iloc[0]
        > sel.loc[sel["algorithm"] == "rfm_rules", "silhouette"].iloc[0]
    )


def test_names_are_readable_unique_and_profiles_differ() -> None:
    f, _ = _blobs()
    seg = fit_segmenter(f, SETTINGS)
    prof = seg.profiles
    assert prof["segment_name"].is_unique and prof["share"].sum() == pytest.approx(1.0)
    by_name = prof.set_index("segment_name")
    assert "bargain hunters" in by_name.index  # the high-discount blob
    assert any("lapsing" in n for n in by_name.index)  # the high-recency blob
    z = prof.filter(like="z_").to_numpy()
    assert np.abs(z[:, None, :] - z[None, :, :]).max(axis=2)[~np.eye(len(z), dtype=bool)].min() > 0.5


def test_assigns_new_customers_without_refitting_and_deterministically() -> None:
    f, _ = _blobs()
    seg = fit_segmenter(f, SETTINGS)
    new, truth_new = _blobs(n_per=20, seed=5)
    a1, a2 = seg.assign(new), fit_segmenter(f, SETTINGS).assign(new)
    pd.testing.assert_frame_equal(a1, a2)
    assert adjusted_rand_score(truth_new, a1["segment_id"]) > 0.95
    assert set(a1["value_tier"]) <= {"low", "mid", "high"}
    top = f.loc[a1.index[:0]]  # empty slice still works
    assert seg.assign(top).empty


def test_value_tiers_follow_rfm() -> None:
    f, truth = _blobs()
    out = fit_segmenter(f, SETTINGS).assign(f)
    assert (out.loc[truth == 0, "value_tier"] == "high").mean() > 0.8


def test_unknown_algorithm_lists_valid_ones() -> None:
    f, _ = _blobs(n_per=30)
    with pytest.raises(ValueError, match="kmeans, gmm, hdbscan, agglomerative"):
        # model_copy skips validation (params.yaml typos fail at load): this is the library's own check
        fit_segmenter(f, SETTINGS.model_copy(update={"algorithms": ("kmeans", "dbscan")}))


@pytest.mark.parametrize("algorithm", ["gmm", "agglomerative", "hdbscan"])
def test_other_algorithms_run(algorithm: str) -> None:
    f, truth = _blobs(n_per=100)
    seg = fit_segmenter(f, SETTINGS.model_copy(update={"algorithms": (algorithm,), "bootstrap_rounds": 1}))
    assert adjusted_rand_score(truth, seg.assign(f)["segment_id"]) > 0.9


def test_input_not_mutated() -> None:
    f, _ = _blobs(n_per=50)
    copy = f.copy()
    fit_segmenter(f, SETTINGS)
    pd.testing.assert_frame_equal(f, copy)


def test_segment_stability() -> None:
    a = pd.Series([0, 0, 1, 1, 2], index=list("vwxyz"))
    same = segment_stability(a, a.map({0: 5, 1: 6, 2: 7}))
    assert same.ari == pytest.approx(1.0) and same.nmi == pytest.approx(1.0)
    moved = segment_stability(a, pd.Series([0, 1, 1, 1, 2], index=list("vwxyz")))
    assert moved.ari < 1.0
    m = moved.migration.set_index(["from_segment", "to_segment"])
    assert m.loc[(0, 1), "customers"] == 1 and m.loc[(0, 1), "share_of_from"] == pytest.approx(0.5)

"""The segment stage's metrics name the candidate the segmenter chose, not the first one listed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.segment import selected_candidate


def test_selected_is_the_chosen_row_not_the_first() -> None:
    selection = pd.DataFrame(
        {
            "algorithm": ["kmeans", "kmeans", "kmeans", "rfm_rules"],
            "k": [4, 5, 6, 5],
            "silhouette": [0.31, 0.42, 0.38, 0.1],
            "bic": [np.nan] * 4,
            "chosen": [False, True, False, False],
        }
    )
    selected = selected_candidate(selection)
    assert selected["k"] == 5 and selected["chosen"] is True
    assert selected["silhouette"] == 0.42


def test_no_chosen_row_gives_an_empty_selection() -> None:
    assert selected_candidate(pd.DataFrame({"algorithm": ["kmeans"], "chosen": [False]})) == {}
    assert selected_candidate(pd.DataFrame({"algorithm": ["kmeans"]})) == {}

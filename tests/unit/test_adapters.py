from __future__ import annotations

import pandas as pd
import pytest

from segmint.adapters import ADAPTERS, load_source, retail_categories


def test_unknown_source_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        load_source("shopify", None)
    for name in ADAPTERS:
        assert name in str(info.value)


def test_canonical_source_needs_a_path():
    with pytest.raises(ValueError, match="canonical"):
        load_source("canonical", None)


def test_retail_categories_first_keyword_wins_and_service_codes():
    descriptions = pd.Series(
        ["CHRISTMAS CANDLE", "WHITE HANGING HEART T-LIGHT HOLDER", "JUMBO BAG RED", None, "POSTAGE"]
    )
    codes = pd.Series(["1", "85123A", "85099B", "9", "POST"])
    out = retail_categories(descriptions, codes)
    assert out.tolist() == ["seasonal", "lighting", "bags", "other", "service"]
    assert descriptions.iloc[0] == "CHRISTMAS CANDLE"  # inputs untouched

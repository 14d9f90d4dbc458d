"""MLflow pyfunc wrappers: each holds a fitted library object and scores exactly as trained."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel


class SegmenterModel(PythonModel):
    """Customer features → segment_id, segment_name, value_tier (no refitting)."""

    def __init__(self, segmenter: Any) -> None:
        self.segmenter = segmenter

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """The segment of each row of customer features."""
        return self.segmenter.assign(model_input)


class RecommenderModel(PythonModel):
    """Customer ids (optional ``exclude`` lists) → top-N product ids with scores."""

    def __init__(self, recommender: Any, top_n: int) -> None:
        self.recommender = recommender
        self.top_n = top_n

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Top-N recommendations per customer, ids and scores as comma-separated text (``params["n"]``: N)."""
        n = int((params or {}).get("n", self.top_n))
        ids = model_input["customer_id"].astype(str).tolist()
        exclude = None
        if "exclude" in model_input.columns:
            exclude = {
                customer: list(excluded)
                for customer, excluded in zip(ids, model_input["exclude"], strict=True)
                if excluded is not None and len(excluded)
            }
        out = self.recommender.recommend(ids, n, exclude=exclude)
        return out.assign(
            recommended_product_ids=out["recommended_product_ids"].map(lambda v: ",".join(map(str, v))),
            scores=out["scores"].map(lambda v: ",".join(f"{float(s):.6g}" for s in v)),
        )


class UpliftPyfuncModel(PythonModel):
    """Customer features → one row per customer and offer: uplift and response probability."""

    def __init__(self, uplift_model: Any) -> None:
        self.uplift_model = uplift_model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Uplift and response probability per customer and offer."""
        return self.uplift_model.predict(model_input)


class CLVPyfuncModel(PythonModel):
    """Customer features → ``customer_id`` and predicted next-period spend (``predicted_clv``)."""

    def __init__(self, clv_model: Any) -> None:
        self.clv_model = clv_model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """Predicted next-period spend per customer (non-negative)."""
        return self.clv_model.predict(model_input)

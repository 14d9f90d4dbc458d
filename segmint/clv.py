"""Customer lifetime value: next-period spend predicted from point-in-time features."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from segmint.uplift import feature_matrix


@dataclass(frozen=True)
class CLVModel:
    """A fitted next-period spend model."""

    feature_columns: tuple[str, ...]
    model: tuple[lgb.LGBMRegressor, ...]  # fitted with successive seeds; predictions are averaged

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predicted next-period spend per customer.

        Returns:
            ``[customer_id, predicted_clv]`` (non-negative).
        """
        X, _ = feature_matrix(features, list(self.feature_columns))
        return pd.DataFrame(
            {
                "customer_id": features["customer_id"].astype(str).to_numpy(),
                "predicted_clv": np.mean([member.predict(X) for member in self.model], axis=0),
            }
        )


# Past spend never lowers predicted spend: a prior that holds for the biggest spenders too, whose
# totals lie beyond most of the training range.
MONOTONE_INCREASING = ("monetary", "frequency")
# Models averaged over seeds: a few whales sway any single fit, the average much less.
BAGGED_SEEDS = 5


def fit_clv(
    features_train: pd.DataFrame, labels: pd.DataFrame, seed: int, target: str | None = None
) -> CLVModel:
    """Fit LightGBM with a Tweedie loss (many zero spenders, a long right tail) on next-period spend.

    Predicted spend rises with past spend and orders (monotone constraints); 600 trees at a learning
    rate of 0.025, averaged over ``BAGGED_SEEDS`` seeds (on an inner out-of-time split of CDNOW and
    Online Retail, each ranked next-period spend at least as well as 300 trees at 0.05 of one seed,
    and better than adding past spend rates as features).

    Args:
        features_train: ``customer_id`` + numeric features as of the training cutoff.
        labels: ``customer_id`` + the next-period spend column.
        seed: random seed.
        target: label column; None takes the only numeric non-id column, or ``future_spend``.

    Raises:
        ValueError: the target column cannot be determined, or no customer spent in the window.
    """
    if target is None:
        numeric = [
            column
            for column in labels.columns
            if column != "customer_id" and pd.api.types.is_numeric_dtype(labels[column])
        ]
        target = "future_spend" if "future_spend" in numeric else (numeric[0] if len(numeric) == 1 else None)
        if target is None:
            raise ValueError(f"pass target=; label columns are {list(labels.columns)}")
    joined = features_train.assign(customer_id=features_train["customer_id"].astype(str)).merge(
        labels.assign(customer_id=labels["customer_id"].astype(str))[["customer_id", target]].rename(
            columns={target: "_y"}
        ),
        on="customer_id",
        how="left",
    )
    y = joined.pop("_y").fillna(0.0).clip(lower=0.0).to_numpy(dtype=np.float64)
    if not (y > 0).any():
        raise ValueError("no customer spent anything in the label window: there is no CLV to learn")
    X, columns = feature_matrix(joined)
    monotone = [1 if column in MONOTONE_INCREASING else 0 for column in columns]
    models = tuple(
        lgb.LGBMRegressor(
            objective="tweedie",
            n_estimators=600,
            learning_rate=0.025,
            monotone_constraints=monotone,
            num_leaves=15,
            min_child_samples=50,
            subsample=0.8,
            subsample_freq=1,
            n_jobs=1,
            random_state=seed + offset,
            verbose=-1,
        ).fit(X, y)
        for offset in range(BAGGED_SEEDS)
    )
    return CLVModel(tuple(columns), models)

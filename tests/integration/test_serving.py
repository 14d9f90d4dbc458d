"""The champion segmenter and recommender answer over HTTP through `mlflow models serve` on loopback."""

from __future__ import annotations

import json
import urllib.request

import pandas as pd
import pytest

from infra import services

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _invoke(url: str, frame: pd.DataFrame) -> list[dict]:
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}).encode()
    headers = {"content-type": "application/json"}
    req = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=120) as resp:
        answer = json.loads(resp.read())
    return answer["predictions"]


def test_champion_segmenter_and_recommender_answer_over_http(tmp_path, trained_project) -> None:
    tracking = f"sqlite:///{trained_project / 'mlflow.db'}"
    features = pd.read_parquet(trained_project / "data" / "features" / "features.parquet")
    scores = pd.read_parquet(trained_project / "outputs" / "customer_scores.parquet").set_index("customer_id")
    posted = features.sample(5, random_state=0).reset_index(drop=True)

    with services.model_server(
        "models:/segmint-segmenter@champion", tracking, tmp_path / "segmenter.log", cwd=trained_project
    ) as url:
        segments = pd.DataFrame(_invoke(url, posted))
    assert list(segments["customer_id"]) == list(posted["customer_id"])
    expected = scores.loc[posted["customer_id"]]
    assert list(segments["segment_id"]) == list(expected["segment_id"])
    assert list(segments["segment_name"]) == list(expected["segment_name"])

    products = set(pd.read_parquet(trained_project / "data" / "validated" / "products.parquet")["product_id"])
    customers = pd.DataFrame({"customer_id": posted["customer_id"].astype(str)})
    with services.model_server(
        "models:/segmint-recommender@champion", tracking, tmp_path / "recommender.log", cwd=trained_project
    ) as url:
        recs = pd.DataFrame(_invoke(url, customers))
    assert list(recs["customer_id"]) == list(customers["customer_id"])
    for listed in recs["recommended_product_ids"]:
        ids = listed.split(",")
        assert len(ids) == 10 and len(set(ids)) == 10  # recommend.top_n of params.yaml
        assert set(ids) <= products

"""The champion segmenter, recommender and uplift model answer over HTTP through `mlflow models serve`
on loopback."""

from __future__ import annotations

import json
import urllib.request

import pandas as pd
import pytest

from infra import services

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _invoke(url: str, frame: pd.DataFrame, params: dict | None = None) -> list[dict]:
    request = {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}
    body = json.dumps({**request, **({"params": params} if params else {})}).encode()
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
        shorter = pd.DataFrame(_invoke(url, customers, params={"n": 5}))
    assert list(recs["customer_id"]) == list(customers["customer_id"])
    for listed in recs["recommended_product_ids"]:
        ids = listed.split(",")
        assert len(ids) == 10 and len(set(ids)) == 10  # recommend.top_n of params.yaml
        assert set(ids) <= products
    # the signature's params schema takes ``n``: the top 5 of the same ranking
    for five, ten in zip(shorter["recommended_product_ids"], recs["recommended_product_ids"], strict=True):
        assert five.split(",") == ten.split(",")[:5]


def test_champion_uplift_model_answers_over_http(tmp_path, trained_project) -> None:
    tracking = f"sqlite:///{trained_project / 'mlflow.db'}"
    features = pd.read_parquet(trained_project / "data" / "features" / "features.parquet")
    # the campaign scored every customer's features with the same champion
    scored = pd.read_parquet(trained_project / "outputs" / "uplift_scores.parquet")
    posted = features.sample(5, random_state=1).reset_index(drop=True)

    with services.model_server(
        "models:/segmint-uplift@champion", tracking, tmp_path / "uplift.log", cwd=trained_project
    ) as url:
        answer = pd.DataFrame(_invoke(url, posted))
    offers = sorted(set(scored["offer"]))
    assert len(offers) >= 1 and len(answer) == 5 * len(offers)
    assert list(dict.fromkeys(answer["customer_id"])) == list(posted["customer_id"].astype(str))
    expected = scored.astype({"customer_id": str}).set_index(["customer_id", "offer"])
    got = answer.set_index(["customer_id", "offer"])
    pd.testing.assert_frame_equal(
        got[["uplift", "response_probability"]],
        expected.loc[got.index, ["uplift", "response_probability"]],
        rtol=1e-6,
    )

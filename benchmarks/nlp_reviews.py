"""Held-out macro-F1 of the review sentiment model on Amazon 5-core reviews vs a majority baseline.

Texts are ``summary + ". " + reviewText``; exact duplicate texts are dropped before the split so
copies of one review cannot sit on both sides. Stratified 80/20 split per subset and pooled.
Prints a table and writes ``benchmarks/results/nlp_reviews.json``.

Run: ``python -m benchmarks.nlp_reviews``
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from segmint.nlp import fit_sentiment_model, sentiment_classes

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "amazon_reviews_5core"
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 42


def _load(name: str) -> pd.DataFrame:
    df = pd.read_json(DATA / f"{name}_5.json.gz", lines=True)
    text = df["summary"].fillna("").astype(str) + ". " + df["reviewText"].fillna("").astype(str)
    out = pd.DataFrame({"text": text, "rating": df["overall"].astype(int)})
    return out.drop_duplicates("text").reset_index(drop=True)


def evaluate(frame: pd.DataFrame) -> dict[str, float]:
    y = sentiment_classes(frame["rating"])
    tr, te = train_test_split(np.arange(len(frame)), test_size=0.2, random_state=SEED, stratify=y)
    t0 = time.perf_counter()
    model = fit_sentiment_model(frame["text"].iloc[tr], frame["rating"].iloc[tr], seed=SEED)
    fit_s = time.perf_counter() - t0
    pred = model.predict(frame["text"].iloc[te])
    majority = np.full(len(te), pd.Series(y[tr]).mode().iloc[0])
    return {
        "reviews": int(len(frame)),
        "test_reviews": int(len(te)),
        "macro_f1": round(float(f1_score(y[te], pred, average="macro")), 4),
        "majority_macro_f1": round(float(f1_score(y[te], majority, average="macro")), 4),
        "accuracy": round(float((pred == y[te]).mean()), 4),
        "fit_s": round(fit_s, 2),
    }


def main() -> None:
    if not DATA.exists():
        raise SystemExit(f"{DATA} not present")
    subsets = {name: _load(name) for name in ("All_Beauty", "Appliances")}
    subsets["pooled"] = pd.concat(subsets.values(), ignore_index=True)
    result = {name: evaluate(frame) for name, frame in subsets.items()}
    print(f"{'subset':<12} {'reviews':>8} {'macro_f1':>9} {'majority':>9} {'accuracy':>9}")
    for name, r in result.items():
        print(
            f"{name:<12} {r['reviews']:>8} {r['macro_f1']:>9} {r['majority_macro_f1']:>9} {r['accuracy']:>9}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "nlp_reviews.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

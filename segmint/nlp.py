"""Review text: a small offline sentiment model and distinctive keywords.

The sentiment model is TF-IDF (word 1–2-grams) + a linear logistic-loss classifier trained on star
ratings mapped to three classes: negative (≤ 2 stars), neutral (3) and positive (≥ 4). Its score is
``P(positive) − P(negative)``, a sentiment in [-1, 1]. When the training ratings hold only two of
the classes, the model is 2-class and the score keeps the same meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

NEGATIVE, NEUTRAL, POSITIVE = -1, 0, 1
_TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z']+\b"


def sentiment_classes(ratings: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Star ratings as sentiment classes: -1 (≤ 2 stars), 0 (3 stars), 1 (≥ 4 stars).

    Args:
        ratings: Star ratings on the 1–5 scale.

    Returns:
        An int array of classes, one per rating.
    """
    r = np.asarray(ratings, dtype=float)
    return np.where(r >= 4, POSITIVE, np.where(r <= 2, NEGATIVE, NEUTRAL)).astype(int)


def _clean(texts: Sequence[str] | pd.Series | np.ndarray) -> list[str]:
    return ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]


@dataclass(frozen=True)
class SentimentModel:
    """A fitted TF-IDF + linear (logistic loss) sentiment model.

    Attributes:
        pipeline: The fitted scikit-learn pipeline (``tfidf`` → ``clf``).
        classes: The sentiment classes the model was trained on (subset of -1, 0, 1).
    """

    pipeline: Pipeline
    classes: tuple[int, ...]

    def predict(self, texts: Sequence[str] | pd.Series) -> np.ndarray:
        """The most likely sentiment class (-1, 0 or 1) of each text."""
        return np.asarray(self.pipeline.predict(_clean(texts)), dtype=int)

    def score(self, texts: Sequence[str] | pd.Series) -> np.ndarray:
        """A sentiment in [-1, 1] per text: ``P(positive) − P(negative)``."""
        cleaned = _clean(texts)
        if not cleaned:
            return np.zeros(0, dtype=float)
        proba = self.pipeline.predict_proba(cleaned)
        cls = list(self.pipeline.named_steps["clf"].classes_)
        pos = proba[:, cls.index(POSITIVE)] if POSITIVE in cls else 0.0
        neg = proba[:, cls.index(NEGATIVE)] if NEGATIVE in cls else 0.0
        return np.clip(np.asarray(pos - neg, dtype=float), -1.0, 1.0)

    def keywords(self, texts: Sequence[str] | pd.Series, n: int = 10) -> list[str]:
        """The ``n`` terms with the highest mean TF-IDF weight across ``texts``.

        The weights use the vocabulary and IDF learned at fit time, so terms common to every review
        rank low and the result describes what sets these texts apart.
        """
        cleaned = _clean(texts)
        if not cleaned or n <= 0:
            return []
        tfidf: TfidfVectorizer = self.pipeline.named_steps["tfidf"]
        weights = np.asarray(tfidf.transform(cleaned).mean(axis=0)).ravel()
        order = np.argsort(-weights, kind="stable")[:n]
        vocab = tfidf.get_feature_names_out()
        return [str(vocab[i]) for i in order if weights[i] > 0]


@dataclass(frozen=True)
class _TrainingSet:
    """Cleaned texts and their sentiment classes.

    Attributes:
        texts: Review texts, missing ones as "".
        labels: Sentiment class per text.
        classes: The distinct classes, ascending.
    """

    texts: list[str]
    labels: np.ndarray
    classes: tuple[int, ...]


def _training_set(
    texts: Sequence[str] | pd.Series, ratings: Sequence[float] | pd.Series | np.ndarray
) -> _TrainingSet:
    cleaned = _clean(texts)
    labels = sentiment_classes(ratings)
    if len(cleaned) != len(labels):
        raise ValueError(f"texts and ratings differ in length: {len(cleaned)} != {len(labels)}")
    classes = tuple(int(c) for c in np.unique(labels))
    if len(classes) < 2:
        raise ValueError("ratings must span at least two sentiment classes (≤2, 3, ≥4 stars)")
    return _TrainingSet(texts=cleaned, labels=labels, classes=classes)


def _sentiment_pipeline(n_texts: int, seed: int, max_features: int) -> Pipeline:
    """The unfitted TF-IDF → logistic-loss SGD pipeline."""
    tfidf = TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2 if n_texts >= 50 else 1,
        max_df=0.9,
        sublinear_tf=True,
        max_features=max_features,
        token_pattern=_TOKEN_PATTERN,
        strip_accents="unicode",
    )
    # SGD on the logistic loss: the same model as LogisticRegression with a fraction of the fit time
    # on tens of thousands of reviews, and still calibrated-enough probabilities.
    classifier = SGDClassifier(
        loss="log_loss",
        alpha=1e-5,
        class_weight="balanced",
        max_iter=50,
        tol=1e-4,
        random_state=seed,
    )
    return Pipeline([("tfidf", tfidf), ("clf", classifier)])


def fit_sentiment_model(
    texts: Sequence[str] | pd.Series,
    ratings: Sequence[float] | pd.Series | np.ndarray,
    seed: int,
    max_features: int = 50_000,
) -> SentimentModel:
    """Fit a TF-IDF + linear (logistic loss) sentiment model on star-rated texts.

    Classes are balanced in the loss because real review sets are mostly five-star; without it the
    model would rarely predict anything but positive.

    Args:
        texts: Review texts.
        ratings: Star ratings (1–5), one per text.
        seed: Seed for the solver.
        max_features: Vocabulary size cap.

    Returns:
        The fitted :class:`SentimentModel`.

    Raises:
        ValueError: lengths differ, or the ratings hold fewer than two sentiment classes.
    """
    training = _training_set(texts, ratings)
    pipeline = _sentiment_pipeline(len(training.texts), seed, max_features)
    pipeline.fit(training.texts, training.labels)
    return SentimentModel(pipeline=pipeline, classes=training.classes)


def review_keywords(reviews: pd.DataFrame, n: int = 3, by: str = "customer_id") -> pd.DataFrame:
    """The ``n`` most distinctive terms of each group's reviews (log-odds with an informative prior).

    Each group's term counts are set against those of every other group by the weighted log-odds
    ratio with an informative Dirichlet prior (Monroe, Colaresi and Quinn, 2008): the prior is the
    term's share of all reviews, so a term ranks high for a group when the group uses it more than
    the rest do, and rare terms are shrunk towards no difference. Words every group uses alike
    ("good", "delivery") score near zero however frequent they are. English stop words are dropped.

    Args:
        reviews: Frame with a ``text`` column and the grouping column ``by``.
        n: Terms per group.
        by: Column to group by (``customer_id``, ``segment_id``, ...).

    Returns:
        Frame ``[by, keywords]`` with ``keywords`` a ", "-joined string ("" when a group has no
        usable words or no word it uses more than the rest), one row per group present in ``reviews``.
    """
    if by not in reviews.columns or "text" not in reviews.columns:
        raise ValueError(f"reviews needs columns 'text' and {by!r}; found {list(reviews.columns)}")
    groups, uniques = pd.factorize(reviews[by], sort=True)
    keep = groups >= 0
    out_index = pd.Index(uniques, name=by)
    empty = pd.DataFrame({by: out_index, "keywords": [""] * len(out_index)})
    texts = _clean(reviews.loc[keep, "text"])
    if n <= 0 or not any(t.strip() for t in texts):
        return empty
    vectorizer = CountVectorizer(stop_words="english", token_pattern=_TOKEN_PATTERN, strip_accents="unicode")
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words
        return empty
    weights = log_odds_zscores(_pooled_counts(counts, groups[keep], len(uniques)))
    words = _top_terms(weights, vectorizer.get_feature_names_out(), n)
    return pd.DataFrame({by: out_index, "keywords": words})


def _pooled_counts(counts: sp.spmatrix, group_of_text: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """Group × term counts: the texts' term counts summed per group."""
    n_texts = len(group_of_text)
    indicator = sp.csr_matrix(
        (np.ones(n_texts), (group_of_text, np.arange(n_texts))), shape=(n_groups, n_texts)
    )
    return (indicator @ counts).tocsr().astype(float)


def log_odds_zscores(pooled: sp.csr_matrix, prior_strength: float = 100.0) -> sp.csr_matrix:
    """Z-scores of each group's log-odds of each term against all other groups, on the terms it uses.

    The weighted log-odds ratio with an informative Dirichlet prior (Monroe et al., 2008): with
    ``y`` the group's counts, ``r`` the other groups' counts and the prior ``a_w = A * share_w``
    (``A`` = ``prior_strength``, ``share_w`` the term's share of all counts),
    ``delta = log((y+a)/(Y+A-y-a)) - log((r+a)/(R+A-r-a))`` and ``z = delta / sqrt(1/(y+a) + 1/(r+a))``.

    Args:
        pooled: Group × term counts (CSR).
        prior_strength: Total pseudo-count of the prior.

    Returns:
        A CSR matrix of the same sparsity as ``pooled``: the z-score of every term a group uses.
    """
    pooled = pooled.tocsr()
    term_totals = np.asarray(pooled.sum(axis=0)).ravel()
    grand = max(float(term_totals.sum()), 1.0)
    prior = prior_strength * term_totals / grand
    group_totals = np.asarray(pooled.sum(axis=1)).ravel()
    rows = np.repeat(np.arange(pooled.shape[0]), np.diff(pooled.indptr))
    terms, own = pooled.indices, pooled.data
    rest = term_totals[terms] - own
    a = prior[terms]
    own_total, rest_total = group_totals[rows], grand - group_totals[rows]
    delta = np.log((own + a) / (own_total + prior_strength - own - a)) - np.log(
        (rest + a) / np.maximum(rest_total + prior_strength - rest - a, 1e-12)
    )
    z = delta / np.sqrt(1.0 / (own + a) + 1.0 / (rest + a))
    return sp.csr_matrix((z, terms.copy(), pooled.indptr.copy()), shape=pooled.shape)


def _top_terms(weights: sp.csr_matrix, vocab: np.ndarray, n: int) -> list[str]:
    """The ``n`` heaviest terms of each row of ``weights`` with a positive weight, ", "-joined."""
    words: list[str] = []
    for row in range(weights.shape[0]):
        start, end = weights.indptr[row], weights.indptr[row + 1]
        terms, values = weights.indices[start:end], weights.data[start:end]
        terms, values = terms[values > 0], values[values > 0]
        # Ties break alphabetically so the output does not depend on sparse storage order.
        order = np.lexsort((vocab[terms], -values))[:n]
        words.append(", ".join(str(vocab[terms[i]]) for i in order))
    return words

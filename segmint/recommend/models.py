"""Single candidate recommenders: popularity, recent popularity, item-kNN, RP3beta, EASE and ALS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from segmint.recommend.base import Recommender, item_block_size, row_topk_sparse, scores_on_catalogue
from segmint.recommend.interactions import Interactions

KNN_SIMILARITIES: tuple[str, ...] = ("cosine", "bm25")


class PopularityRecommender(Recommender):
    """Bestsellers: per segment when a segment map was given at fit, else overall."""

    name = "popularity"

    def _fit(self, interactions: Interactions) -> None:
        pass

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.segment_popularity_[self.row_segment_[rows]]


class RecentPopularityRecommender(PopularityRecommender):
    """Time-decayed bestsellers, per segment or overall: each buyer counts by the interaction's value.

    Under ``recency_half_life_days`` a purchase counts 0.5 ** (age / half life), so the items bought
    in the last weeks lead; without a half-life it is popularity weighted by the interaction values.
    """

    name = "recent_popularity"

    def _popularity_basis(self, binary: sp.csr_matrix) -> sp.csr_matrix:
        return self.X_


def bm25_weighted(x: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    """BM25 weights of a customers × items matrix, items taken as the documents.

    Customers who buy many items count less (idf); items with many buyers are length-normalised.
    """
    xt = x.T.tocoo()
    n_docs = xt.shape[0]
    idf = np.log(max(n_docs, 1)) - np.log1p(np.bincount(xt.col, minlength=xt.shape[1]))
    lengths = np.asarray(xt.sum(axis=1)).ravel()
    avg = lengths.mean() if lengths.size and lengths.mean() > 0 else 1.0
    norm = (1.0 - b) + b * lengths / avg
    data = xt.data * (k1 + 1.0) / (k1 * norm[xt.row] + xt.data) * idf[xt.col]
    return sp.csr_matrix((data.astype(np.float32), (xt.col, xt.row)), shape=x.shape)


def topk_item_similarity(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    k: int,
    transform: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> sp.csr_matrix:
    """Sparse items × items similarity ``left @ right`` keeping the ``k`` best per row.

    Computed a block of item rows at a time so memory stays bounded for large catalogues;
    ``transform(block, first_row)`` rewrites each dense block before the diagonal is cleared.
    """
    n = left.shape[0]
    blocks = []
    for start in range(0, n, item_block_size(right.shape[1])):
        stop = min(n, start + item_block_size(right.shape[1]))
        dense = np.asarray((left[start:stop] @ right).todense(), dtype=np.float32)
        if transform is not None:
            dense = transform(dense, start)
        dense[np.arange(stop - start), np.arange(start, stop)] = 0.0
        blocks.append(row_topk_sparse(dense, k, start, n))
    return sp.vstack(blocks).tocsr()


class ItemKNNRecommender(Recommender):
    """Item-based k-nearest neighbours (cosine or BM25-weighted dot products), top-k sparse."""

    name = "itemknn"
    reads_history = True

    def _fit(self, interactions: Interactions) -> None:
        s = self.settings
        if s.knn_similarity not in KNN_SIMILARITIES:
            raise ValueError(
                f"unknown knn_similarity {s.knn_similarity!r}; valid: {', '.join(KNN_SIMILARITIES)}"
            )
        x = self.X_
        if s.knn_similarity == "bm25":
            w = bm25_weighted(x, s.bm25_k1, s.bm25_b)
            wt = w.T.tocsr()
            self.similarity_ = topk_item_similarity(wt, w, s.knn_neighbours)
        else:
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
            inv = 1.0 / np.maximum(norms, 1e-12)
            xn = (x @ sp.diags(inv.astype(np.float32))).tocsr()
            self.similarity_ = topk_item_similarity(xn.T.tocsr(), xn, s.knn_neighbours)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return (self.history[rows] @ self.similarity_).toarray()


class RP3BetaRecommender(Recommender):
    """RP3beta: three-step random walk item similarity divided by popularity ** beta (top-k sparse)."""

    name = "rp3beta"
    reads_history = True

    def _fit(self, interactions: Interactions) -> None:
        s = self.settings
        x = (self.X_ > 0).astype(np.float32)
        user_deg = np.asarray(x.sum(axis=1)).ravel()
        item_deg = np.asarray(x.sum(axis=0)).ravel()
        p_ui = (sp.diags(1.0 / np.maximum(user_deg, 1)) @ x).tocsr()
        p_iu = (sp.diags(1.0 / np.maximum(item_deg, 1)) @ x.T).tocsr()
        penalty = np.power(np.maximum(item_deg, 1), -s.rp3_beta).astype(np.float32)

        def walk(dense: np.ndarray, start: int) -> np.ndarray:
            return np.power(dense, s.rp3_alpha) * penalty[None, :]

        w = topk_item_similarity(p_iu, p_ui, s.knn_neighbours, walk)
        row_sum = np.asarray(w.sum(axis=1)).ravel()
        self.similarity_ = (sp.diags(1.0 / np.maximum(row_sum, 1e-12)) @ w).tocsr().astype(np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return (self.history[rows] @ self.similarity_).toarray()


class EASERecommender(Recommender):
    """EASE (Steck 2019): closed-form item × item ridge regression with a zero diagonal.

    The inverse is dense, so only the ``ease_max_items`` most popular items take part; the rest of
    the catalogue ranks after them by popularity. The weights are learnt from the fitted (possibly
    time-decayed) matrix; a customer is scored from their history under ``history_half_life_days``.
    """

    name = "ease"
    reads_history = True

    def _fit(self, interactions: Interactions) -> None:
        s = self.settings
        self._model_popular_items(s.ease_max_items)
        xc = self.X_modelled_
        gram = np.asarray((xc.T @ xc).todense(), dtype=np.float32)
        gram[np.diag_indices_from(gram)] += s.ease_lambda
        # float32 LU inverse: the Gram matrix is well conditioned by lambda and it is twice as fast.
        inverse = scipy.linalg.inv(gram.astype(np.float32), overwrite_a=True, check_finite=False)
        weights = -inverse / np.diag(inverse)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights_ = weights.astype(np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return scores_on_catalogue(self._score_modelled(rows), self.cols_, self.tiebreak_)

    def _score_modelled(self, rows: np.ndarray) -> np.ndarray:
        """Scores over the modelled items ``cols_`` only."""
        return np.asarray(self.history_modelled[rows] @ self.weights_)


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008), fitted by ``implicit``'s CG-ALS.

    Confidence is 1 + ``als_alpha`` × value, solved with ``als_cg_steps`` conjugate-gradient steps
    per row (Takács et al. 2011) for ``als_iterations`` sweeps, factors seeded from ``seed``. Only
    the factors are kept, as numpy arrays.
    """

    name = "als"

    def _fit(self, interactions: Interactions) -> None:
        s = self.settings
        confidence = self.X_.copy()
        confidence.data = (1.0 + s.als_alpha * confidence.data).astype(np.float32)
        # implicit runs its own threads, each calling BLAS: a BLAS thread pool under them oversubscribes.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=s.als_factors,
                regularization=s.als_regularization,
                # implicit's alpha scales the values (C = alpha × value): the confidence comes whole.
                alpha=1.0,
                iterations=s.als_iterations,
                # Every row is solved on its own, so the factors do not depend on the thread count.
                num_threads=0,
                random_state=s.seed,
            )
            model.cg_steps = s.als_cg_steps
            model.fit(confidence, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows] @ self.item_factors_.T

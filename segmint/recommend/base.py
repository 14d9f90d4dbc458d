"""The common recommender interface: fit on interactions, batched top-N with cold start."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from segmint.recommend.interactions import Interactions
from segmint.settings import RecommendSettings

_NO_SEGMENT = -1


def top_n_indices(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest scores of each row, best first.

    A partial selection per row (``torch.topk``: a bounded heap, no full sort and no negated copy),
    about ten times faster than ``np.argpartition`` on wide batches. NaN never ranks first: it
    counts as ``-inf``. ``scores`` is left as it was.
    """
    import torch

    n = min(n, scores.shape[1])
    if n == 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64), np.empty((scores.shape[0], 0), scores.dtype)
    block = torch.from_numpy(np.ascontiguousarray(scores))
    if torch.isnan(block).any():
        block = torch.nan_to_num(block, nan=-np.inf)
    vals, idx = torch.topk(block, n, dim=1, largest=True, sorted=True)
    return idx.numpy(), vals.numpy()


def row_topk_sparse(dense_block: np.ndarray, k: int, row_offset: int, n_rows: int) -> sp.csr_matrix:
    """Keep the ``k`` largest positive entries per row of a dense block as a sparse block."""
    k = min(k, dense_block.shape[1])
    idx, vals = top_n_indices(dense_block, k)
    keep = vals > 0
    rows = np.repeat(np.arange(dense_block.shape[0]), k)[keep.ravel()]
    return sp.csr_matrix(
        (vals[keep].astype(np.float32), (rows, idx[keep])), shape=(dense_block.shape[0], dense_block.shape[1])
    )


def scores_on_catalogue(modelled: np.ndarray, cols: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Scores over the whole catalogue from scores over the modelled columns ``cols`` only.

    Items a model leaves out (it keeps only the most popular) rank after every modelled item of the
    row and among themselves by popularity: each row's lowest modelled score minus one, plus the
    popularity ``tiebreak`` (in [0, 1]). No far-away sentinel, so per-row statistics (the blend's
    z-scores, the tie-break scale) keep the modelled scores' own scale.
    """
    if len(cols) == len(tiebreak):
        return modelled
    floor = modelled.min(axis=1, keepdims=True) - 1.0 if modelled.shape[1] else np.zeros((len(modelled), 1))
    out = (floor + tiebreak[None, :] * 0.5).astype(np.float32)
    out[:, cols] = modelled
    return out


def history_matrix(
    interactions: Interactions, half_life_days: float | str | None, fitted: sp.csr_matrix
) -> sp.csr_matrix:
    """The customers' histories as the item models read them to score: each raw value decayed by
    ``half_life_days`` (None: undecayed), or ``fitted`` itself under ``"fitted"`` or when the
    interactions keep no raw values and ages.

    Item-to-item models (EASE, item-kNN, RP3beta) learn which items go together from ``fitted``,
    decayed to favour recent co-purchases, and score a customer as a weighted sum over their own
    purchases; how those purchases weigh against each other is this separate decay.
    """
    if half_life_days == "fitted" or interactions.raw is None or interactions.ages is None:
        return fitted
    life = None if half_life_days is None else float(half_life_days)
    return interactions.with_half_life(life).matrix.tocsr().astype(np.float32)


def _editable(raw: np.ndarray) -> np.ndarray:
    """``raw`` as float32 that may be edited in place: copied only when the batch does not own it."""
    return np.require(raw, np.float32, ["C_CONTIGUOUS", "WRITEABLE", "OWNDATA"])


def _with_tiebreak(scores: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """``scores`` (edited in place) plus popularity ``tiebreak`` scaled far below each row's scores."""
    # Model scores are finite here (masking comes later), so a plain max is safe and cheap.
    scale = np.maximum(np.abs(scores).max(axis=1, keepdims=True), 1e-12) * 1e-5
    scores += scale * tiebreak[None, :]
    return scores


def item_block_size(n_items: int, budget_cells: int = 16_000_000) -> int:
    """How many item rows fit in a dense block of about ``budget_cells`` cells."""
    return max(1, min(n_items, budget_cells // max(n_items, 1)))


class Recommender:
    """Base class: subclasses implement ``_fit`` and ``_score_rows``.

    After ``fit`` the model keeps the training matrix ``X_`` (to exclude seen items and to score
    known customers), the customers' histories as item models read them to score (``history_``:
    :func:`history_matrix`), overall and per-segment popularity (for cold start) and ``unknown_products``, the
    number of products in the last ``recommend`` call's ``exclude`` that the model does not know.
    """

    name = "base"
    # Item-to-item models score a customer from ``history_``; the others keep the fitted matrix there.
    reads_history = False

    def __init__(self, settings: RecommendSettings) -> None:
        self.settings = settings
        self.unknown_products = 0

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, interactions: Interactions, segments: pd.DataFrame | None = None) -> Self:
        """Fit on ``interactions``; ``segments`` (customer_id, segment_id) drive cold start.

        Returns:
            self, fitted.
        """
        if interactions.shape[1] == 0:
            raise ValueError("cannot fit a recommender on interactions with no items")
        self.customer_ids_ = interactions.customer_ids
        self.item_ids_ = interactions.item_ids
        self.customer_index_ = pd.Index(interactions.customer_ids)
        self.item_index_ = pd.Index(interactions.item_ids)
        self.X_ = interactions.matrix.tocsr().astype(np.float32)
        life = self.settings.history_half_life_days if self.reads_history else "fitted"
        self.history_ = history_matrix(interactions, life, self.X_)
        binary = (self.X_ > 0).astype(np.float32)
        pop = np.asarray(binary.sum(axis=0)).ravel()
        self.popularity_ = pop.astype(np.float32)
        # Normalised popularity, used only as a tie-breaker so equal scores fall back to bestsellers.
        self.tiebreak_ = (pop / max(float(pop.max()), 1.0)).astype(np.float32)
        self._fit_segments(self._popularity_basis(binary), segments)
        self._fit(interactions)
        return self

    def _popularity_basis(self, binary: sp.csr_matrix) -> sp.csr_matrix:
        """What cold-start popularity sums per item: whether each customer bought it."""
        return binary

    def _fit_segments(self, binary: sp.csr_matrix, segments: pd.DataFrame | None) -> None:
        self.segment_codes_: dict[str, int] = {}
        self.segment_of_: dict[str, int] = {}
        rows = np.full(binary.shape[0], _NO_SEGMENT, dtype=np.int64)
        overall = np.asarray(binary.sum(axis=0), dtype=np.float32).ravel()
        seg_pop = [overall]
        if segments is not None and len(segments):
            seg = segments[["customer_id", "segment_id"]].dropna().drop_duplicates("customer_id")
            labels = pd.Index(pd.unique(seg["segment_id"].astype(str)))
            self.segment_codes_ = {lab: i for i, lab in enumerate(labels)}
            codes = labels.get_indexer(seg["segment_id"].astype(str))
            self.segment_of_ = dict(zip(seg["customer_id"].astype(str), codes.tolist(), strict=True))
            pos = self.customer_index_.get_indexer(seg["customer_id"].astype(str))
            rows[pos[pos >= 0]] = codes[pos >= 0]
            onehot = sp.csr_matrix(
                (np.ones(int((rows >= 0).sum()), np.float32), (rows[rows >= 0], np.flatnonzero(rows >= 0))),
                shape=(len(labels), binary.shape[0]),
            )
            seg_pop = [*np.asarray((onehot @ binary).todense(), dtype=np.float32), overall]
        # Last row: overall popularity, for customers with no segment.
        self.segment_popularity_ = np.vstack(seg_pop).astype(np.float32)
        rows[rows == _NO_SEGMENT] = len(self.segment_popularity_) - 1
        self.row_segment_ = rows

    def _fit(self, interactions: Interactions) -> None:
        raise NotImplementedError

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores (len(rows) × items) for known customers at row positions ``rows``.

        Must return a new array (never a model attribute): ``recommend`` edits it in place.
        """
        raise NotImplementedError

    def _cold_scores(self, segment_codes: np.ndarray) -> np.ndarray:
        return self.segment_popularity_[segment_codes]

    def _score_modelled(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores (len(rows) × len(cols_)) over the modelled items ``cols_`` only.

        Implemented by the models that keep only some items (``_model_popular_items``); like
        ``_score_rows`` it must return a new array.
        """
        raise NotImplementedError(f"{type(self).__name__} models every item: use _score_rows")

    # -- scoring -------------------------------------------------------------------------------
    def recommend(
        self,
        customer_ids: Sequence[str],
        n: int,
        exclude: dict[str, list[str]] | pd.DataFrame | None = None,
        exclude_seen: bool = True,
    ) -> pd.DataFrame:
        """Top-``n`` products for each customer, scored in batches of ``settings.batch_size``.

        Customers with no history (unknown ids included) get their segment's bestsellers when a
        segment map was given at fit, else the overall ones. Products in ``exclude`` the model does
        not know are ignored and counted in ``self.unknown_products`` (also ``df.attrs``).

        Args:
            customer_ids: whom to recommend to, in output order.
            n: how many products each.
            exclude: products never to recommend: per customer lists, or a frame of
                (customer_id, product_id) pairs (vectorised; what batch scoring uses).
            exclude_seen: leave out products the customer interacted with in training.

        Returns:
            DataFrame[customer_id, recommended_product_ids (list[str]), scores (list[float])].
        """
        ids = self._fitted_ids(customer_ids)
        excluded, unknown = self._exclusion_matrix(ids, exclude)
        self.unknown_products = unknown
        top = self._top_n(ids, excluded, exclude_seen, min(n, len(self.item_ids_)))
        frame = _recommendation_frame(ids, self.item_ids_, top)
        frame.attrs["unknown_products"] = unknown
        return frame

    def top_positions(self, customer_ids: Sequence[str], n: int, exclude_seen: bool = True) -> np.ndarray:
        """What :meth:`recommend` ranks (no exclusion list), as catalogue positions: -1 where none.

        Returns:
            len(customer_ids) × min(n, items) columns of the fitted matrix, best first; what
            evaluation reads, without building lists of product ids.
        """
        ids = self._fitted_ids(customer_ids)
        top = self._top_n(ids, None, exclude_seen, min(n, len(self.item_ids_)))
        return np.where(np.isfinite(top.scores), top.items, -1)

    def _fitted_ids(self, customer_ids: Sequence[str]) -> np.ndarray:
        """``customer_ids`` as strings, once the model is fitted."""
        if not hasattr(self, "X_"):
            raise ValueError("recommender is not fitted; call fit(interactions) first")
        return np.asarray([str(customer) for customer in customer_ids], dtype=object)

    def _top_n(self, ids: np.ndarray, excluded: sp.csr_matrix | None, exclude_seen: bool, n: int) -> _TopN:
        """Top-``n`` for each of ``ids``, a batch at a time: known customers first, then the others."""
        rows = self.customer_index_.get_indexer(ids) if len(ids) else np.empty(0, dtype=np.int64)
        segment_codes = self._segment_codes(ids)
        items = np.full((len(ids), n), -1, dtype=np.int64)
        scores = np.full(items.shape, -np.inf, dtype=np.float32)
        batch = self.settings.batch_size
        for group, known in ((np.flatnonzero(rows >= 0), True), (np.flatnonzero(rows < 0), False)):
            for start in range(0, len(group), batch):
                positions = group[start : start + batch]
                batch_excluded = excluded[positions] if excluded is not None else None
                if known:
                    top = self._top_known(rows[positions], batch_excluded, exclude_seen, n)
                else:
                    cold = self._cold_scores(segment_codes[positions])
                    top = self._top_catalogue(cold, None, batch_excluded, exclude_seen, n)
                items[positions], scores[positions] = top
        return _TopN(items, scores)

    def _segment_codes(self, ids: np.ndarray) -> np.ndarray:
        """Row of ``segment_popularity_`` for each id: its segment's, else the overall last row."""
        if not len(ids):
            return np.empty(0, dtype=np.int64)
        overall = len(self.segment_popularity_) - 1
        return np.array([self.segment_of_.get(customer, overall) for customer in ids], dtype=np.int64)

    def _top_known(
        self, rows: np.ndarray, excluded: sp.csr_matrix | None, exclude_seen: bool, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` for known customers at row positions ``rows``, by the model's own scores."""
        if not self._restricted():
            return self._top_catalogue(self._score_rows(rows), rows, excluded, exclude_seen, n)
        items, scores = self._top_modelled(rows, excluded, exclude_seen, n)
        # The few rows with fewer than n modelled candidates left are ranked on the whole catalogue.
        short = np.flatnonzero(~np.isfinite(scores).all(axis=1))
        if len(short):
            short_rows = rows[short]
            short_excluded = excluded[short] if excluded is not None else None
            items[short], scores[short] = self._top_catalogue(
                self._score_rows(short_rows), short_rows, short_excluded, exclude_seen, n
            )
        return items, scores

    def _model_popular_items(self, max_items: int) -> np.ndarray:
        """Keep the ``max_items`` most popular items (all when fewer) as ``cols_``, their history
        as ``X_modelled_`` (and ``history_modelled_``); returns ``cols_``."""
        n_items = self.X_.shape[1]
        if n_items > max_items:
            self.cols_ = np.sort(np.argsort(-self.popularity_, kind="stable")[:max_items])
        else:
            self.cols_ = np.arange(n_items)
        self.X_modelled_ = self.X_[:, self.cols_].tocsr()
        same = self.history_ is self.X_
        self.history_modelled_ = self.X_modelled_ if same else self.history_[:, self.cols_].tocsr()
        return self.cols_

    @property
    def history(self) -> sp.csr_matrix:
        """``history_`` (:func:`history_matrix`); the fitted matrix for models saved before it existed."""
        return getattr(self, "history_", self.X_)

    @property
    def history_modelled(self) -> sp.csr_matrix:
        """``history_`` over the modelled items ``cols_`` (the fitted ones for older saved models)."""
        return getattr(self, "history_modelled_", self.X_modelled_)

    def _restricted(self) -> bool:
        """Whether the model scores only some items (``cols_``) and can score just those."""
        cols = getattr(self, "cols_", None)
        return cols is not None and len(cols) < len(self.item_ids_)

    def _masks(
        self, rows: np.ndarray | None, excluded: sp.csr_matrix | None, exclude_seen: bool
    ) -> list[sp.csr_matrix]:
        """Batch × catalogue matrices whose stored entries must not be recommended."""
        masks = [excluded] if excluded is not None else []
        if rows is not None and exclude_seen:
            masks.append(self.X_[rows])
        return masks

    def _top_catalogue(
        self,
        raw: np.ndarray,
        rows: np.ndarray | None,
        excluded: sp.csr_matrix | None,
        exclude_seen: bool,
        n: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` over the whole catalogue of a batch of scores (``rows``: None for cold start)."""
        scores = _with_tiebreak(_editable(raw), self.tiebreak_)
        for mask in self._masks(rows, excluded, exclude_seen):
            mask_rows, mask_items = _stored_entries(mask)
            scores[mask_rows, mask_items] = -np.inf
        return top_n_indices(scores, n)

    def _top_modelled(
        self, rows: np.ndarray, excluded: sp.csr_matrix | None, exclude_seen: bool, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` among the modelled items only (catalogue positions; -inf where too few)."""
        cols = self.cols_
        position = np.full(len(self.item_ids_), -1, dtype=np.int64)
        position[cols] = np.arange(len(cols))
        scores = _with_tiebreak(_editable(self._score_modelled(rows)), self.tiebreak_[cols])
        for mask in self._masks(rows, excluded, exclude_seen):
            mask_rows, mask_items = _stored_entries(mask)
            modelled = position[mask_items]
            scores[mask_rows[modelled >= 0], modelled[modelled >= 0]] = -np.inf
        idx, vals = top_n_indices(scores, min(n, len(cols)))
        if idx.shape[1] < n:  # fewer modelled items than n: the rest come from the catalogue path
            idx = np.pad(idx, ((0, 0), (0, n - idx.shape[1])))
            vals = np.pad(vals, ((0, 0), (0, n - vals.shape[1])), constant_values=-np.inf)
        return cols[idx], vals

    def _exclusion_matrix(
        self, ids: np.ndarray, exclude: dict[str, list[str]] | pd.DataFrame | None
    ) -> tuple[sp.csr_matrix | None, int]:
        """Rows of ``ids`` × known items to leave out, and how many excluded products are unknown."""
        if exclude is None or len(exclude) == 0:
            return None, 0
        if isinstance(exclude, pd.DataFrame):
            pairs = exclude[["customer_id", "product_id"]].astype(str)
        else:
            pairs = pd.DataFrame(
                [
                    (str(customer), str(product))
                    for customer, products in exclude.items()
                    for product in products
                ],
                columns=["customer_id", "product_id"],
            )
        rows = pd.Index(ids).get_indexer(pairs["customer_id"])
        pairs = pairs[rows >= 0]
        rows = rows[rows >= 0]
        if not len(pairs):
            return None, 0
        cols = self.item_index_.get_indexer(pairs["product_id"])
        known = cols >= 0
        matrix = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (rows[known], cols[known])),
            shape=(len(ids), len(self.item_ids_)),
        )
        return matrix, int((~known).sum())


@dataclass(frozen=True)
class _TopN:
    """Catalogue positions (-1 where none) and scores (-inf where none) of each customer's top-n."""

    items: np.ndarray
    scores: np.ndarray


def _stored_entries(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr)), matrix.indices


def _recommendation_frame(ids: np.ndarray, item_ids: np.ndarray, top: _TopN) -> pd.DataFrame:
    """One row per customer: the ids and scores of its recommendations, best first, none missing."""
    valid = np.isfinite(top.scores)
    ends = np.cumsum(valid.sum(axis=1)).tolist()
    return pd.DataFrame(
        {
            "customer_id": ids.astype(str),
            "recommended_product_ids": _row_lists(item_ids[top.items[valid]].astype(str).tolist(), ends),
            "scores": _row_lists(top.scores[valid].astype(float).tolist(), ends),
        }
    )


def _row_lists(flat: list[Any], ends: list[int]) -> list[list[Any]]:
    """``flat`` cut into one list per row, row ``i`` ending before ``ends[i]``.

    List slices cost far less than numpy splits. The cyclic garbage collector is paused meanwhile:
    a million new lists would otherwise set off collections that traverse all of them again and
    again (lists of text hold no cycles).
    """
    starts = [0, *ends[:-1]] if ends else []
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [flat[a:b] for a, b in zip(starts, ends, strict=True)]
    finally:
        if was_enabled:
            gc.enable()

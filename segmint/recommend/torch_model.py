"""A torch contender: Mult-DAE (Liang et al. 2018) over each customer's purchase history."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from segmint.recommend.base import Recommender, scores_on_catalogue
from segmint.recommend.interactions import Interactions


def _sparse_batch(x: sp.csr_matrix, dropout: float, rng: np.random.Generator | None) -> torch.Tensor:
    """Rows of ``x`` as an L2-normalised torch sparse tensor, entries dropped at rate ``dropout``."""
    coo = x.tocoo()
    data = coo.data.astype(np.float32)
    if rng is not None and dropout > 0:
        data = data * (rng.random(len(data)) >= dropout)
    norms = np.sqrt(np.bincount(coo.row, data**2, minlength=x.shape[0]))
    data = data / np.maximum(norms[coo.row], 1e-12)
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(
        idx, torch.from_numpy(data.astype(np.float32)), x.shape, check_invariants=False
    )


class _MultDAE(nn.Module):
    def __init__(self, n_items: int, hidden: int) -> None:
        super().__init__()
        self.enc = nn.Parameter(torch.empty(n_items, hidden))
        self.enc_bias = nn.Parameter(torch.zeros(hidden))
        self.dec = nn.Linear(hidden, n_items)
        nn.init.xavier_uniform_(self.enc)
        nn.init.xavier_uniform_(self.dec.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The input is sparse (a few dozen items per customer): a sparse matmul keeps the encoder cheap.
        h = torch.tanh(torch.sparse.mm(x, self.enc) + self.enc_bias)
        return self.dec(h)


class TorchDAERecommender(Recommender):
    """Mult-DAE on CPU: input dropout, multinomial log-likelihood over items.

    One tanh layer of ``torch_hidden`` units between a sparse input and a softmax over items.

    Training stops at ``torch_max_epochs`` or after ``torch_max_seconds``, whichever comes first;
    seeds come from the settings. Only the ``torch_max_items`` most popular items are modelled.
    """

    name = "torch"

    def _fit(self, interactions: Interactions) -> None:
        s = self.settings
        torch.manual_seed(s.seed)
        rng = np.random.default_rng(s.seed)
        n_items = self.X_.shape[1]
        if n_items > s.torch_max_items:
            cols = np.sort(np.argsort(-self.popularity_, kind="stable")[: s.torch_max_items])
        else:
            cols = np.arange(n_items)
        self.cols_ = cols
        x = self.X_[:, cols].tocsr()
        target_x = (x > 0).astype(np.float32)
        model = _MultDAE(len(cols), s.torch_hidden)
        opt = torch.optim.Adam(model.parameters(), lr=s.torch_lr, weight_decay=s.torch_weight_decay)
        n = x.shape[0]
        started = time.monotonic()
        epochs = 0
        model.train()
        for _ in range(s.torch_max_epochs):
            order = rng.permutation(n)
            for b in range(0, n, s.torch_batch_size):
                rows = order[b : b + s.torch_batch_size]
                xb = _sparse_batch(x[rows], s.torch_dropout, rng)
                target = torch.from_numpy(target_x[rows].toarray())
                loss = -(torch.log_softmax(model(xb), dim=1) * target).sum(dim=1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            epochs += 1
            if time.monotonic() - started > s.torch_max_seconds:
                break
        model.eval()
        self.epochs_ = epochs
        self.model_ = model

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        xb = _sparse_batch(self.X_[rows][:, self.cols_].tocsr(), 0.0, None)
        with torch.no_grad():
            logits = self.model_(xb).numpy()
        return scores_on_catalogue(logits, self.cols_, self.tiebreak_)

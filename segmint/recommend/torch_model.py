"""The torch contender: denoising autoencoders over each customer's purchase history, on CPU.

Two architectures (``torch_architecture``):

- ``linear_dae`` (default): a full-rank item × item linear autoencoder with a zero diagonal,
  trained on dropped-out inputs against the full history with a squared loss and an L2 penalty —
  the denoising linear autoencoder of Steck (NeurIPS 2020, "Autoencoders that don't overfit
  towards the identity"). Dropout teaches each item to be predicted from the *other* items, so it
  learns co-purchase structure rather than the identity; trained here by Adam in mini-batches.
- ``mult_dae``: Mult-DAE (Liang et al. 2018), one tanh layer between a sparse input and a softmax
  over items with a multinomial likelihood.

Training stops at ``torch_max_epochs``, when the loss of held-out customers stops improving, or as
soon as a batch ends past ``torch_max_seconds``, and says which (``stopped_``); seeds come from the
settings. Only the ``torch_max_items`` most popular items are modelled.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from segmint.recommend.base import Recommender, scores_on_catalogue
from segmint.recommend.interactions import Interactions
from segmint.settings import RecommendSettings


def _sparse_batch(
    x: sp.csr_matrix, dropout: float, rng: np.random.Generator | None, normalise: bool
) -> torch.Tensor:
    """Rows of ``x`` as a torch sparse tensor, entries dropped at rate ``dropout``.

    ``normalise`` scales each row to unit L2 norm (Mult-DAE); otherwise kept entries are scaled
    by 1 / (1 − dropout) so the expected input equals the clean one (linear DAE).
    """
    coo = x.tocoo()
    data = coo.data.astype(np.float32)
    if rng is not None and dropout > 0:
        data = data * (rng.random(len(data)) >= dropout)
        if not normalise:
            data = data / (1.0 - dropout)
    if normalise:
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

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -(torch.log_softmax(self(x), dim=1) * target).sum(dim=1).mean()

    def after_step(self) -> None:
        pass


class _LinearDAE(nn.Module):
    """x ↦ x·W with diag(W) = 0 and a squared loss; the L2 term comes from the optimiser.

    Minimises Σ_u ‖x_u − x̃_u W‖² + l2 ‖W‖² (x̃: the dropped-out input; the objective EASE solves
    in closed form without dropout) by mini-batches: the per-customer mean squared error, with
    Adam's coupled weight decay 2 · l2 / customers as the penalty's gradient, and the diagonal
    projected back to zero after every step.
    """

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_items, n_items))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sparse.mm(x, self.weight)

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((self(x) - target) ** 2).sum(dim=1).mean()

    def after_step(self) -> None:
        with torch.no_grad():
            self.weight.fill_diagonal_(0.0)


class TorchDAERecommender(Recommender):
    """A torch denoising autoencoder (``linear_dae`` or ``mult_dae``), trained on CPU in bounded time.

    A seeded tenth of the customers (at least one, when there are ten) is held out: training stops
    once their loss has not improved for ``torch_patience`` epochs (``stopped_ = "early_stopping"``),
    at ``torch_max_epochs`` (``"max_epochs"``), or as soon as a batch ends past
    ``torch_max_seconds`` (``"time_budget"``); the weights kept are those of the best held-out loss.
    """

    name = "torch"

    def _fit(self, interactions: Interactions) -> None:
        s = self.settings
        torch.manual_seed(s.seed)
        rng = np.random.default_rng(s.seed)
        cols = self._model_popular_items(s.torch_max_items)
        self.normalise_ = s.torch_architecture == "mult_dae"
        x = self.X_modelled_
        n = x.shape[0]
        if self.normalise_:
            model: _LinearDAE | _MultDAE = _MultDAE(len(cols), s.torch_hidden)
            decay = s.torch_weight_decay
        else:
            model = _LinearDAE(len(cols))
            decay = s.torch_weight_decay + 2.0 * s.torch_l2 / max(n, 1)
        held_out = rng.permutation(n)[: n // 10]
        train_rows = np.setdiff1d(np.arange(n), held_out)
        opt = torch.optim.Adam(model.parameters(), lr=s.torch_lr, weight_decay=decay)
        self.epochs_, self.stopped_ = _train(model, opt, x, train_rows, held_out, rng, s, self.normalise_)
        model.eval()
        self.model_ = model

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return scores_on_catalogue(self._score_modelled(rows), self.cols_, self.tiebreak_)

    def _score_modelled(self, rows: np.ndarray) -> np.ndarray:
        """Scores over the modelled items ``cols_`` only."""
        xb = _sparse_batch(self.X_modelled_[rows], 0.0, None, self.normalise_)
        with torch.no_grad():
            return self.model_(xb).numpy()


def _held_out_loss(
    model: _LinearDAE | _MultDAE, x: sp.csr_matrix, rows: np.ndarray, normalise: bool
) -> float:
    """The model's loss on the clean histories of ``rows`` (inf when there are none)."""
    if not len(rows):
        return float("inf")
    with torch.no_grad():
        target = torch.from_numpy((x[rows] > 0).astype(np.float32).toarray())
        return float(model.loss(_sparse_batch(x[rows], 0.0, None, normalise), target))


def _train(
    model: _LinearDAE | _MultDAE,
    opt: torch.optim.Optimizer,
    x: sp.csr_matrix,
    train_rows: np.ndarray,
    held_out: np.ndarray,
    rng: np.random.Generator,
    s: RecommendSettings,
    normalise: bool,
) -> tuple[int, str]:
    """Train ``model`` in place within the settings' caps; returns (epochs run, why it stopped).

    The weights of the best held-out loss are restored at the end.
    """
    started = time.monotonic()
    best_loss, best_state, worse, epochs = float("inf"), None, 0, 0
    stopped = "max_epochs"
    while epochs < s.torch_max_epochs and stopped == "max_epochs":
        order = rng.permutation(train_rows)
        for b in range(0, len(order), s.torch_batch_size):
            rows = order[b : b + s.torch_batch_size]
            target = torch.from_numpy((x[rows] > 0).astype(np.float32).toarray())
            loss = model.loss(_sparse_batch(x[rows], s.torch_dropout, rng, normalise), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.after_step()
            if time.monotonic() - started > s.torch_max_seconds:
                stopped = "time_budget"
                break
        epochs += 1
        loss_now = _held_out_loss(model, x, held_out, normalise)
        if loss_now < best_loss:
            best_loss, worse = loss_now, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif stopped != "time_budget":
            worse += 1
            stopped = "early_stopping" if worse >= s.torch_patience else stopped
    if best_state is not None:
        model.load_state_dict(best_state)
    return epochs, stopped

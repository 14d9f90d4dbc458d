"""A torch contender: Mult-VAE (Liang et al. 2018) over each customer's purchase history."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from segmint.recommend.base import Recommender
from segmint.recommend.interactions import Interactions


class _MultVAE(nn.Module):
    def __init__(self, n_items: int, hidden: int, latent: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.enc = nn.Linear(n_items, hidden)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.dec1 = nn.Linear(latent, hidden)
        self.dec2 = nn.Linear(hidden, n_items)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = nn.functional.normalize(x, dim=1)
        h = torch.tanh(self.enc(self.drop(h)))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.dec2(torch.tanh(self.dec1(z))), mu, logvar


class TorchVAERecommender(Recommender):
    """Mult-VAE on CPU: multinomial likelihood over items, KL weight annealed to ``torch_beta``.

    Training stops at ``torch_max_epochs`` or ``torch_max_seconds``, whichever comes first; seeds
    come from the settings. Only the ``torch_max_items`` most popular items are modelled.
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
        model = _MultVAE(len(cols), s.torch_hidden, s.torch_latent, s.torch_dropout)
        opt = torch.optim.Adam(model.parameters(), lr=s.torch_lr)
        n = x.shape[0]
        steps_per_epoch = max(1, int(np.ceil(n / s.torch_batch_size)))
        total_steps = steps_per_epoch * s.torch_max_epochs
        step = 0
        started = time.monotonic()
        model.train()
        for _ in range(s.torch_max_epochs):
            order = rng.permutation(n)
            for b in range(0, n, s.torch_batch_size):
                xb = torch.from_numpy(x[order[b : b + s.torch_batch_size]].toarray())
                logits, mu, logvar = model(xb)
                nll = -(torch.log_softmax(logits, dim=1) * xb).sum(dim=1).mean()
                kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
                beta = s.torch_beta * min(1.0, step / max(1, total_steps // 2))
                loss = nll + beta * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
            if time.monotonic() - started > s.torch_max_seconds:
                break
        model.eval()
        self.epochs_ = step // steps_per_epoch
        self.model_ = model

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        xb = torch.from_numpy(self.X_[rows][:, self.cols_].toarray())
        with torch.no_grad():
            logits = self.model_(xb)[0].numpy()
        if len(self.cols_) == self.X_.shape[1]:
            return logits
        out = np.full((len(rows), self.X_.shape[1]), -1e6, dtype=np.float32) + self.tiebreak_[None, :]
        out[:, self.cols_] = logits
        return out

"""Losses over label slots: focal / BCE for multi-label data, softmax ranking for single-label.

Each is called with logits ``(B, C)``, float targets ``(B, C)`` in [0, 1] and a slot mask
``(B, C)`` (1 where a slot holds a candidate label), and returns the mean over valid slots (or
over rows for the ranking loss), so rows with different numbers of candidates weigh the same per
slot. Configs name them through the ``@losses`` registry (factory.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class FocalLoss:
    """Focal loss: BCE · (1 − p_t)^γ · α_t; γ ≤ 0 or α < 0 turns a factor off, so
    ``FocalLoss(-1, 0)`` is plain BCE."""

    alpha: float = 0.5
    gamma: float = 2.0

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        if self.gamma > 0:
            p = torch.sigmoid(logits)
            p_t = p * targets + (1 - p) * (1 - targets)
            bce = bce * (1 - p_t).pow(self.gamma)
        if self.alpha >= 0:
            bce = bce * (self.alpha * targets + (1 - self.alpha) * (1 - targets))
        m = mask.to(bce.dtype)
        return (bce * m).sum() / m.sum().clamp(min=1.0)


@dataclass(frozen=True)
class SoftmaxLoss:
    """Cross-entropy of the softmax over each row's candidates against its (normalised) gold."""

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = logits.masked_fill(mask == 0, float("-inf"))
        gold = targets * mask
        has_gold = gold.sum(-1) > 0
        if not bool(has_gold.any()):
            return logits.new_zeros(())
        log_probs = torch.log_softmax(logits[has_gold], dim=-1).masked_fill(mask[has_gold] == 0, 0.0)
        weights = gold[has_gold] / gold[has_gold].sum(-1, keepdim=True)
        return -(weights * log_probs).sum(-1).mean()

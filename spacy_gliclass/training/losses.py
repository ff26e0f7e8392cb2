"""Losses over label slots: focal / BCE for multi-label data, softmax ranking for single-label.

All take logits ``(B, C)``, float targets ``(B, C)`` in [0, 1] and a slot mask ``(B, C)`` (1 where a
slot holds a candidate label), and return the mean over valid slots (or over rows for the
ranking loss), so rows with different numbers of candidates weigh the same per slot.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("focal", "bce", "softmax")


def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, alpha: float = 0.5, gamma: float = 2.0
) -> torch.Tensor:
    """Focal loss: BCE · (1 − p_t)^γ · α_t; γ ≤ 0 or α < 0 turns a factor off."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if gamma > 0:
        p = torch.sigmoid(logits)
        p_t = p * targets + (1 - p) * (1 - targets)
        bce = bce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        bce = bce * (alpha * targets + (1 - alpha) * (1 - targets))
    m = mask.to(bce.dtype)
    return (bce * m).sum() / m.sum().clamp(min=1.0)


def bce_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return focal_loss(logits, targets, mask, alpha=-1.0, gamma=0.0)


def softmax_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the softmax over each row's candidates against its (normalised) gold."""
    logits = logits.masked_fill(mask == 0, float("-inf"))
    gold = targets * mask
    has_gold = gold.sum(-1) > 0
    if not bool(has_gold.any()):
        return logits.new_zeros(())
    log_probs = torch.log_softmax(logits[has_gold], dim=-1).masked_fill(mask[has_gold] == 0, 0.0)
    weights = gold[has_gold] / gold[has_gold].sum(-1, keepdim=True)
    return -(weights * log_probs).sum(-1).mean()


def compute_loss(
    name: str, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, alpha: float, gamma: float
) -> torch.Tensor:
    if name == "focal":
        return focal_loss(logits, targets, mask, alpha, gamma)
    if name == "bce":
        return bce_loss(logits, targets, mask)
    if name == "softmax":
        return softmax_loss(logits, targets, mask)
    raise ValueError(f"Unknown loss {name!r}; choose one of {', '.join(LOSSES)}")

"""Advantages for the PPO policy gradient: how much better a sampled decision was than expected.

Rewards are (K, B): K samples of the label decisions for each of B texts. The per-text baselines
(batch mean, leave-one-out) give one advantage per sample, shared by all its label decisions; the
per-label one gives each decision its own, (K, B, C).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def batch_mean_advantage(rewards: torch.Tensor) -> torch.Tensor:
    """Advantage with the batch-mean reward as baseline: ``R − mean(R)``."""
    return rewards - rewards.mean()


def leave_one_out_advantage(rewards: torch.Tensor) -> torch.Tensor:
    """(K, B) rewards of K samples per example → each sample's reward minus the mean of the *same*
    example's other K − 1 samples: an unbiased baseline per text (RLOO)."""
    k = rewards.shape[0]
    return rewards - (rewards.sum(0, keepdim=True) - rewards) / (k - 1)


def per_label_advantage(
    reward_of: Callable[[torch.Tensor], torch.Tensor], probs: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """Each label decision's own advantage, ``(a − p) · (R(a, label on) − R(a, label off))``, (K, B, C).

    With every other decision of the sample held fixed, the label's action is summed out exactly: the
    baseline is the reward expected over that one Bernoulli, ``p·R_on + (1 − p)·R_off``, which does not
    depend on the action it scores, so the policy gradient stays unbiased. A sample-wide advantage
    credits all C decisions of a text with one number; this one tells each label whether *its* choice
    raised the reward, which is what few examples and many labels need. ``reward_of`` maps (N, C)
    actions to (N,) rewards for rows laid out as ``actions`` flattened with one row per flipped slot.
    """
    k, b, c = actions.shape
    eye = torch.eye(c, dtype=actions.dtype, device=actions.device)
    each = actions.unsqueeze(2).expand(k, b, c, c)  # [k, b, slot, :] = the sample, to flip at `slot`
    r_on = reward_of(torch.maximum(each, eye).reshape(-1, c)).reshape(k, b, c)
    r_off = reward_of((each * (1 - eye)).reshape(-1, c)).reshape(k, b, c)
    return (actions - probs.unsqueeze(0)) * (r_on - r_off)


def normalize_advantages(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale to unit standard deviation (no-op for a single example or a constant batch)."""
    if advantages.numel() < 2:
        return advantages
    return advantages / (advantages.std(unbiased=False) + eps)

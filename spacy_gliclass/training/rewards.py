"""Rewards for multi-label PPO, registered in spaCy's ``misc`` registry so a config can pick them.

Every reward is built by a registered factory and has the signature
``reward(probs, actions, targets, mask) -> (B,)``: ``probs`` the policy's sigmoid scores (B, C),
``actions`` the sampled 0/1 decisions (B, C), ``targets`` (B, C) and ``mask`` the model's slot mask
(B, C, 1 where a slot holds a candidate label).

Targets encode what is known about each candidate: ``1.0`` gold (or accepted by a person), ``0.0``
not gold (or rejected), ``-1.0`` never judged (``UNJUDGED``). Gold-labelled data judges every
candidate; feedback data judges only the labels a person said yes/no to. Unjudged slots never
count in a reward.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from spacy.util import registry

UNJUDGED = -1.0
RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def judged_mask(targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Float (B, C) mask of slots that hold a label *and* carry a judgement."""
    return (mask > 0).to(targets.dtype) * (targets >= 0).to(targets.dtype)


def f1_reward(probs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-example set F1 of the sampled labels against the gold labels: 2TP / (2TP + FP + FN).

    An example with no gold label and no sampled label scores 1.0 (both sets empty agree).
    """
    judged = judged_mask(targets, mask)
    act = actions.to(targets.dtype) * judged
    gold = (targets > 0.5).to(targets.dtype) * judged
    tp = (act * gold).sum(-1)
    denominator = act.sum(-1) + gold.sum(-1)
    return torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1e-8), torch.ones_like(tp))


def accuracy_reward(
    probs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Per-example fraction of judged slots where the action equals the gold decision."""
    judged = judged_mask(targets, mask)
    gold = (targets > 0.5).to(targets.dtype)
    agree = (actions.to(targets.dtype) == gold).to(targets.dtype) * judged
    return agree.sum(-1) / judged.sum(-1).clamp(min=1.0)


def make_feedback_reward(unsampled_weight: float = 0.0) -> RewardFn:
    """Reward from yes/no judgements on proposed labels (targets 1 accepted, 0 rejected, -1 unjudged).

    Per example: (+1 per sampled accepted label, −1 per sampled rejected label,
    ``unsampled_weight`` × (+1 per *unsampled* rejected label, −1 per unsampled accepted label))
    divided by the number of judged labels; examples without judgements get 0.

    ``unsampled_weight = 0`` (the default) only scores what the policy proposes, which is exactly
    what a person judged: they said nothing about labels they were not shown. A small positive
    value (e.g. 0.1) adds a symmetric term that also rewards leaving out rejected labels and
    penalises leaving out accepted ones, which keeps the policy from learning to propose nothing
    once most proposals are rejected.
    """

    def feedback_reward(
        probs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        judged = judged_mask(targets, mask)
        act = actions.to(targets.dtype) * judged
        sign = torch.where(targets > 0.5, 1.0, -1.0).to(targets.dtype) * judged  # +1 accepted, -1 rejected
        sampled = (act * sign).sum(-1)
        unsampled = ((judged - act) * -sign).sum(-1)
        return (sampled + unsampled_weight * unsampled) / judged.sum(-1).clamp(min=1.0)

    return feedback_reward


@registry.misc("spacy-gliclass.f1_reward.v1")
def create_f1_reward() -> RewardFn:
    return f1_reward


@registry.misc("spacy-gliclass.accuracy_reward.v1")
def create_accuracy_reward() -> RewardFn:
    return accuracy_reward


@registry.misc("spacy-gliclass.feedback_reward.v1")
def create_feedback_reward(unsampled_weight: float = 0.0) -> RewardFn:
    return make_feedback_reward(unsampled_weight)


def combine_rewards(
    rewards: dict[str, RewardFn],
    weights: dict[str, float],
    probs: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the rewards (B,), and each reward's batch mean for logging."""
    total = torch.zeros(probs.shape[0], dtype=probs.dtype, device=probs.device)
    means: dict[str, float] = {}
    for name, fn in rewards.items():
        value = fn(probs, actions, targets, mask).to(total.dtype)
        means[name] = float(value.mean())
        total = total + float(weights.get(name, 1.0)) * value
    return total, means

"""Early stopping on a dev set: keep the best weights seen, the start model's included.

A dev score is a mean over a few dozen or hundred rows, and a model that beats the start by one or
two rows has most likely won by chance. With per-row scores and ``gain_z > 0`` a model replaces the
start only when its paired gain clears ``gain_z`` standard errors of a sign-flip test, which is what
keeps PPO from feedback (a few judged texts) from handing back a model worse than it got.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..modeling import GLiClassModel

DevScore = Callable[[GLiClassModel], "float | torch.Tensor"]


def paired_gain_bound(start: torch.Tensor, now: torch.Tensor, z: float) -> float:
    """Lower bound of the mean per-row gain of ``now`` over ``start``: ``(Σd − z·√Σd²) / n``, ``d = now − start``.

    Under "no real difference" each row's difference is as likely to be +d as −d, so Σd has variance
    Σd² (the sign-flip test); for right/wrong rows this is the sign test: rows only ``now`` gets right,
    minus rows only ``start`` did, less z·√(both). With z = 0 it is the plain difference of the means.
    """
    d = (now.double() - start.double()).flatten()
    if d.numel() == 0:
        return 0.0
    return float((d.sum() - z * math.sqrt(float((d * d).sum()))) / d.numel())


class BestOnDev:
    """Scores the model when asked, keeps the weights of the best score so far (step 0: the start).

    ``dev_score`` returns a number (higher is better) or one score per dev row; with rows and
    ``gain_z > 0`` a model counts as better only when its :func:`paired_gain_bound` over the start beats
    the best one's. Patience counts the evaluations whose plain mean is no higher than any before: a
    gain too small to be sure of yet still says training is going somewhere. The scores reported stay
    the plain means either way.
    """

    def __init__(self, model: GLiClassModel, dev_score: DevScore, gain_z: float = 0.0) -> None:
        self.model, self.dev_score, self.gain_z = model, dev_score, gain_z
        first = dev_score(model)
        self.start_rows = first if isinstance(first, torch.Tensor) else None
        self.start_mean = self.best = self.highest = _mean(first)
        self.best_bound = 0.0
        self.best_step, self.evaluations_without_gain = 0, 0
        self.state = self._copy()

    def _copy(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def score(self, step: int) -> float:
        """Score the model as it is at ``step``; keep its weights if it is the best so far."""
        value = self.dev_score(self.model)
        mean = _mean(value)
        if self.start_rows is not None and isinstance(value, torch.Tensor):
            bound = paired_gain_bound(self.start_rows, value, self.gain_z)
        else:
            bound = mean - self.start_mean
        if bound > self.best_bound:
            self.best, self.best_bound, self.best_step, self.state = mean, bound, step, self._copy()
        self.evaluations_without_gain = 0 if mean > self.highest else self.evaluations_without_gain + 1
        self.highest = max(self.highest, mean)
        return mean

    def restore(self) -> None:
        """Put the best weights back."""
        self.model.load_state_dict(self.state)
        self.model.eval()


def _mean(value: float | torch.Tensor) -> float:
    return float(value.double().mean()) if isinstance(value, torch.Tensor) else float(value)

"""Weight-space interpolation between a fine-tuned model and the model it started from.

Fine-tuning on a few thousand examples moves the encoder towards the training label sets and away
from what made the start model a good zero-shot classifier elsewhere. Averaging the two weight sets
(``start + alpha * (tuned - start)``, as in WiSE-FT) keeps most of the gain on data like the
training data and most of the start's robustness on the rest.
"""

from __future__ import annotations

import torch

from ..errors import Errors, GLiClassError
from ..modeling import GLiClassModel


@torch.no_grad()
def interpolate_weights(tuned: GLiClassModel, start: GLiClassModel, alpha: float, start_name: str = "") -> None:
    """Set ``tuned``'s weights to ``start + alpha * (tuned - start)``, in place."""
    if not 0.0 <= alpha <= 1.0:
        raise GLiClassError(Errors.E068.format(alpha=alpha))
    ours, theirs = tuned.state_dict(), start.state_dict()
    if set(ours) != set(theirs):
        diff = sorted(set(ours) ^ set(theirs))
        raise GLiClassError(Errors.E069.format(start=start_name, what=f"parameter names ({', '.join(diff[:5])})"))
    for name, value in ours.items():
        other = theirs[name].to(value.device)
        if other.shape != value.shape:
            raise GLiClassError(Errors.E069.format(start=start_name, what=f"the shape of {name}"))
        if value.is_floating_point():
            value.copy_(other + alpha * (value - other))
    tuned.clear_label_cache()

"""The prototype rule: few-shot examples for a bi-encoder, with no training.

A bi-encoder scores a text by the similarity of its vector to each label's vector. Examples move
a label's vector towards the texts that show it::

    prototype = (1 − w) · label_vector + w · mean(vectors of the label's example texts)

rescaled to the label vector's norm (unit for ``normalize_features`` models), so the logit scale
and bias the model was calibrated with still apply. A label without examples keeps its vector;
``w = 0`` is zero-shot, ``w = 1`` nearest-class-mean on the examples alone.
"""

from __future__ import annotations

import torch


def mix_prototypes(
    label_vectors: torch.Tensor, example_vectors: torch.Tensor, membership: torch.Tensor, weight: float
) -> torch.Tensor:
    """(P, H) prototypes from (P, H) label vectors, (E, H) example text vectors and the (P, E) 0/1
    matrix of which examples show which prototype's label."""
    membership = membership.to(example_vectors.dtype)
    counts = membership.sum(-1, keepdim=True)
    mean = membership @ example_vectors / counts.clamp(min=1.0)
    mixed = (1.0 - weight) * label_vectors + weight * mean
    scale = label_vectors.norm(dim=-1, keepdim=True) / mixed.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    return torch.where(counts > 0, mixed * scale, label_vectors)

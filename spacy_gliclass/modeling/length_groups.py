"""Encode a batch's rows in groups of similar length, each group cut to its own longest row.

On a CPU a padded position costs as much as a real token, and a training batch is mostly padding:
16 texts of mixed lengths padded to the longest, and the short label rows (bare names and
templates) padded together. Over 60 batches of the training mixture (16 texts, their candidates'
two label views) that is 120k real tokens and 288k padded; in four length groups, 160k. Rows
attend only to their own tokens, so grouping changes no output beyond float rounding (dropout, on
in training, draws its masks per call: a grouped training run is another draw of the same recipe).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

# A call's fixed cost in tokens: a group is split off only where it saves more padding than this.
CALL_OVERHEAD_TOKENS = 32


def length_groups(lengths: Sequence[int], overhead: int = CALL_OVERHEAD_TOKENS) -> list[list[int]]:
    """Row indices in groups that minimise Σ (rows × longest row) + ``overhead`` per group.

    The best groups are runs of the rows sorted by length, cut where the length changes, so a
    dynamic programme over those cuts finds them exactly (a few dozen distinct lengths at most).
    """
    if not lengths:
        return []
    if len(lengths) * max(lengths) - sum(lengths) <= overhead:
        return [list(range(len(lengths)))]  # less padding than a call costs (sorted inference batches)
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    ordered = [lengths[i] for i in order]
    cuts = [0] + [i + 1 for i in range(len(ordered)) if i + 1 == len(ordered) or ordered[i + 1] != ordered[i]]
    best = [0.0] + [float("inf")] * (len(cuts) - 1)
    back = [0] * len(cuts)
    for b in range(1, len(cuts)):
        for a in range(b):
            cost = best[a] + (cuts[b] - cuts[a]) * ordered[cuts[b] - 1] + overhead
            if cost < best[b]:
                best[b], back[b] = cost, a
    groups = []
    b = len(cuts) - 1
    while b > 0:
        groups.append(order[cuts[back[b]] : cuts[b]])
        b = back[b]
    return groups[::-1]


def encode_by_length(
    encode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
) -> torch.Tensor:
    """``encode(input_ids, attention_mask)`` row for row, run on length groups (see the module
    docstring); ``encode`` maps (N, T) ids and mask to (N, ...) and treats rows independently."""
    if input_ids.shape[0] == 0:
        return encode(input_ids, attention_mask)
    positions = torch.arange(1, attention_mask.shape[1] + 1, device=attention_mask.device)
    ends = (attention_mask.bool() * positions).amax(-1).clamp(min=1)  # last real token + 1, either padding side
    groups = length_groups(ends.tolist())
    if len(groups) == 1:
        width = int(ends.max())
        return encode(input_ids[:, :width], attention_mask[:, :width])
    outputs, rows = [], []
    for group in groups:
        index = torch.tensor(group, dtype=torch.long, device=input_ids.device)
        width = int(ends[index].max())
        outputs.append(encode(input_ids[index, :width], attention_mask[index, :width]))
        rows.append(index)
    order = torch.cat(rows)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.shape[0], device=order.device)
    return torch.cat(outputs)[inverse]

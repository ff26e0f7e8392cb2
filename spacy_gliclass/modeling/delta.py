"""Low-rank weight deltas: LoRA adapters for training, compact deltas for shipping a trained model.

A model trained from the embedded encoder differs from it in a few million numbers, not in its 90
MB of weights. Two tools work on that difference:

- ``add_lora`` swaps the encoder's ``nn.Linear`` layers for :class:`LoRALinear` (frozen weight +
  a trainable rank-r update ``B @ A``, B starting at zero so step 0 is the start model) and freezes
  the rest of the encoder. Training only the update is cheaper and keeps the model close to its
  start (a regulariser against losing zero-shot skill). ``merged_state_dict`` folds the updates
  into plain weights, so every saved checkpoint or pipeline is an ordinary model.
- ``compute_delta`` / ``apply_delta`` turn a trained model into a small file of tensors relative
  to its start model: a truncated SVD (rank r) of each changed weight matrix, and the full values
  of the other changed tensors (heads, biases, norms, logit scale). The package ships its trained
  default this way, on top of the encoder that another package ships.
- ``quantize_rows`` / ``dequantize`` store a delta's matrices as int8 with one scale per row:
  half the bytes of fp16, for an error far below what training moves (a row's largest value / 254).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

LORA_A = ".lora_A"
LORA_B = ".lora_B"
# An int8 matrix's per-row scales are stored under its key plus this suffix.
ROW_SCALE = ".row_scale"
# Tensors this small are stored whole in a delta, not factorised.
MIN_FACTORISED_SIZE = 4096
# Only the (large, pretrained) encoders' matrices are factorised.
ENCODER_PREFIXES = ("encoder_model.", "label_encoder.")


class LoRALinear(nn.Linear):
    """``nn.Linear`` plus a trainable low-rank update: ``y = x W^T + b + s · x A^T B^T``.

    A subclass, not a wrapper, so its frozen ``weight``/``bias`` keep their state-dict names."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None)
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.scaling = alpha / rank
        self.lora_A = nn.Parameter(base.weight.new_empty(rank, base.in_features))
        self.lora_B = nn.Parameter(base.weight.new_zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        return self.weight + (self.lora_B @ self.lora_A) * self.scaling


def add_lora(module: nn.Module, rank: int, alpha: float | None = None) -> int:
    """Freeze ``module`` (an encoder) and give each of its ``nn.Linear`` layers a LoRA update.

    Returns the number of layers adapted. ``alpha`` defaults to ``rank`` (scaling 1)."""
    module.requires_grad_(False)
    targets = [
        (parent, child_name, child)
        for parent in module.modules()
        for child_name, child in parent.named_children()
        if type(child) is nn.Linear
    ]
    for parent, child_name, child in targets:
        setattr(parent, child_name, LoRALinear(child, rank, float(alpha or rank)))
    return len(targets)


def has_lora(module: nn.Module) -> bool:
    return any(isinstance(m, LoRALinear) for m in module.modules())


def merged_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` with every LoRA update folded into its weight (plain key names)."""
    state = module.state_dict()
    for name, sub in module.named_modules():
        if isinstance(sub, LoRALinear):
            prefix = f"{name}." if name else ""
            state[prefix + "weight"] = sub.merged_weight().detach()
            del state[prefix + "lora_A"], state[prefix + "lora_B"]
    return state


def low_rank(delta: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors ``(A, B)`` with ``B @ A`` the best rank-``rank`` approximation of ``delta`` (SVD)."""
    u, s, vh = torch.linalg.svd(delta.float(), full_matrices=False)
    root = s[:rank].sqrt()
    return root.unsqueeze(1) * vh[:rank], u[:, :rank] * root.unsqueeze(0)


def compute_delta(
    tuned: dict[str, torch.Tensor],
    start: dict[str, torch.Tensor],
    rank: int,
    dtype: torch.dtype = torch.float16,
    skip: Iterable[str] = (),
    min_size: int = MIN_FACTORISED_SIZE,
    factorise: tuple[str, ...] = ENCODER_PREFIXES,
) -> dict[str, torch.Tensor]:
    """What turns ``start`` into (approximately) ``tuned``: rank-``rank`` factors of each changed
    encoder weight matrix (``key.lora_A``/``key.lora_B``; keys starting with ``factorise``), the
    full value of every other changed encoder tensor, and every head tensor whole (the heads are
    small, and an untrained head may be random). Unchanged encoder tensors are left out; so are
    keys in ``skip``. Matrices under ``min_size`` numbers are stored whole (factors would not be
    smaller)."""
    skipped = set(skip)
    out: dict[str, torch.Tensor] = {}
    for key, value in tuned.items():
        if key in skipped or not value.is_floating_point():
            continue
        encoder = key.startswith(factorise)
        if encoder and torch.equal(value, start[key]):
            continue
        if encoder and value.ndim == 2 and value.numel() >= min_size and rank < min(value.shape):
            a, b = low_rank(value - start[key], rank)
            out[key + LORA_A], out[key + LORA_B] = a.to(dtype).contiguous(), b.to(dtype).contiguous()
        else:
            out[key] = value.to(dtype).contiguous()
    return out


def quantize_rows(delta: dict[str, torch.Tensor], min_size: int = MIN_FACTORISED_SIZE) -> dict[str, torch.Tensor]:
    """``delta`` with each matrix of at least ``min_size`` numbers stored as int8 (symmetric, one
    fp32 scale per row under ``key + ROW_SCALE``); vectors and scalars are kept as they are."""
    out: dict[str, torch.Tensor] = {}
    for key, value in delta.items():
        if value.ndim != 2 or value.numel() < min_size:
            out[key] = value
            continue
        rows = value.float()
        scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
        out[key] = torch.round(rows / scale).to(torch.int8).contiguous()
        out[key + ROW_SCALE] = scale.squeeze(1).contiguous()
    return out


def dequantize(delta: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float delta of ``quantize_rows`` (a delta without int8 matrices is returned as it is)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in delta.items():
        if key.endswith(ROW_SCALE):
            continue
        scale = delta.get(key + ROW_SCALE)
        out[key] = value if scale is None else value.float() * scale.float().unsqueeze(1)
    return out


@torch.no_grad()
def apply_delta(state: dict[str, torch.Tensor], delta: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (the start model's tensors) with ``delta`` (float, or int8 from
    ``quantize_rows``) applied; raises KeyError on a key the start model does not have."""
    delta = dequantize(delta)
    out = dict(state)
    for key, value in delta.items():
        if key.endswith(LORA_B):
            continue
        if key.endswith(LORA_A):
            name = key[: -len(LORA_A)]
            update = delta[name + LORA_B].float() @ value.float()
            out[name] = (state[name].float() + update).to(state[name].dtype)
        else:
            out[key] = value.to(state[key].dtype).reshape(state[key].shape)
    return out

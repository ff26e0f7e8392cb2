"""Building blocks of GLiClass heads: poolings, projectors, scorers, layer-wise attention, LSTM.

State-dict names and shapes follow the upstream checkpoints (gliclass 0.1.21), so a
published checkpoint loads into these modules unchanged. Poolings take a mask: upstream pools over
the padded length, which makes its scores depend on what else is in the batch; pooling over the
row's own positions gives upstream's scores for a text scored alone, whatever the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import Errors, GLiClassError
from .config import POOLINGS, SCORERS, GLiClassConfig


def _activation(name: str) -> nn.Module:
    from transformers.activations import ACT2FN

    return ACT2FN[name]


def pool(strategy: str, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Pool token states ``x`` (B, T, H) over the positions where ``mask`` (B, T) is 1.

    ``pass`` returns ``x`` unchanged (the cross-attention scorer reads the whole sequence).
    """
    if strategy == "pass":
        return x
    if strategy == "first":
        return x[:, 0]
    m = mask.to(x.dtype).unsqueeze(-1)
    count = m.sum(1).clamp(min=1.0)
    if strategy == "last":
        last = (mask.long().sum(1) - 1).clamp(min=0)
        return x[torch.arange(x.shape[0], device=x.device), last]
    if strategy == "avg":
        return (x * m).sum(1) / count
    if strategy == "sum":
        return (x * m).sum(1)
    if strategy == "rms":
        return ((x.pow(2) * m).sum(1) / count).sqrt()
    if strategy == "max":
        return x.masked_fill(m == 0, torch.finfo(x.dtype).min).amax(1)
    if strategy == "abs_max":
        return (x.abs() * m).amax(1)
    if strategy == "abs_avg":
        return (x.abs() * m).sum(1) / count
    raise GLiClassError(Errors.E015.format(what="pooling strategy", value=strategy, supported=", ".join(POOLINGS)))


class FeaturesProjector(nn.Module):
    """Two-layer MLP ``in → hidden → out`` (upstream ``FeaturesProjector``/``BiEncoderProjector``).

    With ``residual`` the output is ``x + MLP(x)``: with ``linear_2`` at zero it starts as the
    identity, which keeps a pretrained sentence-embedding geometry intact at step 0.
    """

    def __init__(
        self,
        in_size: int,
        hidden_size: int,
        out_size: int,
        activation: str = "gelu",
        dropout: float = 0.0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_size, hidden_size)
        self.act = _activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.linear_2 = nn.Linear(hidden_size, out_size)
        self.residual = residual and in_size == out_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear_2(self.dropout(self.act(self.linear_1(x))))
        return x + out if self.residual else out

    def reset_to_identity(self) -> None:
        """Zero the output layer so that a residual projector is exactly the identity."""
        nn.init.zeros_(self.linear_2.weight)
        nn.init.zeros_(self.linear_2.bias)


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class DotScorer(nn.Module):
    """``logit = <text, label>`` (upstream ``simple``)."""

    def forward(self, text: torch.Tensor, labels: torch.Tensor, **_: object) -> torch.Tensor:
        return torch.einsum("bd,bcd->bc", text, labels)


class MLPScorer(nn.Module):
    """MLP over ``[text; label]``; upstream always uses 256 hidden units here."""

    def __init__(self, hidden_size: int, mlp_hidden_size: int = 256) -> None:
        super().__init__()
        self.mlp = _mlp([2 * hidden_size, mlp_hidden_size, mlp_hidden_size // 2, 1], nn.ReLU)

    def forward(self, text: torch.Tensor, labels: torch.Tensor, **_: object) -> torch.Tensor:
        text = text.unsqueeze(1).expand(-1, labels.shape[1], -1)
        return self.mlp(torch.cat([text, labels], dim=-1)).squeeze(-1)


class WeightedDotScorer(nn.Module):
    """Projects both sides to two halves and scores ``[t0; l0; t1 * l1]`` with an MLP."""

    def __init__(self, hidden_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.proj_text = nn.Linear(hidden_size, 2 * hidden_size)
        self.proj_label = nn.Linear(hidden_size, 2 * hidden_size)
        self.out_mlp = nn.Sequential(
            nn.Linear(3 * hidden_size, 4 * hidden_size), nn.Dropout(dropout), nn.ReLU(), nn.Linear(4 * hidden_size, 1)
        )

    def forward(self, text: torch.Tensor, labels: torch.Tensor, **_: object) -> torch.Tensor:
        t0, t1 = self.proj_text(text).unsqueeze(1).expand(-1, labels.shape[1], -1).chunk(2, dim=-1)
        l0, l1 = self.proj_label(labels).chunk(2, dim=-1)
        return self.out_mlp(torch.cat([t0, l0, t1 * l1], dim=-1)).squeeze(-1)


class HopfieldScorer(nn.Module):
    """One Hopfield update of the label vectors towards the text (β = 4), then an MLP per label."""

    def __init__(self, hidden_size: int, mlp_hidden_size: int = 256, beta: float = 4.0) -> None:
        super().__init__()
        self.q_proj = nn.Linear(hidden_size, hidden_size, bias=False)
        self.k_proj = nn.Linear(hidden_size, hidden_size, bias=False)
        self.v_proj = nn.Linear(hidden_size, hidden_size, bias=False)
        self.mlp = _mlp([hidden_size, mlp_hidden_size, mlp_hidden_size // 2, 1], nn.ReLU)
        self.beta = beta

    def forward(
        self, text: torch.Tensor, labels: torch.Tensor, label_mask: torch.Tensor | None = None, **_: object
    ) -> torch.Tensor:
        query = self.q_proj(labels)  # (B, C, H)
        key = self.k_proj(text).unsqueeze(-1)  # (B, H, 1)
        attn = torch.bmm(query, key).squeeze(-1) * self.beta  # (B, C)
        if label_mask is not None:  # padded label slots take no share of the softmax
            attn = attn.masked_fill(label_mask == 0, float("-inf"))
        attn = attn.softmax(dim=1).unsqueeze(-1)
        labels = labels + attn * self.v_proj(text).unsqueeze(1)
        return self.mlp(labels).squeeze(-1)


class CrossAttnScorer(nn.Module):
    """Each label vector attends over the text tokens; an MLP scores ``[context; label]``."""

    def __init__(self, hidden_size: int, num_heads: int = 16, mlp_hidden_size: int = 1024, dropout: float = 0.1):
        super().__init__()
        if hidden_size % num_heads:
            raise GLiClassError(Errors.E017.format(num_heads=num_heads, hidden_size=hidden_size))
        self.num_heads = num_heads
        self.attn_dropout = dropout
        self.q_norm = nn.LayerNorm(hidden_size)
        self.kv_norm = nn.LayerNorm(hidden_size)
        self.q = nn.Linear(hidden_size, hidden_size)
        self.k = nn.Linear(hidden_size, hidden_size)
        self.v = nn.Linear(hidden_size, hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.score_mlp = _mlp([2 * hidden_size, mlp_hidden_size, mlp_hidden_size // 2, 1], nn.GELU)

    def forward(
        self, text: torch.Tensor, labels: torch.Tensor, text_mask: torch.Tensor | None = None, **_: object
    ) -> torch.Tensor:
        b, c, h = labels.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(b, -1, self.num_heads, h // self.num_heads).transpose(1, 2)

        q = heads(self.q(self.q_norm(labels)))
        k = heads(self.k(self.kv_norm(text)))
        v = heads(self.v(text))
        mask = None if text_mask is None else text_mask[:, None, None, :].bool()
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attn_dropout if self.training else 0.0
        )
        ctx = self.norm(self.out(ctx.transpose(1, 2).reshape(b, c, h)))
        return self.score_mlp(torch.cat([ctx, labels], dim=-1)).squeeze(-1)


def build_scorer(config: GLiClassConfig) -> nn.Module:
    hidden = int(config.hidden_size)
    kind = config.scorer_type
    if kind == "simple":
        return DotScorer()
    if kind == "mlp":
        return MLPScorer(hidden)
    if kind == "weighted-dot":
        return WeightedDotScorer(hidden)
    if kind == "hopfield":
        return HopfieldScorer(hidden)
    if kind == "cross-attn":
        return CrossAttnScorer(
            hidden, config.scorer_num_heads, config.scorer_mlp_hidden_size, config.scorer_attn_dropout
        )
    raise GLiClassError(Errors.E015.format(what="scorer", value=kind, supported=", ".join(SCORERS)))


class LayerwiseAttention(nn.Module):
    """Squeeze-excitation over the backbone's hidden states (upstream ``squeeze_layers``)."""

    def __init__(self, num_layers: int, hidden_size: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.squeeze = nn.Linear(hidden_size, 1)
        self.W1 = nn.Linear(num_layers, num_layers // 2)
        self.W2 = nn.Linear(num_layers // 2, num_layers)
        self.output_projection = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        states = torch.stack(hidden_states[-self.num_layers :], dim=1)  # (B, K, T, H)
        m = mask.to(states.dtype)[:, None, :]
        z = (self.squeeze(states).squeeze(-1) * m).sum(-1) / m.sum(-1).clamp(min=1.0)  # (B, K)
        s = torch.sigmoid(self.W2(F.relu(self.W1(z))))
        return self.output_projection((states * s[..., None, None]).sum(1))


class LstmEncoder(nn.Module):
    """Bidirectional LSTM over the valid positions of each row; padded positions come out as zeros."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(hidden_size, hidden_size // 2, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.long().sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return out

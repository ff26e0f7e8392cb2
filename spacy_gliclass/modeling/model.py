"""GLiClassModel: the uni-encoder and bi-encoder GLiClass architectures in plain torch.

One module holds the submodules under upstream's names (``encoder_model``, ``text_projector``,
``classes_projector``, ``scorer``, ``logit_scale``, …), so an upstream ``model.safetensors`` loads
after stripping its ``model.`` prefix, and ``save_pretrained`` writes a checkpoint that upstream
``gliclass`` loads too.

Forward returns logits ``(B, C)`` for the C label slots of each row and a mask of the slots that
hold a label (rows may have different label counts); empty slots hold ``EMPTY_LOGIT``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, Errors, GLiClassError
from .config import GLiClassConfig
from .delta import merged_state_dict
from .layers import FeaturesProjector, LayerwiseAttention, LstmEncoder, build_scorer, pool
from .length_groups import encode_by_length
from .processor import EncodedBatch, GLiClassProcessor
from .prototypes import mix_prototypes

EMPTY_LOGIT = -1.0e4
STATE_PREFIX = "model."
# Buffers some checkpoints carry that are rebuilt by the backbone and never affect outputs.
IGNORED_KEY_SUFFIXES = ("position_ids", "embeddings.position_embeddings.weight_unused")
LABEL_CACHE_SIZE = 50_000


@dataclass
class GLiClassOutput:
    logits: torch.Tensor  # (B, C)
    label_mask: torch.Tensor  # (B, C), 1 where a slot holds a label
    text_embeddings: torch.Tensor | None = None
    label_embeddings: torch.Tensor | None = None


def build_backbone(hf_config: Any) -> nn.Module:
    """A randomly initialised transformers backbone from its config; never touches the network."""
    from transformers import AutoModel

    return AutoModel.from_config(hf_config, trust_remote_code=False)


class GLiClassModel(nn.Module):
    """GLiClass uni-encoder (labels and text in one sequence) or bi-encoder (separate encoders)."""

    def __init__(self, config: GLiClassConfig, encoder: nn.Module | None = None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        enc_h = config.encoder_hidden_size
        hidden = int(config.hidden_size or enc_h)
        self.encoder_model = encoder if encoder is not None else build_backbone(config.backbone_config())
        residual = bool(config.residual_projectors)
        act = config.projector_hidden_act
        self.text_projector = FeaturesProjector(enc_h, hidden, enc_h, act, config.dropout, residual)
        self.classes_projector = FeaturesProjector(enc_h, hidden, enc_h, act, config.dropout, residual)
        self.scorer = build_scorer(config)
        self.dropout = nn.Dropout(config.dropout)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        if config.use_logit_bias:
            self.logit_bias = nn.Parameter(torch.tensor(0.0))
        if config.use_lstm:
            self.lstm = LstmEncoder(hidden)
        if config.squeeze_layers:
            self.layer_wise_attention = LayerwiseAttention(self._num_squeeze_layers(), enc_h)
        if config.use_segment_embeddings:
            self.segment_embeddings = nn.Embedding(3, enc_h)
        if config.is_bi_encoder:
            if not config.shared_label_encoder:
                self.label_encoder = build_backbone(config.backbone_config("label_model_config"))
            if config.use_biencoder_projector:
                self.biencoder_projector = FeaturesProjector(config.label_hidden_size, hidden, enc_h, act, 0.0)
        self._label_cache: OrderedDict[tuple[str, tuple[int, ...]], torch.Tensor] = OrderedDict()

    def _num_squeeze_layers(self) -> int:
        # Upstream sizes the layer attention from `num_hidden_layers`; a checkpoint may override it.
        return int(getattr(self.config, "squeeze_num_layers", None) or self.config.encoder_config["num_hidden_layers"])

    # -- label-embedding cache (bi-encoder) ---------------------------------------------------
    def clear_label_cache(self) -> None:
        self._label_cache.clear()

    @contextmanager
    def label_cache_kept(self) -> Iterator[None]:
        """Put the label cache back as it was after the block, which may clear or fill it (a
        benchmark of uncached label encoding must not change what the next cached run finds)."""
        saved = self._label_cache.copy()
        try:
            yield
        finally:
            self._label_cache.clear()
            self._label_cache.update(saved)

    def train(self, mode: bool = True) -> GLiClassModel:
        self.clear_label_cache()  # weights are about to change (or just did)
        return super().train(mode)

    def _apply(self, fn: Any, recurse: bool = True) -> GLiClassModel:  # .to(), .half(), …
        self.clear_label_cache()
        return super()._apply(fn, recurse)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        self.clear_label_cache()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # -- forward ------------------------------------------------------------------------------
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        label_input_ids: torch.Tensor | None = None,
        label_attention_mask: torch.Tensor | None = None,
        label_index: torch.Tensor | None = None,
        label_views: int | None = None,
        return_embeddings: bool = False,
        **prototype_inputs: Any,
    ) -> GLiClassOutput:
        """``label_views``: rows of ``label_input_ids`` per label (the processor's template count;
        None = this model's). ``prototype_inputs``: the bi-encoder's few-shot inputs (``example_*``,
        ``prototype_*``, see :class:`EncodedBatch`); a uni-encoder reads its examples from ``input_ids``."""
        if self.config.is_bi_encoder:
            if label_input_ids is None or label_attention_mask is None or label_index is None:
                raise GLiClassError(Errors.E023)
            unique = self.encode_labels(label_input_ids, label_attention_mask, label_views)
            if prototype_inputs:
                unique = self._prototypes(unique, **prototype_inputs)
            out = self._forward_bi(input_ids, attention_mask, unique, label_index)
        else:
            out = self._forward_uni(input_ids, attention_mask)
        if not return_embeddings:
            out.text_embeddings = out.label_embeddings = None
        return out

    def encode(self, batch: EncodedBatch, **kwargs: Any) -> GLiClassOutput:
        """Run the model on a processor batch (moved to the model's device)."""
        device = next(self.parameters()).device
        return self(**batch.to(device).model_inputs(), **kwargs)

    def _finish_logits(self, logits: torch.Tensor, label_mask: torch.Tensor, always_scale: bool) -> torch.Tensor:
        if always_scale or self.config.normalize_features:
            logits = logits * self.logit_scale
        if self.config.use_logit_bias:
            logits = logits + self.logit_bias
        return logits.masked_fill(label_mask == 0, EMPTY_LOGIT)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.normalize_features:
            return x / (x.norm(p=2, dim=-1, keepdim=True) + 1e-8)
        return x

    # uni-encoder ---------------------------------------------------------------------------
    def _segment_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """0 before the first <<SEP>>, 1 from it on; with examples present upstream puts every
        position in segment 2 (its example-start lookup returns 0), reproduced here."""
        is_sep = input_ids == self.config.text_token_index
        seg = (is_sep.long().cumsum(-1) > 0).long()
        has_example = (input_ids == self.config.example_token_index).any(-1, keepdim=True)
        return torch.where(has_example, torch.full_like(seg, 2), seg)

    def _backbone_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        need_all = cfg.squeeze_layers or cfg.encoder_layer_id != -1
        if cfg.use_segment_embeddings:
            embeds = self.encoder_model.get_input_embeddings()(input_ids)
            embeds = embeds + self.segment_embeddings(self._segment_ids(input_ids))
            out = self.encoder_model(
                inputs_embeds=embeds, attention_mask=attention_mask, output_hidden_states=need_all, return_dict=True
            )
        else:
            out = self.encoder_model(
                input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=need_all, return_dict=True
            )
        if cfg.encoder_layer_id != -1:
            return out.hidden_states[cfg.encoder_layer_id]
        if cfg.squeeze_layers:
            return self.layer_wise_attention(out.hidden_states, attention_mask)
        return out.last_hidden_state

    def _label_features(
        self, states: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One vector per <<LABEL>> marker: (B, C, H) and the slot mask (B, C)."""
        cfg = self.config
        is_label = input_ids == cfg.class_token_index
        counts = is_label.sum(-1)
        n_slots = max(int(counts.max().item()), 1)
        slot = is_label.long().cumsum(-1)  # k-th label's tokens have slot == k (1-based)
        k = torch.arange(1, n_slots + 1, device=input_ids.device).view(1, -1, 1)
        if cfg.class_token_pooling == "average":
            before_text = torch.ones_like(is_label)
            if cfg.extract_text_features:
                before_text = (input_ids == cfg.text_token_index).long().cumsum(-1) == 0
            select = (slot.unsqueeze(1) == k) & (before_text & attention_mask.bool()).unsqueeze(1)
            if not cfg.embed_class_token:
                select = select & ~is_label.unsqueeze(1)
        else:
            select = is_label.unsqueeze(1) & (slot.unsqueeze(1) == k)
            if not cfg.embed_class_token:  # the token right after each marker
                select = torch.nn.functional.pad(select[..., :-1], (1, 0))
        weights = select.to(states.dtype)
        if cfg.class_token_pooling == "average":
            weights = weights / weights.sum(-1, keepdim=True).clamp(min=1.0)
        features = torch.einsum("bks,bsh->bkh", weights, states)
        mask = (torch.arange(n_slots, device=input_ids.device).unsqueeze(0) < counts.unsqueeze(1)).long()
        return features, mask

    def _text_features(
        self, states: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token states to pool, the mask of real text tokens, and the mask to pool over."""
        if not self.config.extract_text_features:
            return states, attention_mask, attention_mask
        # Tokens from the first <<SEP>> to the row's end, left-aligned, zeros beyond. Upstream pools
        # that buffer over its full length, zeros included: for a row scored alone, the row length.
        b, t, _ = states.shape
        start = (input_ids == self.config.text_token_index).long().argmax(-1)
        pos = torch.arange(t, device=states.device).unsqueeze(0)
        lengths = attention_mask.long().sum(-1, keepdim=True)
        text_mask = (pos < lengths - start.unsqueeze(1)).long()
        src = (start.unsqueeze(1) + pos).clamp(max=t - 1)
        feats = states[torch.arange(b, device=states.device).unsqueeze(1), src] * text_mask.unsqueeze(-1)
        pool_mask = (pos < lengths).long()
        return feats, text_mask, pool_mask

    def _forward_uni(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> GLiClassOutput:
        states = self._backbone_states(input_ids, attention_mask)
        labels, label_mask = self._label_features(states, input_ids, attention_mask)
        text, text_mask, pool_mask = self._text_features(states, input_ids, attention_mask)
        if self.config.use_lstm:
            text = self.lstm(text, text_mask)
            pool_mask = text_mask
        pooled = pool(self.config.pooling_strategy, text, pool_mask)
        pooled = self._normalize(self.dropout(self.text_projector(pooled)))
        labels = self._normalize(self.classes_projector(labels))
        logits = self.scorer(pooled, labels, text_mask=text_mask, label_mask=label_mask)
        logits = self._finish_logits(logits, label_mask, always_scale=False)
        return GLiClassOutput(logits, label_mask, pooled, labels)

    # bi-encoder ----------------------------------------------------------------------------
    def encode_texts(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = pool(self.config.pooling_strategy, states, attention_mask)
        return self._normalize(self.dropout(self.text_projector(pooled)))

    def _encode_labels_uncached(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        encoder = self.encoder_model if self.config.shared_label_encoder else self.label_encoder
        states = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = pool(self.config.pooling_strategy, states, attention_mask)
        if self.config.use_biencoder_projector:
            pooled = self.biencoder_projector(pooled)
        return self._normalize(self.classes_projector(pooled))

    def _encode_cached(
        self,
        kind: str,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        encode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """``encode`` of each row; in inference, each distinct (kind, ids) is encoded once and cached."""
        if self.training or torch.is_grad_enabled():
            return encode_by_length(encode, input_ids, attention_mask)
        keys = [(kind, tuple(row[m.bool()].tolist())) for row, m in zip(input_ids, attention_mask, strict=True)]
        missing = [i for i, key in enumerate(keys) if key not in self._label_cache]
        if missing:
            fresh = encode_by_length(encode, input_ids[missing], attention_mask[missing])
            for i, vec in zip(missing, fresh, strict=True):
                self._label_cache[keys[i]] = vec
            while len(self._label_cache) > LABEL_CACHE_SIZE:
                self._label_cache.popitem(last=False)
        return torch.stack([self._label_cache[key] for key in keys])

    def encode_labels(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, views: int | None = None
    ) -> torch.Tensor:
        """(U, H) label vectors from (U * V, T) ids, V = ``views`` consecutive rows per label (None:
        this model's template count); in inference, each distinct row is encoded once and cached. A
        label's vector is the mean of its views' vectors: with the dot-product scorer of the embedded
        models, its logit is the mean of the views' logits."""
        views = len(self.config.label_templates) if views is None else int(views)
        if views < 1 or input_ids.shape[0] % views:
            raise GLiClassError(Errors.E124.format(rows=input_ids.shape[0], views=views))
        vectors = self._encode_cached("label", input_ids, attention_mask, self._encode_labels_uncached)
        return vectors.view(-1, views, vectors.shape[-1]).mean(1) if views > 1 else vectors

    def _prototypes(
        self,
        unique: torch.Tensor,
        example_input_ids: torch.Tensor,
        example_attention_mask: torch.Tensor,
        prototype_label: torch.Tensor,
        prototype_examples: torch.Tensor,
        example_weight: float,
    ) -> torch.Tensor:
        """(P, H) label vectors mixed with their examples' text vectors (modeling/prototypes.py).
        Example texts are cached like labels: a pipe's examples are encoded once, not per batch."""
        examples = self._encode_cached("text", example_input_ids, example_attention_mask, self.encode_texts)
        return mix_prototypes(unique[prototype_label], examples, prototype_examples, example_weight)

    def _forward_bi(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, unique: torch.Tensor, label_index: torch.Tensor
    ) -> GLiClassOutput:
        text = encode_by_length(self.encode_texts, input_ids, attention_mask)
        label_mask = (label_index >= 0).long()
        labels = unique[label_index.clamp(min=0)] * label_mask.unsqueeze(-1).to(unique.dtype)
        logits = self.scorer(text, labels, label_mask=label_mask)
        logits = self._finish_logits(logits, label_mask, always_scale=True)
        return GLiClassOutput(logits, label_mask, text, labels)

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoint_state_dict(self) -> dict[str, torch.Tensor]:
        """State dict under upstream's key names (``model.`` prefix), LoRA updates merged in."""
        return {STATE_PREFIX + k: v for k, v in merged_state_dict(self).items()}

    def load_checkpoint_state_dict(self, state: dict[str, torch.Tensor], source: str = "<state dict>") -> None:
        """Load upstream-named weights, with a clear error for missing, unexpected or misshapen ones."""
        state = {(k[len(STATE_PREFIX) :] if k.startswith(STATE_PREFIX) else k): v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith("calibrator.")}
        own = self.state_dict()
        missing = [k for k in own if k not in state and not k.endswith(IGNORED_KEY_SUFFIXES)]
        unexpected = [k for k in state if k not in own and not k.endswith(IGNORED_KEY_SUFFIXES)]
        wrong = [
            f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
            for k, v in state.items()
            if k in own and tuple(v.shape) != tuple(own[k].shape)
        ]
        problems = []
        if missing:
            problems.append(f"missing tensors {missing[:5]}{' …' if len(missing) > 5 else ''}")
        if unexpected:
            problems.append(f"unexpected tensors {unexpected[:5]}{' …' if len(unexpected) > 5 else ''}")
        if wrong:
            problems.append(f"wrong shapes {wrong[:5]}")
        if problems:
            raise CheckpointError(Errors.E004.format(path=source, details="; ".join(problems)))
        self.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)

    @classmethod
    def from_pretrained(cls, path: str | Path, max_length: int = 512) -> tuple[GLiClassModel, GLiClassProcessor]:
        """Load a checkpoint in the upstream layout: (model in eval mode, its processor)."""
        from .checkpoint import read_checkpoint

        return read_checkpoint(path, max_length=max_length)

    def save_pretrained(self, path: str | Path, processor: GLiClassProcessor | None = None) -> None:
        """Write config.json, model.safetensors (and the tokenizer) in the upstream layout."""
        from .checkpoint import save_checkpoint

        save_checkpoint(self, path, processor)

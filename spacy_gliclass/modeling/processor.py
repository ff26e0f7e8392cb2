"""Texts + labels (+ prompt, few-shot examples) → token ids, in the upstream GLiClass input format.

Uni-encoder input, per text (the upstream layout)::

    prompt_first:      [CLS] <<LABEL>>l1<<LABEL>>l2…<<SEP>> prompt text examples [SEP]
    not prompt_first:  [CLS] text <<LABEL>>l1<<LABEL>>l2…<<SEP>> prompt examples [SEP]
    examples:          <<EXAMPLE>>text \\nLabels:\\n a, b <<EXAMPLE>>… <<SEP>>

Each piece is tokenized on its own and the ids are concatenated. That gives the ids upstream gets
from tokenizing the joined string (the added marker tokens split it into the same pieces), and
it lets us (a) tokenize a label set once, not once per text, (b) cut the text, never the labels,
when an input is too long, and (c) tokenize user text with ``split_special_tokens``, so a text
that contains ``<<LABEL>>`` cannot inject a marker. The one difference from upstream: a prompt
and the text that follows it are separate pieces (upstream glues them without a space), which
only matters when the prompt does not end in whitespace or punctuation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, Errors, GLiClassError, LabelError
from .config import GLiClassConfig
from .safety import check_tokenizer_config

LABEL_MARKER = "<<LABEL>>"
SEP_MARKER = "<<SEP>>"
EXAMPLE_MARKER = "<<EXAMPLE>>"
MARKERS = (LABEL_MARKER, SEP_MARKER, EXAMPLE_MARKER)
# The files a transformers tokenizer is built from (fast tokenizer, WordPiece, SentencePiece, BPE).
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "spm.model", "sentencepiece.bpe.model", "vocab.json")


@dataclass(frozen=True)
class FewShotExample:
    """A worked example shown to the model before the text (upstream ``examples=``)."""

    text: str
    labels: tuple[str, ...]

    @classmethod
    def coerce(cls, value: FewShotExample | Mapping[str, Any]) -> FewShotExample:
        if isinstance(value, FewShotExample):
            return value
        labels = value.get("labels", value.get("true_labels", []))
        labels = (labels,) if isinstance(labels, str) else tuple(str(x) for x in labels)
        return cls(text=str(value.get("text", "")), labels=labels)


def validate_labels(labels: Sequence[Any]) -> list[str]:
    """Return ``labels`` as a list, or raise a LabelError naming the bad label."""
    if isinstance(labels, str):
        labels = [labels]
    labels = list(labels)
    if not labels:
        raise LabelError(Errors.E010)
    seen: set[str] = set()
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise LabelError(Errors.E011.format(value=label, type=type(label).__name__))
        for marker in MARKERS:
            if marker in label:
                raise LabelError(Errors.E013.format(label=label, marker=marker))
        if label in seen:
            raise LabelError(Errors.E012.format(label=label, labels=labels))
        seen.add(label)
    return labels


@dataclass
class EncodedBatch:
    """Model inputs for one batch. Bi-encoder batches also carry the unique labels' ids."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    label_input_ids: torch.Tensor | None = None
    label_attention_mask: torch.Tensor | None = None
    label_index: torch.Tensor | None = None  # (B, C) index into the unique labels, -1 = no label
    # Rows of label_input_ids per unique label (one per template): the model averages each label's
    # views by this count, so a batch always says how it was laid out.
    label_views: int | None = None
    # Bi-encoder with examples: label_index points at prototypes, each one of the unique labels
    # (prototype_label) mixed with the mean of its examples' texts (prototype_examples, 0/1).
    example_input_ids: torch.Tensor | None = None  # (E, T) each distinct example text once
    example_attention_mask: torch.Tensor | None = None
    prototype_label: torch.Tensor | None = None  # (P,) index into the unique labels
    prototype_examples: torch.Tensor | None = None  # (P, E) 1 where an example shows that label
    example_weight: float | None = None

    def to(self, device: torch.device | str) -> EncodedBatch:
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return EncodedBatch(**moved)

    def model_inputs(self) -> dict[str, Any]:
        """The forward's keyword arguments: the tensors, and the view count and example weight."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


class GLiClassProcessor:
    """Turns texts and label sets into :class:`EncodedBatch` es for a :class:`GLiClassModel`."""

    def __init__(self, tokenizer: Any, config: GLiClassConfig, max_length: int = 512) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self.max_length = max_length
        self._warned_truncation = False
        probe = tokenizer("a", add_special_tokens=True)["input_ids"]
        core = tokenizer("a", add_special_tokens=False)["input_ids"]
        start = probe.index(core[0]) if core and core[0] in probe else 0
        self._prefix: list[int] = probe[:start]
        self._suffix: list[int] = probe[start + len(core) :]
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._tokenize_cached = lru_cache(maxsize=65536)(self._tokenize_uncached)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, path: str | Path, config: GLiClassConfig | None = None, max_length: int = 512
    ) -> GLiClassProcessor:
        from transformers import AutoTokenizer

        path = Path(path)
        config = config or GLiClassConfig.from_json_file(path / "config.json")
        kwargs: dict[str, Any] = {}
        backbone_type = (config.encoder_config or {}).get("model_type", "")
        if backbone_type in ("modernbert", "roberta", "gpt2"):  # byte-level BPE: the space is in the token
            kwargs["add_prefix_space"] = True
        if not any((path / name).is_file() for name in VOCABULARY_FILES):
            # Without them transformers falls back to config.json and blames its own version.
            raise CheckpointError(
                Errors.E002.format(path=path, what=f"tokenizer files ({', '.join(VOCABULARY_FILES)})")
            )
        check_tokenizer_config(path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(path), local_files_only=True, trust_remote_code=False, **kwargs
            )
        except Exception as err:  # noqa: BLE001 - the tokenizers library raises a bare Exception on bad JSON
            raise GLiClassError(Errors.E003.format(path=path, reason=f"tokenizer files: {err}")) from err
        processor = cls(tokenizer, config, max_length=max_length)
        processor.check_special_tokens(path)
        return processor

    def save_pretrained(self, path: str | Path) -> None:
        self.tokenizer.save_pretrained(str(path))

    def check_special_tokens(self, path: str | Path = "<tokenizer>") -> None:
        """The marker ids in the tokenizer must be the ones the model was trained with."""
        if self.config.is_bi_encoder:
            return
        pairs = [(LABEL_MARKER, "class_token_index"), (SEP_MARKER, "text_token_index")]
        vocab = self.tokenizer.get_vocab()
        if EXAMPLE_MARKER in vocab:
            pairs.append((EXAMPLE_MARKER, "example_token_index"))
        for token, key in pairs:
            found = vocab.get(token)
            expected = getattr(self.config, key)
            if found != expected:
                raise GLiClassError(Errors.E005.format(path=path, token=token, found=found, key=key, expected=expected))

    # -- pieces -------------------------------------------------------------------------------
    def _tokenize_uncached(self, text: str) -> tuple[int, ...]:
        ids = self.tokenizer(text, add_special_tokens=False, split_special_tokens=True, verbose=False)["input_ids"]
        return tuple(ids)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of user text; marker strings in it stay plain text."""
        return list(self._tokenize_cached(text))

    def tokenize_texts(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts in one tokenizer call (fast for large batches)."""
        if not texts:
            return []
        out = self.tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True, verbose=False)[
            "input_ids"
        ]
        return [list(ids) for ids in out]

    def label_texts(self, label: str) -> list[str]:
        """What the encoder reads for ``label``: one string per label view (a bi-encoder's
        templates, in order); a uni-encoder reads the label itself."""
        label = label.lower() if self.config.lowercase_labels else label
        if self.config.is_bi_encoder:
            return [template.format(label=label) for template in self.config.label_templates]
        return [label]

    def label_block(self, labels: Sequence[str]) -> list[int]:
        """``<<LABEL>>l1<<LABEL>>l2…<<SEP>>`` as ids (uni-encoder)."""
        ids: list[int] = []
        for label in labels:
            ids.append(self.config.class_token_index)
            ids.extend(self._tokenize_cached(self.label_texts(label)[0]))
        ids.append(self.config.text_token_index)
        return ids

    def prompt_ids(self, prompt: str | None) -> list[int]:
        return list(self._tokenize_cached(prompt)) if prompt else []

    def example_ids(self, examples: Sequence[FewShotExample | Mapping[str, Any]] | None) -> list[int]:
        if not examples:
            return []
        ids: list[int] = []
        for raw in examples:
            ex = FewShotExample.coerce(raw)
            ids.append(self.config.example_token_index)
            ids.extend(self._tokenize_cached(f"{ex.text} \nLabels:\n {', '.join(ex.labels)}"))
        ids.append(self.config.text_token_index)
        return ids

    @property
    def num_special_tokens(self) -> int:
        return len(self._prefix) + len(self._suffix)

    def text_budget(self, labels: Sequence[str], prompt: str | None = None, examples: Any = None) -> int:
        """How many text tokens fit into ``max_length`` next to this label set, prompt and examples."""
        used = self.num_special_tokens + len(self.prompt_ids(prompt))
        if not self.config.is_bi_encoder:
            used += len(self.label_block(labels)) + len(self.example_ids(examples))
        return self.max_length - used

    def text_sequence(self, text_ids: Sequence[int]) -> list[int]:
        """The text alone between the tokenizer's special tokens: what a plain encoder reads."""
        return [*self._prefix, *text_ids, *self._suffix]

    def build(self, text_ids: Sequence[int], block: Sequence[int], prompt: Sequence[int], examples: Sequence[int]):
        """One input sequence from its pieces, in the order the config says."""
        if self.config.is_bi_encoder:
            return [*self._prefix, *prompt, *text_ids, *self._suffix]
        if self.config.prompt_first:
            return [*self._prefix, *block, *prompt, *text_ids, *examples, *self._suffix]
        return [*self._prefix, *text_ids, *block, *prompt, *examples, *self._suffix]

    def pad(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad to the longest sequence: (input_ids, attention_mask)."""
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[i, : len(seq)] = 1
        return ids, mask

    # -- whole batches ------------------------------------------------------------------------
    def fit_text(self, text_ids: list[int], budget: int, n_labels: int) -> list[int]:
        """Cut the text (never the labels) to ``budget`` tokens, warning once per processor."""
        if budget < 1:
            raise GLiClassError(
                Errors.E014.format(n_tokens=self.max_length - budget, n_labels=n_labels, max_length=self.max_length)
            )
        if len(text_ids) > budget:
            if not self._warned_truncation:
                warnings.warn(
                    Errors.W001.format(kept=budget, total=len(text_ids), max_length=self.max_length), stacklevel=3
                )
                self._warned_truncation = True
            return text_ids[:budget]
        return text_ids

    def encode_ids(
        self,
        text_ids: Sequence[Sequence[int]],
        labels: Sequence[Sequence[str]],
        prompt: str | None = None,
        examples: Sequence[Any] | None = None,
        example_weight: float = 0.5,
    ) -> EncodedBatch:
        """Build a batch from already tokenized texts, each with its own label set, sharing the
        ``examples`` (read in the input by a uni-encoder, mixed into the labels by a bi-encoder)."""
        prompt_ids = self.prompt_ids(prompt)
        example_ids = self.example_ids(examples)
        sequences = []
        for ids, label_set in zip(text_ids, labels, strict=True):
            block = [] if self.config.is_bi_encoder else self.label_block(label_set)
            budget = self.text_budget(label_set, prompt, examples)
            ids = self.fit_text(list(ids), budget, len(label_set))
            sequences.append(self.build(ids, block, prompt_ids, example_ids))
        return self.collate(sequences, labels, [examples or ()] * len(sequences), example_weight)

    def __call__(
        self, texts: Sequence[str], labels: Sequence[str] | Sequence[Sequence[str]], **options: Any
    ) -> EncodedBatch:
        """Encode ``texts`` with one shared label list, or one label list per text; ``options``:
        ``prompt``, ``examples``, ``example_weight`` as for :meth:`encode_ids`."""
        if isinstance(texts, str):
            texts = [texts]
        per_text = bool(labels) and not isinstance(labels[0], str)
        label_sets = [validate_labels(x) for x in labels] if per_text else [validate_labels(labels)] * len(texts)
        return self.encode_ids([self.tokenize(t) for t in texts], label_sets, **options)

    def collate(
        self,
        sequences: Sequence[Sequence[int]],
        labels: Sequence[Sequence[str]],
        examples: Sequence[Sequence[FewShotExample]] | None = None,
        example_weight: float = 0.5,
    ) -> EncodedBatch:
        """Pad built sequences into a batch; a bi-encoder batch also gets its label inputs and, with
        ``examples`` (one sequence per row), the inputs of the prototype rule. Uni-encoder rows
        carry their examples in ``sequences`` already (``build``)."""
        input_ids, attention_mask = self.pad(sequences)
        batch = EncodedBatch(input_ids=input_ids, attention_mask=attention_mask)
        if self.config.is_bi_encoder:
            rows = [tuple(FewShotExample.coerce(ex) for ex in row) for row in examples or [()] * len(labels)]
            self._add_label_inputs(batch, labels, rows, example_weight)
        return batch

    def _single_ids(self, text: str) -> list[int]:
        """``[CLS] text [SEP]`` for a text encoded on its own (a bi-encoder label or example)."""
        return [*self._prefix, *self._tokenize_cached(text)[: self.max_length - 2], *self._suffix]

    def _add_label_inputs(
        self,
        batch: EncodedBatch,
        labels: Sequence[Sequence[str]],
        examples: Sequence[tuple[FewShotExample, ...]],
        example_weight: float,
    ) -> None:
        """Bi-encoder: ids of each distinct label (and example text) once, and where each row's
        labels are. With examples, a slot is a (label, its examples in that row) prototype. With
        V label views, each distinct label has V consecutive rows, one per template."""
        unique: dict[str, int] = {}
        texts: dict[str, int] = {}
        prototypes: dict[tuple[str, tuple[int, ...]], int] = {}
        rows = []
        for label_set, row_examples in zip(labels, examples, strict=True):
            row = []
            for label in label_set:
                unique.setdefault(label, len(unique))
                shown = tuple(
                    sorted({texts.setdefault(ex.text, len(texts)) for ex in row_examples if label in ex.labels})
                )
                row.append(prototypes.setdefault((label, shown), len(prototypes)))
            rows.append(row)
        batch.label_input_ids, batch.label_attention_mask = self.pad(
            [self._single_ids(text) for label in unique for text in self.label_texts(label)]
        )
        batch.label_views = len(self.config.label_templates)
        index = torch.full((len(labels), max(len(s) for s in labels)), -1, dtype=torch.long)
        for i, row in enumerate(rows):
            index[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        batch.label_index = index
        if not texts:  # no label has an example: every slot is its label's own vector
            return
        batch.example_input_ids, batch.example_attention_mask = self.pad([self._single_ids(t) for t in texts])
        batch.prototype_label = torch.tensor([unique[label] for label, _ in prototypes], dtype=torch.long)
        batch.prototype_examples = torch.zeros((len(prototypes), len(texts)))
        for p, (_, shown) in enumerate(prototypes):
            batch.prototype_examples[p, list(shown)] = 1.0
        batch.example_weight = float(example_weight)

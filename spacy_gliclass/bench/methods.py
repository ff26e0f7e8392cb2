"""The timed ways to score one model's texts, and the check that they agree.

For a set of labels, ``Bench`` times (each a ``run_<method>`` callable returning scores or None):

- ``pipe``: ``nlp.pipe(texts, batch_size=…)`` — the product path;
- ``per_doc``: ``nlp(text)`` one doc at a time — what a naive user does;
- ``direct``: the torch model alone on exactly the batches ``nlp.pipe`` builds (pre-collated), so
  ``1 - direct/pipe`` time is the spaCy wrapper's overhead (tokenising, planning, collating, docs);
- ``reference``: fixed batches of 8 in input order, padded to the longest, texts tokenised every
  call and (bi-encoder) labels encoded every batch — what the upstream ``gliclass`` pipeline does;
- ``cross``: the cross-encoder way, one (text, label) pair per sequence, in-order batches of 8 pairs.
  Each text is paired with ``cross_pairs`` of its labels (seeded), and docs/s = pairs/s ÷ n_labels,
  so every text's length is in the estimate without timing n_texts × n_labels sequences;
- ``bare``: the backbone alone on length-sorted batches of 8 of the texts — the hardware ceiling;
- ``pipe_int8`` (optional): ``nlp.pipe`` with ``quantize="int8"``.

``pipe``, ``per_doc`` and ``reference`` must give the same scores (within ``atol``; the reference
only on docs it did not have to truncate, since the pipe windows long texts instead); the cross-
encoder scores must too for a bi-encoder (a uni-encoder's labels attend to each other).
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from .machine import FlopCounter
from .options import BenchSettings, make_nlp

REFERENCE_BATCH = 8
BARE_BATCH = 8


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Bench:
    """The methods of one model, each a callable ``labels -> scores`` (or None) over the texts."""

    def __init__(self, model: str, texts: list[str], settings: BenchSettings) -> None:
        import torch

        from .. import batching
        from ..architectures import get_shim

        self.torch, self.batching = torch, batching  # imported here: the module loads without torch
        self.texts, self.settings = texts, settings
        self.nlp = make_nlp(model, settings)
        self.pipe = self.nlp.get_pipe("gliclass")
        shim = get_shim(self.pipe.model)
        self.model = shim.ensure_loaded()
        self.processor = shim.processor
        self.is_bi = self.processor.config.is_bi_encoder
        self.flops = FlopCounter(self.model.encoder_model)
        self.nlp_int8 = make_nlp(model, settings, "int8") if settings.int8 else None
        self.text_ids = self.processor.tokenize_texts(texts)
        self._prepared: dict[str, Any] = {}
        self.prepare_bare()

    # -- per label set preparation (untimed) --------------------------------------------------
    def prepare(self, labels: list[str], rng: random.Random) -> None:
        """Build the batches the timed methods replay, and the useful-token counts of each method."""
        b, proc, s = self.batching, self.processor, self.pipe.settings
        self.pipe.labels = labels
        if self.nlp_int8 is not None:
            self.nlp_int8.get_pipe("gliclass").labels = labels
        direct: list[Any] = []
        pipe_lengths: list[int] = []
        n_buffer = self.settings.pipe_batch_size
        for start in range(0, len(self.texts), n_buffer):
            requests = [b.Request(ids, labels) for ids in self.text_ids[start : start + n_buffer]]
            tasks = b.plan(requests, proc, s)
            pipe_lengths += [len(t.sequence) for t in tasks]
            direct += [
                proc.collate([t.sequence for t in batch], [t.labels for t in batch]) for batch in b.batches(tasks, s)
            ]
        budget = proc.text_budget(labels)
        fits = [len(ids) <= budget for ids in self.text_ids]
        ref_lengths = [proc.num_special_tokens + min(len(ids), budget) for ids in self.text_ids]
        if not self.is_bi:
            ref_lengths = [n + len(proc.label_block(labels)) for n in ref_lengths]
        pairs = [
            (i, label)
            for i in range(len(self.texts))
            for label in rng.sample(labels, min(self.settings.cross_pairs, len(labels)))
        ]
        cross_lengths = [
            proc.num_special_tokens
            + min(len(self.text_ids[i]), proc.text_budget([label]))
            + (0 if self.is_bi else len(proc.label_block([label])))
            for i, label in pairs
        ]
        self._prepared = {
            "labels": labels,
            "direct": direct,
            "fits": fits,
            "pairs": pairs,
            "lengths": {
                **dict.fromkeys(("pipe", "per_doc", "direct", "pipe_int8"), pipe_lengths),
                "reference": ref_lengths,
                "cross": cross_lengths,
                "bare": self._bare_lengths,
            },
        }

    def prepare_bare(self) -> None:
        proc = self.processor
        order = sorted(range(len(self.text_ids)), key=lambda i: len(self.text_ids[i]))
        limit = proc.max_length - proc.num_special_tokens
        seqs = [proc.text_sequence(self.text_ids[i][:limit]) for i in order]
        self._bare = [proc.pad(seqs[i : i + BARE_BATCH]) for i in range(0, len(seqs), BARE_BATCH)]
        self._bare_lengths = [len(s) for s in seqs]

    def useful_flops(self, method: str) -> float:
        return self.flops(self._prepared["lengths"][method])

    def tokens_per_doc(self) -> float:
        return sum(self._prepared["lengths"]["pipe"]) / len(self.texts)

    # -- the timed methods --------------------------------------------------------------------
    def _cats(self, docs: Iterable[Any]) -> list[np.ndarray]:
        labels = self._prepared["labels"]
        return [np.array([doc.cats[label] for label in labels]) for doc in docs]

    def run_pipe(self) -> list[np.ndarray]:
        return self._cats(self.nlp.pipe(self.texts, batch_size=self.settings.pipe_batch_size))

    def run_pipe_int8(self) -> list[np.ndarray]:
        return self._cats(self.nlp_int8.pipe(self.texts, batch_size=self.settings.pipe_batch_size))

    def run_per_doc(self) -> list[np.ndarray]:
        return self._cats([self.nlp(text) for text in self.texts])

    def run_direct(self) -> None:
        with self.torch.inference_mode():
            for batch in self._prepared["direct"]:
                self.model.encode(batch).logits.numpy()

    def run_reference(self) -> list[np.ndarray]:
        labels = self._prepared["labels"]
        return self._in_order(self.texts, [labels] * len(self.texts), slice(0, len(labels)))

    def run_cross(self) -> list[float]:
        pairs = self._prepared["pairs"]
        return self._in_order([self.texts[i] for i, _ in pairs], [[label] for _, label in pairs], 0)

    def _in_order(self, texts: list[str], label_sets: list[list[str]], columns: slice | int) -> list[Any]:
        """The upstream loop: in-order batches of ``REFERENCE_BATCH``, texts tokenised and labels
        encoded with every batch (label cache emptied); the pipe's cache is put back afterwards so
        the interleaved pipe run is not charged for it."""
        proc, out = self.processor, []
        with self.model.label_cache_kept(), self.torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, len(texts), REFERENCE_BATCH):
                chunk = slice(start, start + REFERENCE_BATCH)
                self.model.clear_label_cache()
                batch = proc.encode_ids(proc.tokenize_texts(texts[chunk]), label_sets[chunk])
                out += list(_sigmoid(self.model.encode(batch).logits[:, columns].numpy()))
        return out

    def run_bare(self) -> None:
        with self.torch.inference_mode():
            for ids, mask in self._bare:
                self.model.encoder_model(input_ids=ids, attention_mask=mask)

    def docs_per_s(self, method: str, seconds: float) -> float:
        if method == "cross":  # docs/s = pairs/s ÷ labels per doc
            return len(self._prepared["pairs"]) / seconds / len(self._prepared["labels"])
        return len(self.texts) / seconds

    # -- agreement ----------------------------------------------------------------------------
    def agreement(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Largest score difference of each method against ``pipe``, and whether the required
        ones are within ``atol``."""
        pipe = np.stack(outputs["pipe"])
        report: dict[str, Any] = {}
        if "per_doc" in outputs:
            report["pipe_vs_per_doc"] = float(np.abs(pipe - np.stack(outputs["per_doc"])).max())
        if "reference" in outputs:
            fits = np.array(self._prepared["fits"])
            ref = np.stack(outputs["reference"])
            report["reference_docs_compared"] = int(fits.sum())
            report["pipe_vs_reference"] = float(np.abs(pipe[fits] - ref[fits]).max()) if fits.any() else 0.0
        if "cross" in outputs:
            index = {label: j for j, label in enumerate(self._prepared["labels"])}
            ours = np.array([pipe[i, index[label]] for i, label in self._prepared["pairs"]])
            fits = [self._prepared["fits"][i] for i, _ in self._prepared["pairs"]]
            diff = np.abs(ours - np.array(outputs["cross"]))[np.array(fits)] if any(fits) else np.zeros(1)
            report["pipe_vs_cross"] = float(diff.max())
        if "pipe_int8" in outputs:
            report["pipe_vs_int8"] = float(np.abs(pipe - np.stack(outputs["pipe_int8"])).max())
        atol = self.settings.atol
        required = ["pipe_vs_per_doc", "pipe_vs_reference"] + (["pipe_vs_cross"] if self.is_bi else [])
        report["ok"] = all(report.get(key, 0.0) <= atol for key in required)
        return report

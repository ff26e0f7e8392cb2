"""Length groups: a batch's rows are encoded in groups of similar length, each cut to its own
longest row, with the same outputs and gradients as one padded call and far less padding."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from spacy_gliclass.modeling import GLiClassModel
from spacy_gliclass.modeling.length_groups import encode_by_length, length_groups

from .conftest import LABELS

# Short and long texts together, as in a training batch: one padded call is mostly padding.
TEXTS = ["ok", "Profits rose.", " ".join(["The striker scored twice in the final minutes."] * 12), "fine", "no"]


def _cost(groups, lengths, overhead):
    return sum(len(g) * max(lengths[i] for i in g) + overhead for g in groups)


def _best_cost(lengths, overhead):
    """Brute force: every way to cut the length-sorted rows into runs."""
    ordered = sorted(range(len(lengths)), key=lambda i: lengths[i])
    best = float("inf")
    for n_cuts in range(len(ordered)):
        for cuts in itertools.combinations(range(1, len(ordered)), n_cuts):
            bounds = [0, *cuts, len(ordered)]
            groups = [ordered[a:b] for a, b in itertools.pairwise(bounds)]
            best = min(best, _cost(groups, lengths, overhead))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_groups_cover_every_row_once_at_the_least_padded_cost(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([2, 3, 5, 9, 40, 41, 120]) for _ in range(rng.randint(1, 9))]
    overhead = rng.choice([0, 8, 32])
    groups = length_groups(lengths, overhead)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert _cost(groups, lengths, overhead) == _best_cost(lengths, overhead)


def test_groups_split_only_where_it_saves_more_than_a_call():
    assert len(length_groups([3] * 10 + [100])) == 2  # 1010 padded tokens vs 30 + 100 (+ a call)
    assert len(length_groups([3, 4, 5, 6])) == 1  # a few tokens of padding are cheaper than a call


def test_encode_by_length_matches_one_padded_call_with_its_gradients():
    torch.manual_seed(0)
    weight = torch.randn(7, 4, requires_grad=True)

    def encode(ids, mask):  # any per-row encoder: a masked mean of embedded ids
        states = weight[ids] * mask.unsqueeze(-1)
        return states.sum(1) / mask.sum(-1, keepdim=True)

    lengths = [1, 50, 2, 49, 3, 1]
    ids = torch.randint(0, 7, (len(lengths), max(lengths)))
    mask = torch.tensor([[1] * n + [0] * (max(lengths) - n) for n in lengths])
    assert len(length_groups([int(n) for n in mask.sum(-1)])) > 1  # the test takes the grouped path
    grouped = encode_by_length(encode, ids, mask)
    (g_grouped,) = torch.autograd.grad(grouped.square().sum(), weight)
    padded = encode(ids, mask)
    (g_padded,) = torch.autograd.grad(padded.square().sum(), weight)
    assert torch.allclose(grouped, padded, atol=1e-6)
    assert torch.allclose(g_grouped, g_padded, atol=1e-5)


def test_left_padded_rows_keep_every_real_token():
    def encode(ids, mask):
        return (ids * mask).sum(-1, keepdim=True).float()

    ids = torch.tensor([[0, 0, 5, 6], [7, 0, 0, 0]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 0, 0, 0]])
    assert encode_by_length(encode, ids, mask).flatten().tolist() == [11.0, 7.0]


def test_a_training_forward_gives_the_padded_logits_and_gradients(tiny_bi, monkeypatch):
    """The model in training (grad on, no cache) with grouping vs the plain padded call."""
    import spacy_gliclass.modeling.model as modeling

    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    model.train()
    batch = processor(TEXTS, [LABELS, LABELS[:1], LABELS[1:], LABELS, LABELS[2:]])
    assert len(length_groups(batch.attention_mask.sum(-1).tolist())) > 1
    runs = []
    for grouping in (True, False):
        if not grouping:
            monkeypatch.setattr(modeling, "encode_by_length", lambda encode, ids, mask: encode(ids, mask))
        model.zero_grad()
        logits = model.encode(batch).logits
        logits.masked_fill(batch.label_index < 0, 0.0).square().sum().backward()
        runs.append((logits.detach(), model.encoder_model.embeddings.word_embeddings.weight.grad.clone()))
    (logits, grad), (padded_logits, padded_grad) = runs
    assert torch.allclose(logits, padded_logits, atol=1e-5)
    assert torch.allclose(grad, padded_grad, atol=1e-5)
    assert grad.abs().sum() > 0

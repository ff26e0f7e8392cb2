"""LoRA adapters and compact weight deltas (spacy_gliclass.modeling.delta)."""

from __future__ import annotations

import pytest
import torch

from spacy_gliclass.modeling import GLiClassModel
from spacy_gliclass.modeling.delta import (
    LORA_A,
    LORA_B,
    ROW_SCALE,
    LoRALinear,
    add_lora,
    apply_delta,
    compute_delta,
    dequantize,
    merged_state_dict,
    quantize_rows,
)


@pytest.fixture()
def tiny(tiny_uni):
    model, processor = GLiClassModel.from_pretrained(tiny_uni)
    batch = processor(["a short text", "another, longer text about sports"], ["sports", "politics", "art"])
    return model, batch


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model.encode(batch).logits


def test_lora_starts_as_the_model_and_trains_only_the_adapters(tiny):
    model, batch = tiny
    before = _logits(model, batch)
    n = add_lora(model.encoder_model, rank=4)
    assert n > 0 and any(isinstance(m, LoRALinear) for m in model.modules())
    assert torch.allclose(_logits(model, batch), before, atol=1e-6)  # B starts at zero
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    encoder_trainable = {name for name in trainable if name.startswith("encoder_model.")}
    assert encoder_trainable and all(name.endswith(("lora_A", "lora_B")) for name in encoder_trainable)
    assert any(not name.startswith("encoder_model.") for name in trainable)  # heads still train
    frozen = {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model.encode(batch).logits.sum().backward()
    optimizer.step()
    assert not torch.allclose(_logits(model, batch), before)
    assert all(torch.equal(p, frozen[name]) for name, p in model.named_parameters() if name in frozen)


def test_merged_state_dict_is_a_plain_checkpoint_with_the_same_outputs(tiny, tiny_uni):
    model, batch = tiny
    add_lora(model.encoder_model, rank=4)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALinear):
                module.lora_B.normal_(0, 0.05)
    expected = _logits(model, batch)
    state = model.checkpoint_state_dict()
    assert not any(LORA_A in k or LORA_B in k for k in state)
    plain, _ = GLiClassModel.from_pretrained(tiny_uni)
    plain.load_checkpoint_state_dict(state)
    assert torch.allclose(_logits(plain, batch), expected, atol=1e-5)


def test_delta_of_a_lora_update_is_exact_at_its_rank(tiny):
    model, batch = tiny
    start = {k: v.clone() for k, v in model.state_dict().items()}
    add_lora(model.encoder_model, rank=3)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALinear):
                module.lora_B.normal_(0, 0.05)
        model.text_projector.linear_2.weight.add_(0.01)
    expected = _logits(model, batch)
    tuned = merged_state_dict(model)
    delta = compute_delta(tuned, start, rank=3, dtype=torch.float32, min_size=0)
    # Only what changed is stored: factorised encoder matrices and the whole projector weight.
    assert "text_projector.linear_2.weight" in delta
    assert not any(k.startswith("encoder_model.") and not k.endswith((LORA_A, LORA_B)) for k in delta)
    restored = apply_delta(start, delta)
    plain = GLiClassModel(model.config)
    plain.load_state_dict(restored)
    assert torch.allclose(_logits(plain, batch), expected, atol=1e-4)


def test_apply_delta_refuses_a_tensor_the_start_model_lacks(tiny):
    model, _ = tiny
    with pytest.raises(KeyError):
        apply_delta(model.state_dict(), {"no.such.weight": torch.zeros(2)})


def test_a_pipe_with_lora_rank_trains_only_adapters_and_heads_and_saves_merged_weights(tiny_bi, tmp_path):
    import spacy
    from spacy.training import Example

    from spacy_gliclass.architectures import get_shim

    nlp = spacy.blank("en")
    model_block = {"@architectures": "spacy-gliclass.GLiClassModel.v1", "name": str(tiny_bi), "lora_rank": 2}
    nlp.add_pipe("gliclass", config={"model": model_block, "labels": ["sports", "politics"], "loss": {"@losses": "spacy-gliclass.softmax_loss.v1"}})
    docs = [("The match ended in a draw.", "sports"), ("Parliament passed the bill.", "politics")]
    examples = [
        Example.from_dict(
            nlp.make_doc(text), {"cats": {"sports": float(gold == "sports"), "politics": float(gold == "politics")}}
        )
        for text, gold in docs
    ]
    optimizer = nlp.initialize(lambda: examples)
    shim = get_shim(nlp.get_pipe("gliclass").model)
    encoder_before = {k: v.clone() for k, v in shim.fp32_model().encoder_model.state_dict().items()}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    model = shim.fp32_model()
    assert any(isinstance(m, LoRALinear) for m in model.modules())
    frozen = {k: v for k, v in model.encoder_model.state_dict().items() if not k.endswith(("lora_A", "lora_B"))}
    assert all(torch.equal(v, encoder_before[k]) for k, v in frozen.items())
    expected = [nlp(text).cats for text, _ in docs]
    nlp.to_disk(tmp_path / "pipe")
    again = spacy.load(tmp_path / "pipe")
    loaded = get_shim(again.get_pipe("gliclass").model).fp32_model()
    assert not any(isinstance(m, LoRALinear) for m in loaded.modules())  # plain, merged weights
    for (text, _), cats in zip(docs, expected, strict=True):
        assert again(text).cats == pytest.approx(cats, abs=1e-5)


def test_int8_rows_keep_a_delta_to_within_a_rows_largest_value_over_254(tiny):
    model, batch = tiny
    start = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(0)
    with torch.no_grad():
        query = model.encoder_model.encoder.layer[0].attention.self.query.weight
        query.add_(0.05 * torch.randn(query.shape[0], 2) @ torch.randn(2, query.shape[1]))
        model.text_projector.linear_2.weight.normal_(0, 0.01)
        model.logit_scale.fill_(7.0)
    expected = _logits(model, batch)
    delta = compute_delta(merged_state_dict(model), start, rank=2, dtype=torch.float32, min_size=0)
    packed = quantize_rows(delta, min_size=0)
    matrices = [k for k, v in delta.items() if v.ndim == 2]
    assert matrices and all(packed[k].dtype == torch.int8 and k + ROW_SCALE in packed for k in matrices)
    assert packed["logit_scale"].dtype == torch.float32  # scalars and vectors stay as they were
    unpacked = dequantize(packed)
    assert set(unpacked) == set(delta)
    for key in matrices:
        bound = delta[key].abs().amax(dim=1, keepdim=True) / 254 + 1e-6
        assert ((unpacked[key] - delta[key]).abs() <= bound * 1.01).all()
    plain = GLiClassModel(model.config)
    plain.load_state_dict(apply_delta(start, packed))
    assert torch.allclose(_logits(plain, batch), expected, atol=1e-2)

"""Model delta files on top of the embedded floor: save, load by path, clear errors."""

from __future__ import annotations

import pytest
import spacy
import torch
from safetensors import safe_open

from spacy_gliclass.errors import CheckpointError
from spacy_gliclass.modeling.defaults import build_embedding_bi_encoder, build_from_delta, save_delta
from spacy_gliclass.modeling.delta import ROW_SCALE, dequantize

pytestmark = pytest.mark.integration
LABELS = ["sports", "business", "science"]
TEXTS = ["The striker scored twice.", "Shares fell after the profit warning.", "A new exoplanet was found."]


def logits(model, processor):
    with torch.no_grad():
        return model.encode(processor(TEXTS, LABELS)).logits


@pytest.mark.parametrize("template", ["This text is about {label}.", ["This text is about {label}.", "{label}"]])
def test_a_delta_file_rebuilds_the_model_it_was_saved_from(tmp_path, template):
    model, processor = build_embedding_bi_encoder()
    model.config.label_template = template
    torch.manual_seed(0)
    with torch.no_grad():  # a rank-2 encoder update (stored exactly at rank 4) and changed heads
        query = model.encoder_model.encoder.layer[0].attention.self.query.weight
        query.add_(0.02 * torch.randn(query.shape[0], 2) @ torch.randn(2, query.shape[1]))
        model.text_projector.linear_2.weight.normal_(0, 0.01)
        model.logit_scale.fill_(9.0)
    model.clear_label_cache()
    expected = logits(model, processor)
    path = tmp_path / "delta.safetensors"
    stats = save_delta(model, path, rank=4)
    # The query update as two rank-4 factors; every head tensor whole; no other encoder tensor.
    assert stats["tensors"] == 2 + sum(1 for k in model.state_dict() if not k.startswith("encoder_model."))
    assert path.stat().st_size < 2 * 2**20
    rebuilt, rebuilt_processor = build_from_delta(path)
    assert rebuilt.config.label_template == template
    assert torch.allclose(logits(rebuilt, rebuilt_processor), expected, atol=2e-2)
    # ... and the pipe takes the file as its model.
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(path), "labels": LABELS})
    cats = nlp(TEXTS[0]).cats
    assert list(cats) == LABELS
    assert cats["sports"] == pytest.approx(float(torch.sigmoid(expected[0, 0])), abs=5e-3)


def test_a_delta_file_of_the_first_format_still_loads(tmp_path):
    """Format /1 stored every tensor as fp16 (no int8 rows): files written then keep working."""
    from safetensors.torch import save_file

    model, processor = build_embedding_bi_encoder()
    with torch.no_grad():
        model.logit_scale.fill_(9.0)
        model.classes_projector.linear_2.weight.normal_(0, 0.01)
    model.clear_label_cache()
    path = tmp_path / "v1.safetensors"
    save_delta(model, path, rank=4)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        delta = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    assert any(key.endswith(ROW_SCALE) for key in delta)  # today's format packs the projector in int8
    fp16 = {key: value.half() for key, value in dequantize(delta).items()}
    save_file(fp16, str(path), metadata={**metadata, "format": "spacy-gliclass-delta/1"})
    rebuilt, rebuilt_processor = build_from_delta(path)
    assert torch.allclose(logits(rebuilt, rebuilt_processor), logits(model, processor), atol=2e-2)


def test_a_missing_or_foreign_delta_file_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(CheckpointError, match="No model delta at"):
        build_from_delta(tmp_path / "nothing.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a spacy-gliclass model delta"):
        build_from_delta(foreign)


def test_floor_is_selectable_by_name():
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": "floor", "labels": LABELS})
    model, processor = build_embedding_bi_encoder()
    expected = torch.sigmoid(logits(model, processor)[0])
    assert [nlp(TEXTS[0]).cats[label] for label in LABELS] == pytest.approx(expected.tolist(), abs=1e-5)

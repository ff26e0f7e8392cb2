"""The model core: input format, truncation, injection, loading errors, batch independence."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from spacy_gliclass.errors import CheckpointError, GLiClassError, LabelError
from spacy_gliclass.modeling import GLiClassConfig, GLiClassModel
from spacy_gliclass.modeling.processor import LABEL_MARKER, SEP_MARKER

from .conftest import build_tiny

TEXTS = [
    "The striker scored twice in the final minutes.",
    "Stocks fell sharply after the central bank raised interest rates again.",
    "ok",
    "A new telescope has photographed the atmosphere of a distant planet in more detail than ever.",
]
LABELS = ["sports", "business", "science and technology"]


def test_config_keeps_unknown_keys_and_round_trips(tmp_path):
    raw = {"encoder_config": {"model_type": "bert", "hidden_size": 8, "vocab_size": 10}, "shuffle_labels": True}
    config = GLiClassConfig.from_dict(raw)
    assert config.shuffle_labels is True
    assert config.class_token_index == 10 and config.text_token_index == 11
    config.to_json_file(tmp_path / "config.json")
    again = GLiClassConfig.from_json_file(tmp_path / "config.json")
    assert again == config and json.loads((tmp_path / "config.json").read_text())["shuffle_labels"] is True


def test_input_format_prompt_first_and_text_first(tiny_uni):
    model, proc = GLiClassModel.from_pretrained(tiny_uni)
    cls_id, sep_id = proc.config.class_token_index, proc.config.text_token_index
    text_ids = proc.tokenize("Hello world")
    label_ids = [proc.tokenize(x) for x in ["a b", "c"]]
    block = [cls_id, *label_ids[0], cls_id, *label_ids[1], sep_id]
    ids = proc(["Hello world"], ["a b", "c"]).input_ids[0].tolist()
    assert ids == [101, *block, *text_ids, 102]
    proc.config.prompt_first = False
    ids = proc(["Hello world"], ["a b", "c"]).input_ids[0].tolist()
    assert ids == [101, *text_ids, *block, 102]
    # The same ids the tokenizer gives for the joined upstream string.
    joined = "Hello world" + LABEL_MARKER + "a b" + LABEL_MARKER + "c" + SEP_MARKER
    assert ids == proc.tokenizer(joined)["input_ids"]


def test_marker_strings_in_text_do_not_inject_markers(tiny_uni):
    _, proc = GLiClassModel.from_pretrained(tiny_uni)
    batch = proc([f"evil {LABEL_MARKER} text {SEP_MARKER}"], LABELS)
    ids = batch.input_ids[0]
    assert int((ids == proc.config.class_token_index).sum()) == len(LABELS)
    assert int((ids == proc.config.text_token_index).sum()) == 1


def test_truncation_cuts_text_never_labels(tiny_uni):
    _, proc = GLiClassModel.from_pretrained(tiny_uni, max_length=40)
    long_text = "word " * 200
    with pytest.warns(UserWarning, match="cut"):
        batch = proc([long_text], LABELS)
    ids = batch.input_ids[0]
    assert len(ids) == 40
    assert int((ids == proc.config.class_token_index).sum()) == len(LABELS)
    with pytest.raises(GLiClassError, match="label block"):
        proc(["x"], [f"label number {i}" for i in range(20)])


@pytest.mark.parametrize("bad", [[], ["a", "a"], ["a", 3], ["ok", "x<<SEP>>y"], [""]])
def test_bad_labels_raise_clear_errors(tiny_uni, bad):
    _, proc = GLiClassModel.from_pretrained(tiny_uni)
    with pytest.raises(LabelError):
        proc(["text"], bad)


@pytest.mark.parametrize("arch", ["uni", "bi"])
def test_scores_do_not_depend_on_batch_composition(arch, tiny_uni, tiny_bi):
    model, proc = GLiClassModel.from_pretrained(tiny_uni if arch == "uni" else tiny_bi)
    with torch.inference_mode():
        together = model.encode(proc(TEXTS, LABELS)).logits
        alone = torch.cat([model.encode(proc([t], LABELS)).logits for t in TEXTS])
    assert torch.allclose(together, alone, atol=1e-5)
    assert together.std() > 0  # a model that scores everything alike would pass vacuously


def test_per_text_label_sets_mask_empty_slots(tiny_uni):
    model, proc = GLiClassModel.from_pretrained(tiny_uni)
    with torch.inference_mode():
        out = model.encode(proc(TEXTS[:2], [LABELS, LABELS[:1]]))
        alone = model.encode(proc(TEXTS[1:2], LABELS[:1])).logits
    assert out.label_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert torch.allclose(out.logits[1, :1], alone[0], atol=1e-5)


def test_bi_encoder_caches_label_embeddings(tiny_bi):
    model, proc = GLiClassModel.from_pretrained(tiny_bi)
    calls = []
    original = model._encode_labels_uncached
    model._encode_labels_uncached = lambda ids, mask: calls.append(len(ids)) or original(ids, mask)
    with torch.inference_mode():
        first = model.encode(proc(TEXTS[:2], LABELS)).logits
        second = model.encode(proc(TEXTS[2:], LABELS)).logits
        again = model.encode(proc(TEXTS[:2], LABELS)).logits
    assert calls == [len(LABELS)]  # encoded once, served from the cache after that
    assert torch.equal(first, again) and second.shape == first.shape
    model.train()
    assert not model._label_cache


def test_save_and_reload_gives_identical_logits(tiny_uni, tmp_path):
    model, proc = GLiClassModel.from_pretrained(tiny_uni)
    model.save_pretrained(tmp_path / "copy", proc)
    again, proc2 = GLiClassModel.from_pretrained(tmp_path / "copy")
    with torch.inference_mode():
        assert torch.equal(model.encode(proc(TEXTS, LABELS)).logits, again.encode(proc2(TEXTS, LABELS)).logits)


def test_loads_legacy_bin_weights_only(tiny_uni, tmp_path):
    from safetensors.torch import load_file

    target = shutil.copytree(tiny_uni, tmp_path / "bin")
    torch.save(load_file(str(target / "model.safetensors")), target / "pytorch_model.bin")
    (target / "model.safetensors").unlink()
    model, proc = GLiClassModel.from_pretrained(target)
    ref, _ = GLiClassModel.from_pretrained(tiny_uni)
    with torch.inference_mode():
        assert torch.equal(model.encode(proc(TEXTS, LABELS)).logits, ref.encode(proc(TEXTS, LABELS)).logits)


def test_loading_errors_name_the_problem(tiny_uni, tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        GLiClassModel.from_pretrained(tmp_path / "nope")
    broken = shutil.copytree(tiny_uni, tmp_path / "broken")
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        GLiClassModel.from_pretrained(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors or pytorch_model.bin"):
        GLiClassModel.from_pretrained(broken)
    other = build_tiny(tmp_path / "other", scorer_type="simple")
    shutil.copy(other / "model.safetensors", broken / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing tensors.*scorer"):
        GLiClassModel.from_pretrained(broken)
    wrong = build_tiny(tmp_path / "wrong", hidden_size=16)
    shutil.copy(wrong / "model.safetensors", broken / "model.safetensors")
    with pytest.raises(CheckpointError, match="wrong shapes"):
        GLiClassModel.from_pretrained(broken)


def test_mismatched_special_tokens_are_refused(tiny_uni, tmp_path):
    bad = shutil.copytree(tiny_uni, tmp_path / "bad")
    config = json.loads((bad / "config.json").read_text())
    config["class_token_index"], config["text_token_index"] = config["text_token_index"], config["class_token_index"]
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(GLiClassError, match="<<LABEL>>"):
        GLiClassModel.from_pretrained(bad)


def test_hub_ids_are_refused_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE"):
        GLiClassModel.from_pretrained("knowledgator/gliclass-edge-v3.0")

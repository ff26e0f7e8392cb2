"""Shared fixtures: tiny random GLiClass checkpoints built in-process (seconds, no network)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_BACKBONE = {
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 512,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def build_tiny(path: Path, seed: int = 0, backbone: dict | None = None, **overrides) -> Path:
    """Save a tiny random GLiClass checkpoint (embedded WordPiece tokenizer) at ``path``;
    ``backbone`` overrides TINY_BACKBONE, ``overrides`` the GLiClass config."""
    import torch
    from transformers import AutoTokenizer, BertConfig

    from spacy_gliclass.modeling import GLiClassConfig, GLiClassModel, GLiClassProcessor
    from spacy_gliclass.modeling.defaults import embedded_encoder_path
    from spacy_gliclass.modeling.processor import EXAMPLE_MARKER, LABEL_MARKER, SEP_MARKER

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(embedded_encoder_path()), local_files_only=True)
    first = len(tokenizer)
    bi = overrides.get("architecture_type") == "bi-encoder"
    if not bi:
        tokenizer.add_tokens([LABEL_MARKER, SEP_MARKER, EXAMPLE_MARKER], special_tokens=True)
    backbone = BertConfig(**{**TINY_BACKBONE, **(backbone or {}), "vocab_size": len(tokenizer)}).to_dict()
    settings = {
        "encoder_config": backbone,
        "class_token_index": first,
        "text_token_index": first + 1,
        "example_token_index": first + 2,
        "vocab_size": len(tokenizer),
        "problem_type": "multi_label_classification",
        "dropout": 0.0,
        "prompt_first": True,
        "pooling_strategy": "avg",
        "scorer_type": "mlp",
    }
    if bi:
        settings.update(shared_label_encoder=True, normalize_features=True, logit_scale_init_value=5.0)
    settings.update(overrides)
    config = GLiClassConfig(**settings)
    model = GLiClassModel(config)
    model.save_pretrained(path, GLiClassProcessor(tokenizer, config))
    return path


@pytest.fixture(scope="session")
def tiny_uni(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny_uni"))


@pytest.fixture(scope="session")
def tiny_bi(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny_bi"), architecture_type="bi-encoder", scorer_type="simple")


MODEL_KEYS = ("max_length", "device", "quantize", "runtime", "head_lr_scale", "lora_rank", "label_template")
LOSSES = {
    "focal": {"@losses": "spacy-gliclass.focal_loss.v1"},
    "bce": {"@losses": "spacy-gliclass.bce_loss.v1"},
    "softmax": {"@losses": "spacy-gliclass.softmax_loss.v1"},
}


def gliclass_config(model, **settings) -> dict:
    """An add_pipe config for a gliclass pipe: model settings (max_length, quantize, …) go to the
    nested model block, ``loss="softmax"`` to the loss block, the rest stay pipe settings."""
    block = {"name": str(model), **{key: settings.pop(key) for key in MODEL_KEYS if key in settings}}
    if isinstance(settings.get("loss"), str):
        settings["loss"] = LOSSES[settings["loss"]]
    return {"model": block, **settings}


LABELS = ["sports", "business", "science and technology"]


def make_nlp(model, labels=LABELS, **settings):
    """A blank English pipeline with a gliclass pipe on ``model`` (see ``gliclass_config``)."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config=gliclass_config(model, labels=labels, **settings))
    return nlp


def cats_matrix(docs, labels=LABELS):
    """The docs' scores as a (docs × labels) array, in ``labels`` order."""
    import numpy

    return numpy.array([[doc.cats[label] for label in labels] for doc in docs])

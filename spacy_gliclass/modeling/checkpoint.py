"""Checkpoints: where a ``model`` name points, reading and writing the upstream layout, one ``load``.

A ``model`` name is "" (the default: the floor plus the shipped delta), "floor" (the untrained
embedded model), a delta file (``*.safetensors``, on top of the floor), a checkpoint folder
(``config.json`` + ``model.safetensors`` or ``pytorch_model.bin`` + tokenizer files), or a Hub id.
Reading never runs code from the checkpoint: safetensors first, ``torch.load`` only with
``weights_only``, and no symbolic link may lead out of the folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ..errors import CheckpointError, Errors
from . import defaults
from .config import GLiClassConfig
from .model import STATE_PREFIX, GLiClassModel
from .processor import GLiClassProcessor
from .safety import check_links

WEIGHTS_NAME = "model.safetensors"
LEGACY_WEIGHTS_NAME = "pytorch_model.bin"


def is_hub_id(name: str) -> bool:
    """``owner/name``: what the Hugging Face Hub accepts as a repository id."""
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", str(name)) is not None


def is_delta_file(name: str) -> bool:
    return name.endswith(".safetensors") and Path(name).expanduser().is_file()


def resolve_checkpoint(name: str | Path) -> Path:
    """A local checkpoint directory, or a Hub id fetched once (only when online and asked for);
    either way a folder with no symbolic link that leads outside it."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CheckpointError(Errors.E002.format(path=path, what="config.json"))
        check_links(path)
        return path
    text = str(name)
    if not is_hub_id(text):
        raise CheckpointError(Errors.E001.format(path=path))
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise CheckpointError(Errors.E006.format(name=text))
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(text))
    except Exception as err:  # network, auth, missing repo: all the user's to fix
        raise CheckpointError(Errors.E009.format(name=text, reason=err)) from err
    check_links(snapshot)
    return snapshot


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint: safetensors first; a .bin only through ``weights_only`` unpickling."""
    safetensors_file = path / WEIGHTS_NAME
    bin_file = path / LEGACY_WEIGHTS_NAME
    try:
        if safetensors_file.is_file():
            from safetensors.torch import load_file

            return load_file(str(safetensors_file))
        if bin_file.is_file():
            return torch.load(str(bin_file), map_location="cpu", weights_only=True)
    except Exception as err:
        bad = safetensors_file if safetensors_file.is_file() else bin_file
        raise CheckpointError(Errors.E003.format(path=bad, reason=err)) from err
    raise CheckpointError(Errors.E002.format(path=path, what=f"{WEIGHTS_NAME} or {LEGACY_WEIGHTS_NAME}"))


def read_checkpoint(name: str | Path, max_length: int = 512) -> tuple[GLiClassModel, GLiClassProcessor]:
    """A checkpoint folder (or Hub id) in the upstream layout: (model in eval mode, its processor)."""
    path = resolve_checkpoint(name)
    config = GLiClassConfig.from_json_file(path / "config.json")
    processor = GLiClassProcessor.from_pretrained(path, config, max_length=max_length)
    weights = read_weights(path)
    squeeze = weights.get(STATE_PREFIX + "layer_wise_attention.W1.weight")
    if config.squeeze_layers and squeeze is not None:
        # Upstream sizes this from num_hidden_layers but feeds it every hidden state (one more,
        # the embeddings included): trust the tensor, not the config.
        config.squeeze_num_layers = int(squeeze.shape[1])
    model = GLiClassModel(config)
    model.load_checkpoint_state_dict(weights, source=str(path))
    model.eval()
    return model, processor


def save_checkpoint(model: GLiClassModel, path: str | Path, processor: GLiClassProcessor | None = None) -> None:
    """Write config.json, model.safetensors (and the tokenizer) in the upstream layout."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(path / "config.json")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.checkpoint_state_dict().items()}
    save_file(tensors, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
    if processor is not None:
        processor.save_pretrained(path)


def load(name: str, max_length: int = 512) -> tuple[GLiClassModel, GLiClassProcessor]:
    """Any ``model`` name (see the module docstring) as (model in eval mode, its processor)."""
    if not name:
        return defaults.build_release_model(max_length=max_length)
    if name == defaults.FLOOR:
        return defaults.build_embedding_bi_encoder(max_length=max_length)
    if is_delta_file(name):
        return defaults.build_from_delta(Path(name).expanduser(), max_length=max_length)
    return read_checkpoint(name, max_length=max_length)

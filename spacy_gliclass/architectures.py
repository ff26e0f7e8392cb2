"""The registered thinc architecture: a torch GLiClassModel inside a shim, lazy and serialisable.

Like spacy-transformers' ``HFShim``, the shim owns the torch model, steps its parameters with the
thinc optimizer that ``spacy train`` configures (``PyTorchShim.finish_update``), and serialises
itself as config + tokenizer files + safetensors weights, so ``spacy.load`` rebuilds it offline.
``HFShim`` itself does not fit: it builds models through the transformers Auto registries, which
know nothing of GLiClass, and serialises through ``save_pretrained`` of an Auto model.

The model is lazy: building the pipe records only *where* the weights come from; they are read
on first use, at ``initialize``, or from the pipe's own bytes when a saved pipeline is loaded
(then the original checkpoint is never touched).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import srsly
import torch
from thinc.api import Model, PyTorchShim, get_torch_default_device

from .modeling import EncodedBatch, GLiClassConfig, GLiClassModel, GLiClassOutput, GLiClassProcessor


def load_checkpoint(name: str, max_length: int) -> tuple[GLiClassModel, GLiClassProcessor]:
    """A checkpoint directory or Hub id, or (empty name) the embedded default bi-encoder."""
    if not name:
        from .modeling.defaults import build_embedding_bi_encoder

        return build_embedding_bi_encoder(max_length=max_length)
    return GLiClassModel.from_pretrained(name, max_length=max_length)


class GLiClassShim(PyTorchShim):
    """Holds the torch model and its processor; loads them on first use."""

    def __init__(self, name: str = "", max_length: int = 512, device: str = "") -> None:
        super().__init__(None)
        self.cfg = {"name": name, "max_length": max_length, "device": device}
        self.processor: GLiClassProcessor | None = None

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def torch_device(self) -> torch.device:
        return torch.device(self.cfg["device"]) if self.cfg["device"] else get_torch_default_device()

    def ensure_loaded(self) -> GLiClassModel:
        if self._model is None:
            model, processor = load_checkpoint(self.cfg["name"], int(self.cfg["max_length"]))
            self._set(model, processor)
        return self._model

    def _set(self, model: GLiClassModel, processor: GLiClassProcessor) -> None:
        processor.max_length = int(self.cfg["max_length"])
        model.to(self.torch_device())
        model.eval()
        self._model, self.processor = model, processor

    def to_bytes(self) -> bytes:
        model = self.ensure_loaded()
        from safetensors.torch import save

        weights = save({k: v.detach().cpu().contiguous() for k, v in model.checkpoint_state_dict().items()})
        with tempfile.TemporaryDirectory() as tmp:
            self.processor.save_pretrained(tmp)
            tokenizer = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        msg = {
            "cfg": self.cfg,
            "config": json.dumps(model.config.to_dict()),
            "weights": weights,
            "tokenizer": tokenizer,
        }
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes) -> GLiClassShim:
        from safetensors.torch import load

        msg = srsly.msgpack_loads(bytes_data)
        self.cfg = msg["cfg"]
        config = GLiClassConfig.from_dict(json.loads(msg["config"]))
        with tempfile.TemporaryDirectory() as tmp:
            for fname, data in msg["tokenizer"].items():
                (Path(tmp) / fname).write_bytes(data)
            (Path(tmp) / "config.json").write_text(msg["config"], encoding="utf8")
            processor = GLiClassProcessor.from_pretrained(tmp, config, max_length=int(self.cfg["max_length"]))
        model = GLiClassModel(config)
        model.load_checkpoint_state_dict(load(msg["weights"]), source="<serialized gliclass pipe>")
        self._set(model, processor)
        return self

    def save_pretrained(self, path: str | Path) -> None:
        """Write the current weights as an upstream-layout checkpoint."""
        self.ensure_loaded().save_pretrained(path, self.processor)


def _forward(model: Model, batch: EncodedBatch, is_train: bool) -> tuple[GLiClassOutput, Any]:
    """Run the torch model. Gradients flow through torch autograd: the pipe calls
    ``loss.backward()`` and ``finish_update`` steps the parameters, so backprop is a no-op."""
    shim: GLiClassShim = model.shims[0]
    torch_model = shim.ensure_loaded()
    if torch_model.training != is_train:
        torch_model.train(is_train)
    if is_train:
        return torch_model.encode(batch), lambda d_output: batch
    with torch.inference_mode():
        return torch_model.encode(batch), lambda d_output: batch


def create_gliclass_model(name: str = "", max_length: int = 512, device: str = "") -> Model:
    """The thinc model of the ``gliclass`` pipe: ``name`` is a checkpoint dir, a Hub id, or empty."""
    shim = GLiClassShim(name=name, max_length=max_length, device=device)
    return Model("gliclass", _forward, shims=[shim], attrs={"name": name})


def get_shim(model: Model) -> GLiClassShim:
    return model.shims[0]

"""The shim of a ``runtime = "onnx"`` pipe: a GLiClassModel whose backbone runs in ONNX Runtime.

It loads a folder written by ``export --onnx`` (an upstream-layout checkpoint plus ``onnx/``
graphs): the checkpoint gives the config, tokenizer and GLiClass heads, the graph replaces the
torch backbone (``modeling.ort_encoder``). Everything else, from batching to the label cache, is
the torch pipe's code, so both runtimes give the same ``doc.cats`` up to float rounding.

A saved pipeline stores the heads' weights and the ONNX graph(s) it runs, not the torch backbone:
it loads without the original folder, and ``quantize`` is fixed when it is saved.
"""

from __future__ import annotations

from pathlib import Path

import srsly
import torch

from .architectures import GLiClassShim
from .errors import CheckpointError, Errors, GLiClassError
from .modeling import GLiClassModel, GLiClassProcessor, checkpoint
from .modeling.model import STATE_PREFIX
from .modeling.onnx_export import backbones, needs_all_hidden_states
from .modeling.ort_encoder import LABEL_ENCODER_STEM, OrtEncoder, import_onnxruntime, onnx_file
from .settings import ModelSettings


def attach_graphs(model: GLiClassModel, graphs: dict[str, bytes]) -> GLiClassModel:
    """Put ONNX Runtime encoders in place of ``model``'s torch backbone(s), by file stem."""
    all_states = needs_all_hidden_states(model)
    for stem in backbones(model):
        encoder = OrtEncoder(graphs[stem], all_hidden_states=all_states)
        setattr(model, "label_encoder" if stem == LABEL_ENCODER_STEM else "encoder_model", encoder)
    return model.eval()


class OrtShim(GLiClassShim):
    """Holds a GLiClassModel with ONNX Runtime backbones and its processor; loads them on first use."""

    def __init__(self, settings: ModelSettings | None = None) -> None:
        settings = settings or ModelSettings(runtime="onnx")
        if settings.device not in ("", "cpu"):
            raise GLiClassError(Errors.E089.format(device=settings.device))
        import_onnxruntime()  # a missing extra fails when the pipe is built, not on the first doc
        super().__init__(settings)
        self._graphs: dict[str, bytes] = {}

    def ensure_loaded(self) -> GLiClassModel:
        if self._model is None:
            name, quantize = self.cfg["name"], self.cfg["quantize"]
            path = onnx_file(name, "encoder", quantize)
            if not name or not path.is_file():
                raise CheckpointError(Errors.E086.format(path=name, file=path.relative_to(Path(name))))
            model, processor = checkpoint.load(name, int(self.cfg["max_length"]))
            graphs = {stem: onnx_file(name, stem, quantize).read_bytes() for stem in backbones(model)}
            self._use(attach_graphs(model, graphs), processor, graphs)
        return self._model

    def _use(self, model: GLiClassModel, processor: GLiClassProcessor, graphs: dict[str, bytes]) -> None:
        processor.max_length = int(self.cfg["max_length"])
        self._fp32, self._model, self.processor, self._graphs = model, model, processor, graphs

    def to_bytes(self) -> bytes:
        model = self.ensure_loaded()  # its state dict holds the heads only: the backbone is a graph
        return srsly.msgpack_dumps({**self._message(model), "onnx": self._graphs})

    def from_bytes(self, bytes_data: bytes) -> OrtShim:
        msg = srsly.msgpack_loads(bytes_data)
        saved, asked = msg["cfg"].get("quantize", ""), self.cfg.get("quantize", "")
        if saved != asked:
            raise GLiClassError(Errors.E088.format(what=f"it was saved with quantize={saved!r}, not {asked!r}"))
        self.take_saved_cfg(msg["cfg"])
        config, processor, weights = self._restore(msg)
        with torch.device("meta"):  # the torch backbone is replaced: never allocate its weights
            model = GLiClassModel(config)
        graphs = msg.get("onnx")
        if not isinstance(graphs, dict) or not all(isinstance(g, bytes) for g in graphs.values()):
            raise CheckpointError(Errors.E095.format(reason="the ONNX graphs are missing"))
        attach_graphs(model, graphs)
        heads = {k.removeprefix(STATE_PREFIX): v for k, v in weights.items()}
        try:
            model.load_state_dict(heads, strict=True, assign=True)
        except RuntimeError as err:
            raise CheckpointError(Errors.E095.format(reason=f"the head weights do not fit: {err}")) from err
        self._use(model, processor, graphs)
        return self

    def check_trainable(self) -> None:
        raise GLiClassError(Errors.E088.format(what="ONNX graphs have no gradients"))

    def save_pretrained(self, path: str | Path) -> None:
        raise GLiClassError(Errors.E088.format(what="it holds no torch backbone to export"))

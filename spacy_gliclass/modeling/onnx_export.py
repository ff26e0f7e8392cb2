"""Export a GLiClassModel's backbone(s) to ONNX, fp32 and dynamic int8.

What is exported is the transformers backbone only (``encoder_model``, and ``label_encoder`` of a
bi-encoder with its own label encoder): ``OrtEncoder`` runs it in place of the torch module, and
the GLiClass heads stay torch (see ``ort_encoder``). Each backbone becomes
``onnx/{stem}.onnx`` (fp32) and ``onnx/{stem}.int8.onnx``: weights of the matmuls of the layer
types in ``INT8_LAYER_TYPES`` int8, activations quantised per batch (dynamic quantisation: no
calibration set, and nothing to get wrong for texts unlike the calibration ones).

Measured on the embedded default, 4 datasets × 200 rows (README, Speed; ``benchmark --runtimes
… --onnx-layers``): every matmul type int8 with per-tensor 8-bit weights loses 3.2 points of average
macro-F1; keeping one type fp32 recovers at most 2.4 of them (ffn_in or ffn_out); per-channel
7-bit weights with every type int8 lose 0.2 points, so that is the default. Attention products of
two activations (Q·Kᵀ, attention·V) are never quantised.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ..errors import Errors, GLiClassError
from .model import GLiClassModel
from .ort_encoder import ENCODER_STEM, INPUT_NAMES, LABEL_ENCODER_STEM, onnx_file

OPSET = 17
# Matmul layer types, by the node names the exporter gives Hugging Face backbones' modules.
LAYER_TYPES: dict[str, str] = {
    "qkv": r"/(query|key|value|query_proj|key_proj|value_proj|q_proj|k_proj|v_proj|Wqkv|in_proj)/",
    "attention_output": r"/attention/output/|/(o_proj|out_proj)/|/attn/Wo/",
    "ffn_in": r"/(intermediate|fc1|up_proj|gate_proj|Wi)/",
    "ffn_out": r"(?<!attention)/output/dense/|/(fc2|down_proj)/|/mlp/Wo/",
}
INT8_LAYER_TYPES: tuple[str, ...] = ("qkv", "attention_output", "ffn_in", "ffn_out")
PER_CHANNEL = True  # one scale per output column of a weight, not per tensor
REDUCE_RANGE = True  # 7-bit weights: no int16 saturation in AVX2's u8×s8 kernels (no VNNI)


class _Backbone(nn.Module):
    """``(input_ids, attention_mask) -> states``: the graph ``OrtEncoder`` runs."""

    def __init__(self, encoder: nn.Module, all_hidden_states: bool) -> None:
        super().__init__()
        self.encoder = encoder
        self.all_hidden_states = all_hidden_states

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=self.all_hidden_states,
            return_dict=True,
        )
        return torch.stack(out.hidden_states) if self.all_hidden_states else out.last_hidden_state


def needs_all_hidden_states(model: GLiClassModel) -> bool:
    cfg = model.config
    return not cfg.is_bi_encoder and bool(cfg.squeeze_layers or cfg.encoder_layer_id != -1)


def backbones(model: GLiClassModel) -> dict[str, nn.Module]:
    """The backbones to export, by file stem."""
    out = {ENCODER_STEM: model.encoder_model}
    if model.config.is_bi_encoder and not model.config.shared_label_encoder:
        out[LABEL_ENCODER_STEM] = model.label_encoder
    return out


def export_backbone(encoder: nn.Module, path: Path, all_hidden_states: bool = False) -> Path:
    """Write ``encoder`` as an ONNX graph with dynamic batch and sequence axes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    vocab = int(encoder.config.vocab_size)
    ids = torch.randint(min(1000, vocab - 1), vocab, (2, 16))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    axes["states"] = {1: "batch", 2: "tokens"} if all_hidden_states else {0: "batch", 1: "tokens"}
    wrapper = _Backbone(encoder, all_hidden_states).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(
            wrapper,
            (ids, torch.ones_like(ids)),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=["states"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: seconds, and no onnxscript needed
        )
    return path


def layer_type(node_name: str) -> str | None:
    for name, pattern in LAYER_TYPES.items():
        if re.search(pattern, node_name):
            return name
    return None


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """The quantiser advises pre-processing through the root logger on every call: mute it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_int8(
    src: Path,
    dst: Path,
    layer_types: Sequence[str] = INT8_LAYER_TYPES,
    per_channel: bool = PER_CHANNEL,
    reduce_range: bool = REDUCE_RANGE,
) -> Path:
    """Dynamic int8 copy of ``src``: the weight matmuls of ``layer_types`` int8, the rest fp32."""
    import onnx

    from .ort_encoder import import_onnxruntime

    import_onnxruntime()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    unknown = sorted(set(layer_types) - set(LAYER_TYPES))
    if unknown:
        raise GLiClassError(Errors.E087.format(names=unknown, known=", ".join(LAYER_TYPES)))
    graph = onnx.load(str(src), load_external_data=False).graph
    keep_fp32 = [n.name for n in graph.node if n.op_type == "MatMul" and layer_type(n.name) not in layer_types]
    with warnings.catch_warnings(), _quiet_root_logger():
        warnings.simplefilter("ignore")
        quantize_dynamic(
            str(src),
            str(dst),
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=keep_fp32,
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},  # never the activation × activation products
            use_external_data_format=False,
        )
    return dst


def export_onnx(model: GLiClassModel, folder: str | Path, layer_types: Sequence[str] = INT8_LAYER_TYPES) -> list[Path]:
    """Write ``folder/onnx/{stem}.onnx`` and ``{stem}.int8.onnx`` for each backbone of ``model``."""
    if model.config.use_segment_embeddings:
        raise GLiClassError(Errors.E085.format(feature="use_segment_embeddings"))
    written = []
    for stem, encoder in backbones(model).items():
        fp32 = export_backbone(encoder, onnx_file(folder, stem, ""), needs_all_hidden_states(model))
        written += [fp32, quantize_int8(fp32, onnx_file(folder, stem, "int8"), layer_types)]
    return written

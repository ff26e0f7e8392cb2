"""An ONNX Runtime backbone that stands in for the transformers encoder inside a GLiClassModel.

Only the backbone runs in ONNX Runtime: it is all but a few percent of the compute. The GLiClass
heads (label/text pooling, projectors, scorer, logit scale) and the bi-encoder's label-embedding
cache stay the torch code of :class:`GLiClassModel`, so both runtimes share one implementation of
everything but the matmuls, and labels are still encoded once per label set.

``onnxruntime`` is imported only when a session is first needed. Sessions are created lazily in
the process that runs them: ``nlp.pipe(n_process=k)`` forks workers, and an ONNX Runtime session
(with its thread pool) must not cross a fork.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import Errors, GLiClassError

# ONNX file names inside an export's ``onnx/`` folder; ``{stem}.int8.onnx`` is the int8 variant.
ONNX_DIR = "onnx"
ENCODER_STEM = "encoder"
LABEL_ENCODER_STEM = "label_encoder"
INPUT_NAMES = ("input_ids", "attention_mask")
# Sessions a forked worker inherited from its parent. They are kept, never destroyed: their
# thread pool's threads did not survive the fork, so destroying one waits for them forever.
# Worker processes end with os._exit, so nothing ever frees them.
_INHERITED_SESSIONS: list[Any] = []


def import_onnxruntime() -> Any:
    """``onnxruntime``, or a clear error naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError as err:
        raise GLiClassError(Errors.E083.format(reason=err)) from err
    return onnxruntime


def onnx_file(folder: str | Path, stem: str, quantize: str) -> Path:
    return Path(folder) / ONNX_DIR / (f"{stem}.int8.onnx" if quantize == "int8" else f"{stem}.onnx")


def session_threads() -> int:
    """Intra-op threads: torch's setting, one inside ``nlp.pipe(n_process=k)`` workers (as the torch
    path does, so k workers do not oversubscribe the CPU); ``OMP_NUM_THREADS`` wins."""
    if os.environ.get("OMP_NUM_THREADS"):
        return int(os.environ["OMP_NUM_THREADS"])
    if multiprocessing.parent_process() is not None:
        return 1
    return torch.get_num_threads()


class OrtOutput:
    """The two fields of a transformers model output that GLiClassModel reads."""

    def __init__(self, last_hidden_state: torch.Tensor, hidden_states: tuple[torch.Tensor, ...] | None) -> None:
        self.last_hidden_state = last_hidden_state
        self.hidden_states = hidden_states


class OrtEncoder(nn.Module):
    """``encoder(input_ids=…, attention_mask=…)`` run by ONNX Runtime on the CPU.

    ``all_hidden_states``: the graph returns every layer's states stacked (layer-wise attention
    or ``encoder_layer_id`` configs) instead of the last layer's only."""

    def __init__(self, model_bytes: bytes, all_hidden_states: bool = False) -> None:
        super().__init__()
        self.model_bytes = model_bytes
        self.all_hidden_states = all_hidden_states
        self._session: Any = None
        self._session_pid: int | None = None

    def session(self) -> Any:
        if self._session is None or self._session_pid != os.getpid():
            if self._session is not None:
                _INHERITED_SESSIONS.append(self._session)
            ort = import_onnxruntime()
            options = ort.SessionOptions()
            options.intra_op_num_threads = session_threads()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = ort.InferenceSession(self.model_bytes, options, providers=["CPUExecutionProvider"])
            self._session_pid = os.getpid()
        return self._session

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **_: Any,
    ) -> OrtOutput:
        if input_ids is None or inputs_embeds is not None:
            raise GLiClassError(Errors.E085.format(feature="inputs_embeds (segment embeddings)"))
        feed = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        states = torch.from_numpy(self.session().run(None, feed)[0])
        if self.all_hidden_states:
            return OrtOutput(states[-1], tuple(states.unbind(0)))
        return OrtOutput(states, None)

    def __getstate__(self) -> dict[str, Any]:  # a session is never pickled; it is rebuilt on use
        state = self.__dict__.copy()
        state["_session"] = state["_session_pid"] = None
        return state

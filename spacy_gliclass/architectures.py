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
import multiprocessing
import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import srsly
import torch
from thinc.api import Model, Optimizer, PyTorchShim, get_torch_default_device, torch2xp, xp2torch

from .errors import CheckpointError, Errors, GLiClassError
from .memory import trim_heap
from .modeling import EncodedBatch, GLiClassConfig, GLiClassModel, GLiClassOutput, GLiClassProcessor, checkpoint
from .modeling.config import check_label_template
from .modeling.delta import add_lora, has_lora
from .modeling.safety import TOKENIZER_FILES, tokenizer_file
from .settings import ModelSettings
from .validation import check_int

QUANTIZE_OPTIONS = ("", "int8")
DEVICE_TYPES = ("cpu", "cuda", "mps")
# Shim settings taken from the config of the pipe being loaded, not from its saved bytes.
RUNTIME_KEYS = tuple(f.name for f in fields(ModelSettings) if f.name not in ("name", "runtime"))
RUNTIMES = ("torch", "onnx")
# Where a serialized pipe's stored names come from, for error messages (spaCy hands us bytes only).
SERIALIZED = "The serialized gliclass pipe (the `model` file of a saved pipeline)"


def quantize_int8(model: GLiClassModel) -> GLiClassModel:
    """A copy of ``model`` whose ``nn.Linear`` layers run as dynamic int8 (weights int8, activations
    quantised per batch): faster on a CPU (measure it: ``benchmark --int8``), slightly different
    scores. The embeddings, layer norms and attention products stay fp32."""
    import warnings

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch >= 2.10 flags its quantized tensors as deprecated (torchao)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        quantized = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=False)
    quantized.clear_label_cache()
    return quantized.eval()


def fit_threads_to_process() -> None:
    """One torch thread inside worker processes (``nlp.pipe(n_process=k)``), as torch's own
    DataLoader workers do: k workers that each start one thread per core would oversubscribe the
    CPU. The main process keeps torch's default (one thread per core). ``OMP_NUM_THREADS`` wins."""
    if multiprocessing.parent_process() is not None and not os.environ.get("OMP_NUM_THREADS"):
        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)


_threads_fitted_in: int | None = None


def resolve_device(name: str) -> torch.device:
    """The torch device of the ``device`` setting ("" = thinc's default, which follows
    ``spacy.prefer_gpu()``), checked against this machine so that a typo fails at add_pipe."""
    if not name:
        return get_torch_default_device()
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        reason = f"spacy-gliclass runs on {', '.join(DEVICE_TYPES)}"
    elif device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        reason = f"this machine has {torch.cuda.device_count()} CUDA device(s)"
    elif device.type == "mps" and not torch.backends.mps.is_available():
        reason = "MPS is not available on this machine"
    else:
        return device
    raise GLiClassError(Errors.E028.format(value=name, reason=reason))


def restore_tokenizer_files(folder: Path, files: Any) -> None:
    """Write a serialized pipe's tokenizer files into ``folder``: only allow-listed bare names, so
    a tampered pipeline cannot write elsewhere or smuggle in code for transformers to run."""
    if not isinstance(files, dict):
        raise CheckpointError(Errors.E095.format(reason=f"the tokenizer files are a {type(files).__name__}"))
    paths = {name: tokenizer_file(folder, name, SERIALIZED) for name in files}  # check all before writing any
    for name, path in paths.items():
        if not isinstance(files[name], bytes):
            raise CheckpointError(Errors.E095.format(reason=f"the tokenizer file {name!r} holds no bytes"))
        path.write_bytes(files[name])


def set_label_template(model: GLiClassModel, template: str | list[str]) -> None:
    """Make a bi-encoder read each label through ``template`` (e.g. "This text is about {label}."),
    or through each of a list of templates (views whose logits are averaged)."""
    if not model.config.is_bi_encoder:
        raise GLiClassError(Errors.E115)
    check_label_template(template)
    model.config.label_template = template if isinstance(template, str) else list(template)
    model.clear_label_cache()


class GLiClassShim(PyTorchShim):
    """Holds the torch model and its processor; loads them on first use."""

    def __init__(self, settings: ModelSettings | None = None) -> None:
        super().__init__(None)
        settings = settings or ModelSettings()
        check_int(settings.max_length, "max_length", 16)  # the upper bound, the encoder's positions: on load
        if settings.quantize not in QUANTIZE_OPTIONS:
            raise GLiClassError(Errors.E080.format(value=settings.quantize))
        # `name` is not looked at here: a saved pipeline is rebuilt from its own bytes, even when the
        # checkpoint it was created from is gone. A missing checkpoint fails when it is first needed.
        resolve_device(settings.device)
        if settings.label_template != "":  # "": the model's own
            check_label_template(settings.label_template)
        self.cfg = asdict(settings)
        self.processor: GLiClassProcessor | None = None
        # The fp32 model: what is saved and trained. `_model` is it, or its int8 copy (quantize="int8").
        self._fp32: GLiClassModel | None = None

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    @property
    def is_quantized(self) -> bool:
        return self._model is not None and self._model is not self._fp32

    def torch_device(self) -> torch.device:
        return resolve_device(self.cfg["device"])

    def ensure_loaded(self) -> GLiClassModel:
        if self._model is None:
            model, processor = checkpoint.load(self.cfg["name"], int(self.cfg["max_length"]))
            if self.cfg.get("label_template", "") != "":
                set_label_template(model, self.cfg["label_template"])
            self._set(model, processor)
        return self._model

    def _set(self, model: GLiClassModel, processor: GLiClassProcessor) -> None:
        max_length = int(self.cfg["max_length"])
        limit = model.config.position_limit()
        if limit is not None and max_length > limit[0]:
            # Longer inputs would fail deep inside the encoder (or be cut there) on the first long text.
            raise GLiClassError(Errors.E026.format(value=max_length, limit=limit[0], model_type=limit[1]))
        processor.max_length = max_length
        model.to(self.torch_device())
        model.eval()
        self._fp32, self._model, self.processor = model, model, processor
        if self.cfg.get("quantize") == "int8":
            if self.torch_device().type != "cpu":
                raise GLiClassError(Errors.E081.format(device=str(self.torch_device())))
            self._model = quantize_int8(model)

    def prepare_training(self) -> None:
        """With ``lora_rank`` > 0, train low-rank updates of the encoder only (added once, on the
        first training step; saved pipelines hold the merged weights, so inference never pays)."""
        rank = int(self.cfg.get("lora_rank") or 0)
        model = self.fp32_model()
        if rank > 0 and not has_lora(model.encoder_model):
            add_lora(model.encoder_model, rank)

    def fp32_model(self) -> GLiClassModel:
        """The full-precision model (what is saved, even when the pipe runs int8)."""
        self.ensure_loaded()
        return self._fp32

    def _message(self, model: GLiClassModel) -> dict[str, Any]:
        """What ``to_bytes`` stores: cfg, config, the model's weights and the tokenizer files."""
        from safetensors.torch import save

        weights = save({k: v.detach().cpu().contiguous() for k, v in model.checkpoint_state_dict().items()})
        with tempfile.TemporaryDirectory() as tmp:
            self.processor.save_pretrained(tmp)
            tokenizer = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        unknown = sorted(set(tokenizer) - TOKENIZER_FILES)
        if unknown:  # fail now rather than save a pipeline that loading refuses
            raise CheckpointError(Errors.E096.format(names=unknown, allowed=", ".join(sorted(TOKENIZER_FILES))))
        return {
            "cfg": self.cfg,
            "config": json.dumps(model.config.to_dict()),
            "weights": weights,
            "tokenizer": tokenizer,
        }

    def _restore(self, msg: dict[str, Any]) -> tuple[GLiClassConfig, GLiClassProcessor, dict[str, torch.Tensor]]:
        """The config, processor and weights of a ``_message``, checked before anything is built."""
        from safetensors.torch import load

        config = GLiClassConfig.from_dict(json.loads(msg["config"]), source=SERIALIZED)
        with tempfile.TemporaryDirectory() as tmp:
            restore_tokenizer_files(Path(tmp), msg["tokenizer"])
            (Path(tmp) / "config.json").write_text(msg["config"], encoding="utf8")
            processor = GLiClassProcessor.from_pretrained(tmp, config, max_length=int(self.cfg["max_length"]))
        try:
            weights = load(msg["weights"])
        except Exception as err:  # truncated, oversized header, not safetensors at all
            raise CheckpointError(
                Errors.E003.format(path="the weights of the serialized gliclass pipe", reason=err)
            ) from err
        return config, processor, weights

    def to_bytes(self) -> bytes:
        return srsly.msgpack_dumps(self._message(self.fp32_model()))

    def take_saved_cfg(self, saved: dict[str, Any]) -> None:
        """Where the model came from, from the saved bytes; how it runs, from the loading config."""
        self.cfg = {**saved, **{key: self.cfg[key] for key in RUNTIME_KEYS}}

    def from_bytes(self, bytes_data: bytes) -> GLiClassShim:
        msg = srsly.msgpack_loads(bytes_data)
        # The bytes hold the model and where it came from (`name`, never read again); how it runs
        # (device, max_length, quantisation, learning rates) is the loading pipe's config.
        self.take_saved_cfg(msg["cfg"])
        config, processor, weights = self._restore(msg)
        model = GLiClassModel(config)
        model.load_checkpoint_state_dict(weights, source="<serialized gliclass pipe>")
        self._set(model, processor)
        return self

    def check_trainable(self) -> None:
        if self.is_quantized:
            raise GLiClassError(Errors.E082)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the current weights as an upstream-layout checkpoint."""
        self.fp32_model().save_pretrained(path, self.processor)

    def finish_update(self, optimizer: Optimizer) -> None:
        """Step every parameter with the thinc optimizer ``spacy train`` configured.

        Unlike ``PyTorchShim.finish_update`` this handles scalar parameters (``logit_scale``,
        ``logit_bias``; thinc's optimizer needs arrays with a length) and lets the heads learn
        ``head_lr_scale`` times faster than the pretrained encoder."""
        head_scale = float(self.cfg.get("head_lr_scale", 1.0))
        for name, param in self.fp32_model().named_parameters():
            if param.grad is None:
                continue
            is_encoder = name.startswith(("encoder_model.", "label_encoder."))
            data, grad = param.data.reshape(-1), param.grad.reshape(-1)
            new, _ = optimizer(
                (self.id, name), torch2xp(data), torch2xp(grad), lr_scale=1.0 if is_encoder else head_scale
            )
            param.data = xp2torch(new, device=param.device).reshape(param.shape)
            param.grad = None
        trim_heap()


def _forward(model: Model, batch: EncodedBatch, is_train: bool) -> tuple[GLiClassOutput, Any]:
    """Run the torch model. Gradients flow through torch autograd: the pipe calls
    ``loss.backward()`` and ``finish_update`` steps the parameters, so backprop is a no-op."""
    global _threads_fitted_in
    if _threads_fitted_in != os.getpid():
        fit_threads_to_process()
        _threads_fitted_in = os.getpid()
    shim: GLiClassShim = model.shims[0]
    torch_model = shim.ensure_loaded()
    if is_train:
        shim.check_trainable()
        shim.prepare_training()
    if torch_model.training != is_train:
        torch_model.train(is_train)
    if is_train:
        return torch_model.encode(batch), lambda d_output: batch
    with torch.inference_mode():
        return torch_model.encode(batch), lambda d_output: batch


def create_gliclass_model(settings: ModelSettings | None = None) -> Model:
    """The thinc model of the ``gliclass`` pipe (``settings``: the model block; see
    ``factory.create_gliclass_model_v1``). ``runtime="onnx"`` runs the backbone in ONNX Runtime."""
    settings = settings or ModelSettings()
    if settings.runtime not in RUNTIMES:
        raise GLiClassError(Errors.E084.format(value=settings.runtime))
    shim_class: type[GLiClassShim] = GLiClassShim
    if settings.runtime == "onnx":  # imported here: a torch pipe never loads the ONNX wing
        from .ort_shim import OrtShim

        shim_class = OrtShim
    return Model("gliclass", _forward, shims=[shim_class(settings)], attrs={"name": settings.name})


def get_shim(model: Model) -> GLiClassShim:
    return model.shims[0]

"""Entry-point module: the ``gliclass`` factory, the model architecture and the scorer.

spaCy imports this module for *every* pipeline it creates, so it must stay cheap and can never
fail: it imports nothing but spaCy itself, and torch/transformers load only inside the
functions, when a ``gliclass`` pipe is actually built.
"""

from typing import Any, Union

from spacy.language import Language
from spacy.util import registry
from thinc.api import Model

DEFAULT_CONFIG: dict[str, Any] = {
    "model": "",
    "labels": [],
    "label_descriptions": {},
    "exclusive_classes": False,
    "threshold": 0.5,
    "prompt": "",
    "examples": [],
    "example_weight": 0.5,
    "batch_size": 8,
    "max_batch_tokens": 4096,
    "max_length": 512,
    "window_size": 0,
    "window_overlap": 0,
    "aggregation": "max",
    "device": "",
    "quantize": "",
    "runtime": "torch",
    "head_lr_scale": 1.0,
    "loss": "focal",
    "focal_alpha": 0.5,
    "focal_gamma": 2.0,
    "scorer": {"@scorers": "spacy-gliclass.scorer.v1"},
}


@Language.factory(
    "gliclass",
    default_config=DEFAULT_CONFIG,
    assigns=["doc.cats"],
    default_score_weights={
        "cats_score": 1.0,
        "cats_score_desc": None,
        "cats_micro_p": None,
        "cats_micro_r": None,
        "cats_micro_f": None,
        "cats_macro_p": None,
        "cats_macro_r": None,
        "cats_macro_f": None,
        "cats_macro_auc": None,
        "cats_f_per_type": None,
    },
)
def make_gliclass(
    nlp: Language,
    name: str,
    model: Union[str, Model],  # noqa: UP007 - spaCy's config validation needs typing.Union
    labels: list[str],
    label_descriptions: dict[str, str],
    exclusive_classes: bool,
    threshold: float,
    prompt: str,
    examples: list,  # items are checked by the pipe (clearer messages than config validation)
    example_weight: float,
    batch_size: int,
    max_batch_tokens: int,
    max_length: int,
    window_size: int,
    window_overlap: int,
    aggregation: str,
    device: str,
    quantize: str,
    runtime: str,
    head_lr_scale: float,
    loss: str,
    focal_alpha: float,
    focal_gamma: float,
    scorer: Any,
):
    """Build the pipe. ``model``: a checkpoint dir, a Hub id, "" (embedded default) or a thinc Model."""
    from .architectures import create_gliclass_model
    from .component import GLiClassCategorizer
    from .validation import check_int

    check_int(max_length, "max_length", 16)  # the upper bound, the encoder's positions, is checked on load
    if isinstance(model, str):
        model = create_gliclass_model(
            name=model,
            max_length=max_length,
            device=device,
            quantize=quantize,
            head_lr_scale=head_lr_scale,
            runtime=runtime,
        )
    return GLiClassCategorizer(
        nlp.vocab,
        model,
        name,
        labels=labels,
        label_descriptions=label_descriptions,
        exclusive_classes=exclusive_classes,
        threshold=threshold,
        prompt=prompt,
        examples=examples,
        example_weight=example_weight,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        window_size=window_size,
        window_overlap=window_overlap,
        aggregation=aggregation,
        loss=loss,
        focal_alpha=focal_alpha,
        focal_gamma=focal_gamma,
        scorer=scorer,
    )


@registry.architectures("spacy-gliclass.GLiClassModel.v1")
def create_gliclass_model_v1(
    name: str = "",
    max_length: int = 512,
    device: str = "",
    quantize: str = "",
    head_lr_scale: float = 1.0,
    lora_rank: int = 0,
    label_template: str = "",
    runtime: str = "torch",
) -> Model:
    """A GLiClass model loaded lazily from ``name`` (checkpoint dir, Hub id, "floor", a delta file,
    or "" = the default). ``quantize``: "" (fp32) or "int8" (dynamic int8 linear layers on the
    CPU; lossy, inference-only). ``lora_rank`` > 0: training moves low-rank adapters of the encoder
    and the heads only. ``label_template``: what a bi-encoder reads for a label, e.g. "This text is
    about {label}.". ``runtime``: "torch", or "onnx" (ONNX Runtime on the CPU, from a folder that
    ``export --onnx`` wrote; inference-only; needs the ``onnx`` extra)."""
    from .architectures import create_gliclass_model

    return create_gliclass_model(
        name=name,
        max_length=max_length,
        device=device,
        quantize=quantize,
        head_lr_scale=head_lr_scale,
        lora_rank=lora_rank,
        label_template=label_template,
        runtime=runtime,
    )


@registry.scorers("spacy-gliclass.scorer.v1")
def make_gliclass_scorer():
    from .scorer import score_gliclass

    return score_gliclass

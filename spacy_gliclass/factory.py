"""Entry-point module: the ``gliclass`` factory, the model architecture, the losses and the scorer.

spaCy imports this module for *every* pipeline it creates, so it must stay cheap and can never
fail: it imports nothing but spaCy and the settings dataclass, and torch/transformers load only
inside the functions, when a ``gliclass`` pipe is actually built.
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Union

from spacy.language import Language
from spacy.util import registry
from thinc.api import Model

from .settings import ModelSettings, PipeSettings

ARCHITECTURE = "spacy-gliclass.GLiClassModel.v1"
# The `[components.gliclass.model]` block: where the weights come from and how they run.
DEFAULT_MODEL: dict[str, Any] = {"@architectures": ARCHITECTURE, **asdict(ModelSettings())}
DEFAULT_CONFIG: dict[str, Any] = {
    "model": DEFAULT_MODEL,
    **PipeSettings().to_cfg(),
    "loss": {"@losses": "spacy-gliclass.focal_loss.v1", "alpha": 0.5, "gamma": 2.0},
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
    window_size: int,
    window_overlap: int,
    aggregation: str,
    loss: Union[str, Callable],  # noqa: UP007 - a string is the old flat form, refused with its new place
    scorer: Any,
):
    """Build the pipe. ``model``: the ``[components.gliclass.model]`` block, or as a shorthand a
    ``name`` alone (a checkpoint dir, a Hub id, a delta file, "floor", or "" = the default)."""
    from .architectures import create_gliclass_model
    from .component import GLiClassCategorizer

    if isinstance(model, str):
        model = create_gliclass_model(ModelSettings(name=model))
    return GLiClassCategorizer(
        nlp.vocab,
        model,
        name,
        loss=loss,
        scorer=scorer,
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
    )


@registry.architectures(ARCHITECTURE)
def create_gliclass_model_v1(
    name: str = ModelSettings.name,
    max_length: int = ModelSettings.max_length,
    device: str = ModelSettings.device,
    quantize: str = ModelSettings.quantize,
    head_lr_scale: float = ModelSettings.head_lr_scale,
    lora_rank: int = ModelSettings.lora_rank,
    label_template: Union[str, list[str]] = ModelSettings.label_template,  # noqa: UP007 - see `model` above
    runtime: str = ModelSettings.runtime,
) -> Model:
    """A GLiClass model loaded lazily from ``name`` (checkpoint dir, Hub id, "floor", a delta file,
    or "" = the default). ``quantize``: "" (fp32) or "int8" (int8 linear layers on the CPU; lossy,
    inference-only). ``lora_rank`` > 0: training moves low-rank adapters of the encoder and the
    heads only. ``label_template``: what a bi-encoder reads for a label, e.g. "This text is about
    {label}.", or a list of such views whose logits are averaged. ``runtime``: "torch", or "onnx"
    (ONNX Runtime on the CPU, from a folder that ``export --onnx`` wrote; inference-only; needs the
    ``onnx`` extra)."""
    settings = ModelSettings(**locals())  # first line: locals() holds exactly the block's settings
    from .architectures import create_gliclass_model

    return create_gliclass_model(settings)


@registry.losses("spacy-gliclass.focal_loss.v1")
def make_focal_loss(alpha: float = 0.5, gamma: float = 2.0) -> Callable:
    """Focal loss per label slot (independent labels); ``alpha`` < 0 or ``gamma`` = 0 turn its
    class weighting or its focusing off."""
    from .training.losses import FocalLoss

    return FocalLoss(alpha=alpha, gamma=gamma)


@registry.losses("spacy-gliclass.bce_loss.v1")
def make_bce_loss() -> Callable:
    """Plain binary cross-entropy per label slot."""
    from .training.losses import FocalLoss

    return FocalLoss(alpha=-1.0, gamma=0.0)


@registry.losses("spacy-gliclass.softmax_loss.v1")
def make_softmax_loss() -> Callable:
    """Cross-entropy of a softmax over each example's candidates: a ranking signal for
    single-label data."""
    from .training.losses import SoftmaxLoss

    return SoftmaxLoss()


@registry.scorers("spacy-gliclass.scorer.v1")
def make_gliclass_scorer():
    from .scorer import score_gliclass

    return score_gliclass

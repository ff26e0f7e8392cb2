"""GLiClassConfig: the upstream ``config.json`` of a GLiClass checkpoint, read and written as is.

Upstream configs carry many fields, some only used by architectures we do not run; we keep every
key we read (unknown ones included) so that a checkpoint saved by us is still a valid upstream
checkpoint. Keys that only spacy-gliclass understands (for the embedding-floor bi-encoder) sit
beside the upstream ones with upstream-neutral defaults: a config without them means upstream
behaviour.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..errors import Errors, GLiClassError
from ..jsonl import read_json_object
from .safety import refuse_remote_code

# Upstream fields and their defaults (gliclass 0.1.21).
UPSTREAM_DEFAULTS: dict[str, Any] = {
    "encoder_config": None,
    "encoder_model_name": None,
    "label_model_config": None,
    "label_model_name": None,
    "class_token_index": -1,
    "text_token_index": -1,
    "example_token_index": -1,
    "ignore_index": -100,
    "hidden_size": None,
    "projector_hidden_act": "gelu",
    "vocab_size": None,
    "problem_type": "single_label_classification",
    "max_num_classes": 25,
    "use_lstm": False,
    "initializer_range": 0.03,
    "scorer_type": "simple",
    "scorer_num_heads": 16,
    "scorer_mlp_hidden_size": 1024,
    "scorer_attn_dropout": 0.1,
    "pooling_strategy": "first",
    "class_token_pooling": "first",
    "focal_loss_alpha": 0.5,
    "focal_loss_gamma": 2,
    "focal_loss_reduction": None,
    "logit_scale_init_value": 2.6592,
    "normalize_features": False,
    "extract_text_features": False,
    "max_labels_alloc": "dynamic",
    "contrastive_loss_coef": 0,
    "architecture_type": "uni-encoder",
    "prompt_first": False,
    "squeeze_layers": False,
    "layer_wise": False,
    "encoder_layer_id": -1,
    "embed_class_token": True,
    "dropout": 0.1,
    "use_segment_embeddings": False,
}

# Keys of our own. Their defaults reproduce upstream behaviour exactly.
OWN_DEFAULTS: dict[str, Any] = {
    # Bi-encoder: encode labels with the text encoder itself (no `label_encoder.*` weights).
    "shared_label_encoder": False,
    # Projectors compute x + MLP(x) (identity at init when linear_2 starts at zero).
    "residual_projectors": False,
    # Bi-encoder: whether the label-encoder output goes through `biencoder_projector`.
    "use_biencoder_projector": True,
    # Add a learned scalar `logit_bias` to every logit (calibrated sigmoids for the floor model).
    "use_logit_bias": False,
    # Bi-encoder: the string the label encoder reads, "{label}" = the label as is; a list of
    # templates reads each label once per template and scores the mean of those views' logits.
    "label_template": "{label}",
    # Lower-case every label before encoding (checkpoints trained with gliclass <= 0.1.12).
    "lowercase_labels": False,
}

ARCHITECTURES = ("uni-encoder", "bi-encoder")
POOLINGS = ("first", "last", "avg", "max", "sum", "rms", "abs_max", "abs_avg", "pass")
SCORERS = ("simple", "mlp", "weighted-dot", "hopfield", "cross-attn")
CLASS_TOKEN_POOLINGS = ("first", "average")
# Backbones whose position ids start after the padding id (transformers' create_position_ids_from_input_ids).
OFFSET_POSITION_TYPES = ("roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text", "xmod")


def check_label_template(value: Any) -> None:
    """A label template is a string with a ``{label}`` place, or a non-empty list of them (views)."""
    templates = [value] if isinstance(value, str) else value
    if not isinstance(templates, (list, tuple)) or not templates or not all(isinstance(t, str) for t in templates):
        raise GLiClassError(Errors.E123.format(value=value))
    for template in templates:
        try:
            uses_label = template.format(label="x") != template.format(label="")
        except (KeyError, IndexError, ValueError) as err:
            raise GLiClassError(Errors.E116.format(template=template)) from err
        if not uses_label:  # every label would read the same
            raise GLiClassError(Errors.E116.format(template=template))


class GLiClassConfig:
    """Attribute access over a GLiClass ``config.json`` dict, with upstream defaults filled in.

    ``encoder_config`` (and ``label_model_config``) stay plain dicts here; ``backbone_config()``
    turns them into a transformers config object when a model is built, so reading and writing a
    config never imports a model class.
    """

    def __init__(self, **kwargs: Any) -> None:
        values = {**copy.deepcopy(UPSTREAM_DEFAULTS), **copy.deepcopy(OWN_DEFAULTS)}
        # Upstream's constructor names the field `encoder_model`; it is saved as `encoder_model_name`.
        if "encoder_model" in kwargs and "encoder_model_name" not in kwargs:
            kwargs["encoder_model_name"] = kwargs.pop("encoder_model")
        values.update(kwargs)
        self.__dict__["_values"] = values
        self._resolve_defaults()

    # -- attribute protocol -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__["_values"][name] = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GLiClassConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"GLiClassConfig({self.architecture_type}, scorer={self.scorer_type}, pooling={self.pooling_strategy})"

    # -- derived values -----------------------------------------------------------------------
    def _resolve_defaults(self) -> None:
        """Fill the fields upstream derives from the backbone (hidden size, vocab, marker ids)."""
        enc = self.encoder_config or {}
        if self.hidden_size is None and "hidden_size" in enc:
            self.hidden_size = enc["hidden_size"]
        if self.vocab_size is None and "vocab_size" in enc:
            self.vocab_size = enc["vocab_size"]
        if self.vocab_size is not None:
            for key, offset in (("class_token_index", 0), ("text_token_index", 1), ("example_token_index", 2)):
                if getattr(self, key) == -1:
                    setattr(self, key, self.vocab_size + offset)

    def validate(self) -> None:
        """Raise a clear error for settings this implementation cannot run."""
        checks = (
            ("architecture_type", ARCHITECTURES),
            ("pooling_strategy", POOLINGS),
            ("scorer_type", SCORERS),
            ("class_token_pooling", CLASS_TOKEN_POOLINGS),
        )
        for key, supported in checks:
            value = getattr(self, key)
            if value not in supported:
                raise GLiClassError(Errors.E007.format(what=key, value=value, supported=", ".join(supported)))
        if self.encoder_config is None:
            raise GLiClassError(
                "The GLiClass config has no `encoder_config`: the backbone cannot be built offline. "
                "Use a checkpoint saved with its nested encoder config."
            )
        if self.scorer_type == "cross-attn" and self.pooling_strategy != "pass":
            raise GLiClassError(Errors.E021)
        if self.architecture_type == "bi-encoder" and not self.shared_label_encoder and not self.label_model_config:
            raise GLiClassError(Errors.E022)
        check_label_template(self.label_template)

    @property
    def encoder_hidden_size(self) -> int:
        return int(self.encoder_config["hidden_size"])

    @property
    def label_hidden_size(self) -> int:
        if self.shared_label_encoder or not self.label_model_config:
            return self.encoder_hidden_size
        return int(self.label_model_config["hidden_size"])

    @property
    def is_bi_encoder(self) -> bool:
        return self.architecture_type == "bi-encoder"

    @property
    def label_templates(self) -> list[str]:
        """The bi-encoder's label views: one template, or several whose logits are averaged."""
        template = self.label_template
        return [template] if isinstance(template, str) else list(template)

    def position_limit(self) -> tuple[int, str] | None:
        """(most tokens the backbone(s) can read, the backbone's model_type); None if unbounded.

        BERT-like encoders have one learned position per token, ``max_position_embeddings`` of
        them; RoBERTa-like ones start counting after the padding id, so two fewer are usable;
        DeBERTa-v2 without ``position_biased_input`` uses relative positions only (no limit)."""
        limits = []
        for backbone in (self.encoder_config, self.label_model_config):
            if not backbone or backbone.get("max_position_embeddings") is None:
                continue
            model_type = backbone.get("model_type", "")
            limit = int(backbone["max_position_embeddings"])
            if model_type.startswith("deberta") and not backbone.get("position_biased_input", True):
                continue
            if model_type in OFFSET_POSITION_TYPES:
                limit -= int(backbone.get("pad_token_id", 1)) + 1
            limits.append((limit, model_type))
        return min(limits) if limits else None

    def backbone_config(self, which: str = "encoder_config") -> Any:
        """The transformers config object of the text backbone (or of the label encoder)."""
        from transformers import CONFIG_MAPPING

        raw = dict(getattr(self, which))
        model_type = raw.pop("model_type", "deberta-v2")
        if model_type not in CONFIG_MAPPING:
            raise GLiClassError(
                Errors.E007.format(
                    what="backbone model_type",
                    value=model_type,
                    supported="the model types of the installed transformers (bert, deberta-v2, modernbert, ...)",
                )
            )
        return CONFIG_MAPPING[model_type](**raw)

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = copy.deepcopy(self.__dict__["_values"])
        out.setdefault("model_type", "GLiClass")
        out.setdefault("architectures", ["GLiClassModel"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the GLiClass config") -> GLiClassConfig:
        """A config from a stored dict; one that points transformers at shipped code is refused."""
        refuse_remote_code(data, source)
        return cls(**copy.deepcopy(data))

    def to_json_file(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf8")

    @classmethod
    def from_json_file(cls, path: str | Path) -> GLiClassConfig:
        return cls.from_dict(read_json_object(Path(path)), source=str(path))

"""The PPO ``.cfg`` file: loading it, the checked ``[training]`` settings, and the rewards it names."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import Errors, GLiClassError
from ..validation import check_float, check_int, check_type
from .rewards import RewardFn  # importing rewards registers the reward functions a config names

DEFAULT_CONFIG_PATH = Path(__file__).parent / "ppo_default.cfg"


@dataclass
class PPOConfig:
    max_steps: int = 100
    batch_size: int = 8
    inner_epochs: int = 3
    clip: float = 0.2
    kl_beta: float = 0.05
    entropy_beta: float = 0.0
    encoder_lr: float = 1e-5
    head_lr: float = 1e-4
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    value_head: bool = False
    value_lr: float = 1e-3
    samples_per_example: int = 4
    per_label_advantages: bool = True
    normalize_advantages: bool = True
    shuffle_labels: bool = True
    eval_every: int = 10
    dev_top_label_only: bool = False
    dev_gain_z: float = 0.0
    patience: int = 3
    seed: int = 0
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.value_head and self.samples_per_example > 1:
            raise GLiClassError(Errors.E066.format(k=self.samples_per_example))
        if self.value_head and self.per_label_advantages:
            raise GLiClassError(Errors.E076)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PPOConfig:
        """The ``[training]`` section, each value checked against its field's type and range."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise GLiClassError(Errors.E063.format(keys=unknown, known=sorted(known)))
        checked: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            name, value = f"training.{f.name}", values[f.name]
            if isinstance(f.default, bool):
                checked[f.name] = check_type(value, name, bool, "true or false")
            elif isinstance(f.default, int):
                checked[f.name] = check_int(value, name, _MINIMUMS.get(f.name, 0))
            else:
                checked[f.name] = check_float(value, name, _MINIMUMS.get(f.name, -math.inf))
        return cls(**checked)


# Least values of the [training] settings; the rest are ≥ 0 (integers) or any number (max_grad_norm ≤ 0
# turns clipping off; patience 0 never stops early, though the best dev weights are still restored).
_MINIMUMS: dict[str, float] = {
    "max_steps": 1,
    "batch_size": 1,
    "inner_epochs": 1,
    "log_every": 1,
    "samples_per_example": 1,
    "eval_every": 1,
    "clip": 0.0,
    "kl_beta": 0.0,
    "entropy_beta": 0.0,
    "encoder_lr": 0.0,
    "head_lr": 0.0,
    "weight_decay": 0.0,
    "value_lr": 0.0,
    "dev_gain_z": 0.0,
}


def load_ppo_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Any:
    from spacy.util import load_config

    if not Path(path).is_file():
        raise GLiClassError(Errors.E075.format(path=path))
    return load_config(Path(path), overrides=overrides or {}, interpolate=True)


def resolve_rewards(config: Any) -> tuple[dict[str, RewardFn], dict[str, float]]:
    """The ``[rewards]`` block (name → registered reward) and ``[reward_weights]`` (name → weight)."""
    from spacy.util import registry

    block = dict(config.get("rewards") or {})
    if not block:
        raise GLiClassError(Errors.E064)
    resolved = registry.resolve({"rewards": block})["rewards"]
    weights = {k: float(v) for k, v in dict(config.get("reward_weights") or {}).items()}
    unknown = sorted(set(weights) - set(resolved))
    if unknown:
        raise GLiClassError(Errors.E065.format(names=unknown, known=sorted(resolved)))
    return dict(resolved), weights

"""PPO for multi-label classification, on the model's public API only.

The policy is the classifier: every (text, candidate label) slot is an independent Bernoulli
action with ``p = sigmoid(logit)``. One batch is one episode: actions are sampled, a reward per
example is computed (registered reward functions, see ``rewards.py``), turned into advantages
(per label decision by default, see ``advantages.py``), and the policy is moved
with the clipped PPO objective, a k3 KL penalty to a frozen copy of the starting model and an
optional entropy bonus. Rows are read by ``ppo_data``, the config by ``ppo_config``.

Where we differ from upstream GLiClass: upstream re-samples actions on every inner iteration and
uses the previous iteration's log-probs (of *other* actions) as the "old" policy, so its ratio is
not an importance weight. Here, as in standard PPO, actions are sampled **once per batch** from
the policy as it was at the start of the batch, their log-probs under that policy are fixed
(``logp_old``), and the ``inner_epochs`` optimisation passes all reuse those actions and that
reward. The ratio then is the exact importance weight the clipping is designed for, and the
reward is computed once per batch (which matters when it is expensive or comes from people).
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import Errors, GLiClassError
from ..memory import trim_heap
from ..modeling import GLiClassModel, GLiClassProcessor, checkpoint
from ..validation import check_int
from .advantages import batch_mean_advantage, leave_one_out_advantage, normalize_advantages, per_label_advantage
from .early_stopping import BestOnDev, DevScore
from .ppo_config import PPOConfig, resolve_rewards
from .ppo_data import PPOExample, read_ppo_examples
from .rewards import UNJUDGED, RewardFn, combine_rewards


# -- pure pieces ------------------------------------------------------------------------------
def bernoulli_log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Per-slot log-probability of 0/1 ``actions`` under Bernoulli(sigmoid(logits)), stably."""
    return actions * F.logsigmoid(logits) + (1 - actions) * F.logsigmoid(-logits)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the slots ``mask`` keeps; a (B, C) mask broadcasts over (K, B, C) values."""
    m = mask.to(values.dtype).expand_as(values)
    return (values * m).sum() / m.sum().clamp(min=1.0)


def clipped_surrogate(
    logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> torch.Tensor:
    """PPO loss ``−min(r·A, clip(r, 1−ε, 1+ε)·A)``, ``r = exp(logp_new − logp_old)``, as a masked
    mean over slots; ``advantages`` (B,) — or (K, B) for K samples per example — is broadcast to every
    label slot of its example; advantages of the slots' own shape (per-label credit) apply slot by slot."""
    ratio = torch.exp(logp_new - logp_old)
    adv = (advantages if advantages.shape == ratio.shape else advantages.unsqueeze(-1)).to(ratio.dtype)
    objective = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    return -_masked_mean(objective, mask)


def kl_k3(logp_ref: torch.Tensor, logp_cur: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """k3 estimator of KL(current ‖ reference) on sampled actions: ``exp(d) − d − 1``, ``d = ref − cur``;
    non-negative and unbiased, masked mean over slots."""
    d = logp_ref - logp_cur
    return _masked_mean(torch.exp(d) - d - 1, mask)


def bernoulli_entropy(probs: torch.Tensor, mask: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Mean binary entropy ``−p log p − (1−p) log(1−p)`` (nats) over the masked slots."""
    p = probs.clamp(eps, 1 - eps)
    return _masked_mean(-(p * torch.log(p) + (1 - p) * torch.log(1 - p)), mask)


class ValueHead(nn.Module):
    """V(s): a small MLP on the model's pooled text embedding (B, H) → (B,)."""

    def __init__(self, hidden: int, inner: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, inner), nn.Tanh(), nn.Linear(inner, 1))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.net(embeddings).squeeze(-1)


# -- trainer ----------------------------------------------------------------------------------
def is_encoder_param(name: str) -> bool:
    return name.startswith(("encoder_model.", "label_encoder."))


def make_optimizer(model: nn.Module, encoder_lr: float, head_lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with separate learning rates for the backbone(s) and the heads; no decay on biases/norms."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim < 2 or "LayerNorm" in name or "norm" in name.lower()
        groups.setdefault((is_encoder_param(name), no_decay), []).append(param)
    param_groups = [
        {"params": params, "lr": encoder_lr if enc else head_lr, "weight_decay": 0.0 if no_decay else weight_decay}
        for (enc, no_decay), params in groups.items()
    ]
    return torch.optim.AdamW(param_groups)


@dataclass
class PPOTrainer:
    """Runs PPO steps on a GLiClass model; ``reference`` is a frozen copy of the starting model."""

    model: GLiClassModel
    processor: GLiClassProcessor
    rewards: dict[str, RewardFn]
    reward_weights: dict[str, float] = field(default_factory=dict)
    config: PPOConfig = field(default_factory=PPOConfig)

    def __post_init__(self) -> None:
        if not self.rewards:
            raise GLiClassError(Errors.E064)
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.rng = random.Random(cfg.seed)
        self.reference = copy.deepcopy(self.model).eval() if cfg.kl_beta > 0 else None
        if self.reference is not None:
            self.reference.requires_grad_(False)
        self.optimizer = make_optimizer(self.model, cfg.encoder_lr, cfg.head_lr, cfg.weight_decay)
        self.value_head: ValueHead | None = None
        if cfg.value_head:
            self.value_head = ValueHead(self.model.config.encoder_hidden_size)
            self.value_head.to(next(self.model.parameters()).device)
            self.value_optimizer = torch.optim.AdamW(self.value_head.parameters(), lr=cfg.value_lr)

    def _batch(self, examples: Sequence[PPOExample], shuffle: bool) -> tuple[Any, torch.Tensor]:
        label_sets, target_rows = [], []
        for eg in examples:
            order = list(range(len(eg.labels)))
            if shuffle:
                self.rng.shuffle(order)
            label_sets.append([eg.labels[i] for i in order])
            target_rows.append([eg.targets[i] for i in order])
        batch = self.processor([eg.text for eg in examples], label_sets)
        width = max(len(r) for r in target_rows)
        targets = torch.full((len(examples), width), UNJUDGED)
        for i, row in enumerate(target_rows):
            targets[i, : len(row)] = torch.tensor(row)
        return batch, targets

    def step(self, examples: Sequence[PPOExample]) -> dict[str, float]:
        """One PPO episode on a batch: sample once, score once, ``inner_epochs`` policy updates."""
        cfg = self.config
        device = next(self.model.parameters()).device
        batch, targets = self._batch(examples, cfg.shuffle_labels)
        targets = targets.to(device)
        self.model.train()
        k = cfg.samples_per_example
        with torch.no_grad():
            first = self.model.encode(batch, return_embeddings=self.value_head is not None)
            mask = first.label_mask.to(first.logits.dtype)
            targets = targets[:, : mask.shape[1]]
            probs = torch.sigmoid(first.logits) * mask
            samples = probs.cpu().unsqueeze(0).expand(k, *probs.shape)
            actions = torch.bernoulli(samples, generator=self.generator).to(device) * mask  # (K, B, C)
            logp_old = bernoulli_log_prob(first.logits, actions)
            judged = [combine_rewards(self.rewards, self.reward_weights, probs, a, targets, mask) for a in actions]
            reward = torch.stack([r for r, _ in judged])  # (K, B)
            parts = {name: sum(p[name] for _, p in judged) / k for name in judged[0][1]}
            logp_ref = None
            if self.reference is not None:
                logp_ref = bernoulli_log_prob(self.reference.encode(batch).logits, actions)
        stats: dict[str, float] = {"reward": float(reward.mean()), **{f"reward_{name}": v for name, v in parts.items()}}
        if self.value_head is not None:  # one sample per text (PPOConfig checks)
            value = self.value_head(first.text_embeddings.detach())
            value_loss = F.mse_loss(value, reward[0])
            self.value_optimizer.zero_grad()
            value_loss.backward()
            self.value_optimizer.step()
            advantages = reward - value.detach()
            stats["value_loss"] = float(value_loss.detach())
        elif cfg.per_label_advantages:
            advantages = per_label_advantage(self._slot_rewards(probs, targets, mask, k), probs, actions)
        elif k > 1:
            advantages = leave_one_out_advantage(reward)
        else:
            advantages = batch_mean_advantage(reward)
        if cfg.normalize_advantages:
            advantages = normalize_advantages(advantages)
        policy_mask = mask * (targets >= 0).to(mask.dtype)  # unjudged slots do not move the reward
        for _ in range(cfg.inner_epochs):
            out = self.model.encode(batch)
            logp = bernoulli_log_prob(out.logits, actions)
            loss = clipped_surrogate(logp, logp_old, advantages, policy_mask, cfg.clip)
            stats["policy_loss"] = float(loss.detach())
            if logp_ref is not None:
                kl = kl_k3(logp_ref, logp, mask)
                loss = loss + cfg.kl_beta * kl
                stats["kl"] = float(kl.detach())
            if cfg.entropy_beta:
                entropy = bernoulli_entropy(torch.sigmoid(out.logits), mask)
                loss = loss - cfg.entropy_beta * entropy
                stats["entropy"] = float(entropy.detach())
            self.optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
        self.model.eval()
        trim_heap()
        return stats

    def _slot_rewards(
        self, probs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, k: int
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """The reward of (K·B·C, C) actions laid out as ``per_label_advantage`` flattens them."""
        c = probs.shape[-1]

        def spread(t: torch.Tensor) -> torch.Tensor:
            return t.unsqueeze(0).unsqueeze(2).expand(k, -1, c, c).reshape(-1, c)

        p, t, m = spread(probs), spread(targets), spread(mask)
        return lambda actions: combine_rewards(self.rewards, self.reward_weights, p, actions, t, m)[0]

    def batches(self, examples: Sequence[PPOExample]) -> Iterable[list[PPOExample]]:
        """Endless seeded shuffled batches."""
        order = list(range(len(examples)))
        while True:
            self.rng.shuffle(order)
            for start in range(0, len(order), self.config.batch_size):
                yield [examples[i] for i in order[start : start + self.config.batch_size]]

    def train(
        self,
        examples: Sequence[PPOExample],
        log: Callable[[str], None] | None = None,
        dev_score: DevScore | None = None,
    ) -> list[dict[str, float]]:
        """``max_steps`` PPO steps; with ``dev_score`` (higher is better: a number, or one per dev row for
        ``dev_gain_z``), early stopping on it and the best weights (the start model's included) restored
        at the end."""
        cfg = self.config
        history: list[dict[str, float]] = []
        stream = iter(self.batches(examples))
        dev = BestOnDev(self.model, dev_score, cfg.dev_gain_z) if dev_score is not None else None
        for step in range(1, cfg.max_steps + 1):
            stats = self.step(next(stream))
            history.append(stats)
            if dev is not None and step % cfg.eval_every == 0:
                stats["dev_score"] = dev.score(step)
            if log and (step % max(self.config.log_every, 1) == 0 or step == self.config.max_steps):
                recent = history[-max(self.config.log_every, 1) :]
                mean = sum(s["reward"] for s in recent) / len(recent)
                last = " ".join(f"{k} {v:.4f}" for k, v in stats.items())
                log(f"step {step}: mean reward of the last {len(recent)} steps {mean:.4f} | this step: {last}")
            if dev is not None and cfg.patience and dev.evaluations_without_gain >= cfg.patience:
                break
        if dev is not None:
            dev.restore()
            if log:
                log(f"dev score {dev.best:.4f} at step {dev.best_step} (step 0 = the start model): weights restored")
        return history

    @torch.no_grad()
    def greedy_rewards(
        self, examples: Sequence[PPOExample], threshold: float = 0.5, top_label: bool = False
    ) -> torch.Tensor:
        """Reward of the deterministic policy per example (label on when p ≥ threshold; with
        ``top_label``, the highest-scoring label always on, for data where every text has a label)."""
        self.model.eval()
        rewards = []
        for start in range(0, len(examples), self.config.batch_size):
            chunk = examples[start : start + self.config.batch_size]
            batch, targets = self._batch(chunk, shuffle=False)
            out = self.model.encode(batch)
            mask = out.label_mask.to(out.logits.dtype)
            targets = targets.to(mask.device)[:, : mask.shape[1]]
            probs = torch.sigmoid(out.logits) * mask
            actions = (probs >= threshold).to(probs.dtype) * mask
            if top_label:
                top = out.logits.masked_fill(mask == 0, float("-inf")).argmax(-1, keepdim=True)
                actions = actions.scatter(-1, top, 1.0)
            rewards.append(combine_rewards(self.rewards, self.reward_weights, probs, actions, targets, mask)[0].cpu())
        return torch.cat(rewards) if rewards else torch.zeros(0)

    def greedy_reward(self, examples: Sequence[PPOExample], threshold: float = 0.5, top_label: bool = False) -> float:
        """Mean of :meth:`greedy_rewards` (0 for no examples)."""
        rewards = self.greedy_rewards(examples, threshold, top_label)
        return float(rewards.double().mean()) if rewards.numel() else 0.0


# -- config-driven entry point ----------------------------------------------------------------
def train_ppo(
    config: Any, output_dir: str | Path, log: Callable[[str], None] | None = print
) -> tuple[GLiClassModel, list[dict[str, float]]]:
    """Run PPO as the config says; write ``checkpoint/`` (upstream layout) and ``pipeline/`` (spaCy)."""
    import spacy

    output_dir = Path(output_dir)
    seed = check_int(config.get("system", {}).get("seed", 0), "system.seed")
    model_cfg = dict(config.get("model") or {})
    data_cfg = dict(config.get("data") or {})
    train_cfg = {**dict(config.get("training") or {}), "seed": seed}
    ppo_config = PPOConfig.from_dict(train_cfg)
    random.seed(seed)
    torch.manual_seed(seed)
    rewards, weights = resolve_rewards(config)
    examples = read_ppo_examples(data_cfg.get("train", ""), check_int(data_cfg.get("max_rows", 0), "data.max_rows"))
    max_length = check_int(model_cfg.get("max_length", 256), "model.max_length", 16)
    model, processor = checkpoint.load(str(model_cfg.get("checkpoint", "")), max_length)
    trainer = PPOTrainer(model, processor, rewards, weights, ppo_config)
    dev_score = None
    if data_cfg.get("dev"):  # early stopping on the reward of the deterministic policy, top label always on
        dev_examples = read_ppo_examples(
            data_cfg["dev"], check_int(data_cfg.get("max_dev_rows", 0), "data.max_dev_rows")
        )
        threshold = math.inf if ppo_config.dev_top_label_only else 0.5

        def dev_score(_: GLiClassModel) -> torch.Tensor:
            return trainer.greedy_rewards(dev_examples, threshold=threshold, top_label=True)

    start = time.perf_counter()
    if log:
        log(f"PPO on {len(examples)} examples, {ppo_config.max_steps} steps, rewards {sorted(rewards)}")
    history = trainer.train(examples, log=log, dev_score=dev_score)
    if log:
        log(f"done in {time.perf_counter() - start:.1f}s")
    saved = output_dir / "checkpoint"
    model.save_pretrained(saved, processor)
    labels = list(dict.fromkeys(label for eg in examples for label in eg.labels))
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(saved), "labels": labels})
    nlp.to_disk(output_dir / "pipeline")
    with (output_dir / "history.jsonl").open("w", encoding="utf8") as f:
        for stats in history:
            f.write(json.dumps({k: (v if math.isfinite(v) else None) for k, v in stats.items()}) + "\n")
    return model, history

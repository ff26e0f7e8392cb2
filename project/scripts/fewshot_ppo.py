"""Few-shot (8 examples per label) fine-tuning on single-label sets: zero-shot vs supervised vs PPO.

Each stage starts from the embedded default (zero-shot) model and uses the same examples:
  sft          softmax ranking loss (training/losses.py) over the dataset's labels
  ppo_f1       PPO with the F1 reward against the gold labels
  ppo_feedback PPO from yes/no judgements only: the zero-shot model proposes labels (score ≥ 0.5,
               at least its top 2); a simulated person accepts the gold one, rejects the others.
Score: macro-F1 of the argmax over the dataset's labels on a seeded sample of test rows.

    nice -n 10 python project/scripts/fewshot_ppo.py --datasets sst5,emotion,ag_news
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path

import torch

from spacy_gliclass.datasets import dataset_labels, macro_f1, read_split
from spacy_gliclass.modeling.defaults import build_embedding_bi_encoder
from spacy_gliclass.training.losses import SoftmaxLoss
from spacy_gliclass.training.ppo import PPOTrainer, make_optimizer
from spacy_gliclass.training.ppo_config import PPOConfig
from spacy_gliclass.training.ppo_data import PPOExample
from spacy_gliclass.training.rewards import UNJUDGED, f1_reward, make_feedback_reward

STAGES = ("zero-shot", "sft", "ppo_f1", "ppo_feedback")


def load(root: Path, name: str, per_label: int, n_test: int, seed: int):
    """(labels, shots, test rows): ``per_label`` single-label shots per label and ``n_test`` test rows,
    all drawn from one seeded stream, so every script that calls this sees the same rows."""
    labels = dataset_labels(root, name)
    rng = random.Random(seed)
    if (root / name / "train.jsonl").is_file():
        train, test = read_split(root, name, "train"), read_split(root, name, "test")
    else:  # only a test split: a seeded half for sampling the shots, the other half for testing
        rows = read_split(root, name, "test")
        rng.shuffle(rows)
        train, test = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    rng.shuffle(train)
    shots = []
    for label in labels:
        shots += [r for r in train if r["labels"] == [label]][:per_label]
    rng.shuffle(shots)
    test = rng.sample(test, min(n_test, len(test)))
    return labels, shots, test


@torch.no_grad()
def scores(model, processor, texts: list[str], labels: list[str], batch: int = 32) -> torch.Tensor:
    model.eval()
    out = [model.encode(processor(texts[i : i + batch], labels)).logits for i in range(0, len(texts), batch)]
    return torch.cat(out)


def model_macro_f1(model, processor, rows: list[dict], labels: list[str]) -> float:
    """Macro-F1 of the model's argmax over ``labels`` against each row's first gold label."""
    pred = scores(model, processor, [r["text"] for r in rows], labels).argmax(-1).tolist()
    return macro_f1([r["labels"][0] for r in rows], [labels[k] for k in pred], labels)


def sft(model, processor, shots, labels, epochs: int, seed: int, encoder_lr: float, head_lr: float) -> None:
    torch.manual_seed(seed)
    rng = random.Random(seed)
    opt = make_optimizer(model, encoder_lr, head_lr, 0.01)
    order = list(range(len(shots)))
    for _ in range(epochs):
        rng.shuffle(order)
        for i in range(0, len(order), 8):
            rows = [shots[j] for j in order[i : i + 8]]
            model.train()
            out = model.encode(processor([r["text"] for r in rows], labels))
            targets = torch.tensor([[float(x in r["labels"]) for x in labels] for r in rows])
            loss = SoftmaxLoss()(out.logits, targets, out.label_mask)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    model.eval()


def gold_examples(shots: list[dict], labels: list[str]) -> list[PPOExample]:
    """Every label of the set judged against the gold labels."""
    return [PPOExample(r["text"], list(labels), [float(x in r["labels"]) for x in labels]) for r in shots]


def feedback_examples(model, processor, shots, labels) -> tuple[list[PPOExample], float]:
    """Judgements a person would give on the model's own proposals (simulated from gold)."""
    probs = torch.sigmoid(scores(model, processor, [r["text"] for r in shots], labels))
    examples, n_accepted, n_judged = [], 0, 0
    for row, p in zip(shots, probs, strict=True):
        proposed = {labels[k] for k in range(len(labels)) if p[k] >= 0.5}
        if len(proposed) < 2:
            proposed |= {labels[k] for k in p.topk(min(2, len(labels))).indices.tolist()}
        targets = [(1.0 if x in row["labels"] else 0.0) if x in proposed else UNJUDGED for x in labels]
        n_accepted += sum(t == 1.0 for t in targets)
        n_judged += len(proposed)
        examples.append(PPOExample(row["text"], list(labels), targets))
    return examples, n_accepted / max(n_judged, 1)


def train_stage(stage: str, model, processor, shots, labels, args, ppo_cfg: dict) -> float | None:
    """Train ``model`` in place as ``stage`` says; the feedback stage returns the share of proposals accepted."""
    if stage == "sft":
        sft(model, processor, shots, labels, args.sft_epochs, args.seed, args.encoder_lr, args.head_lr)
    elif stage == "ppo_f1":
        PPOTrainer(model, processor, {"f1": f1_reward}, {}, PPOConfig(**ppo_cfg)).train(gold_examples(shots, labels))
    elif stage == "ppo_feedback":
        judged, accept_rate = feedback_examples(model, processor, shots, labels)
        PPOTrainer(model, processor, {"feedback": make_feedback_reward()}, {}, PPOConfig(**ppo_cfg)).train(judged)
        return accept_rate
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets-dir", default="../shared/datasets")
    ap.add_argument("--datasets", default="sst5,emotion,ag_news")
    ap.add_argument("--per-label", type=int, default=8)
    ap.add_argument("--test-rows", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sft-epochs", type=int, default=4)
    ap.add_argument("--ppo-steps", type=int, default=24)
    ap.add_argument("--encoder-lr", type=float, default=2e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--ppo-head-lr", type=float, default=2e-5, help="Head LR for PPO (1e-3 wrecks the heads).")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base, processor = build_embedding_bi_encoder(max_length=128)
    ppo_cfg = dict(
        max_steps=args.ppo_steps, batch_size=8, inner_epochs=3, encoder_lr=args.encoder_lr,
        head_lr=args.ppo_head_lr or args.head_lr, kl_beta=0.05, entropy_beta=0.01, seed=args.seed, log_every=10**9,
    )  # fmt: skip
    table, times = [], []
    for name in args.datasets.split(","):
        labels, shots, test = load(Path(args.datasets_dir), name, args.per_label, args.test_rows, args.seed)
        row, tim, accepted = {"set": name}, {"set": name}, 0.0
        for stage in STAGES:
            t = time.perf_counter()
            model = base if stage == "zero-shot" else copy.deepcopy(base)  # every stage starts from zero-shot
            accept_rate = train_stage(stage, model, processor, shots, labels, args, ppo_cfg)
            row[stage] = model_macro_f1(model, processor, test, labels)
            tim[stage] = time.perf_counter() - t
            if accept_rate is not None:
                accepted = accept_rate
        row["accepted"] = accepted
        table.append(row)
        times.append(tim)
        print(json.dumps(row), json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in tim.items()}))
    cols = list(STAGES)
    print(f"\nmacro-F1, {args.per_label} examples/label, {args.test_rows} test rows, seed {args.seed}\n")
    print("| set | " + " | ".join(cols) + " | share of proposals accepted |")
    print("|---" * (len(cols) + 2) + "|")
    for row in table:
        print(f"| {row['set']} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + f" | {row['accepted']:.2f} |")
    mean = {c: sum(r[c] for r in table) / len(table) for c in cols}
    print("| average | " + " | ".join(f"{mean[c]:.3f}" for c in cols) + " | |")
    print("\nwall-clock seconds per stage (training + scoring)\n")
    print("| set | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for tim in times:
        print(f"| {tim['set']} | " + " | ".join(f"{tim[c]:.0f}" for c in cols) + " |")


if __name__ == "__main__":
    main()

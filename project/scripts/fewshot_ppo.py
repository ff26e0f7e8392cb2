"""Few-shot study: zero-shot, in-context examples, supervised fine-tuning and three kinds of PPO.

For every set, number of examples per label (``--shots``, e.g. 8 and 32) and seed, the shots and a
dev split (``--dev-per-label`` more per label, disjoint from the shots, as in LM-BFF) are drawn from
the train split (ag_news has none: a seeded half of its test split gives them, the other half the
test rows). Every stage starts from the untrained floor, so no set was seen before:

  zero-shot     the floor as it is
  in-context    the shots as ``examples`` of the pipe (the prototype rule), no training
  sft           softmax ranking loss over the set's labels
  ppo           PPO with the F1 reward against the gold labels (each label decision credited with its
                own effect on the reward: ``--advantages per-label``, the default)
  sft+ppo       PPO (F1 reward) from the sft model
  ppo_feedback  PPO from yes/no judgements only: the floor proposes labels (score ≥ 0.5, at least its
                top 2), a simulated reviewer accepts the gold one and rejects the others; unproposed
                labels stay unjudged. Its dev split is judged the same way, nothing else is known.
                The judged texts are as many as the shots and the dev split, but drawn at the train
                split's own label distribution (``--feedback-draw natural``): texts a person reviews
                come as they come, and picking them per label would need the gold labels feedback
                does not have. (``balanced`` judges the shots and dev split themselves.)

Training stages stop early on their dev split (macro-F1 of the argmax; ppo_feedback: the dev texts
whose top label the reviewer accepted, and a model replaces the start only when its gain over the start
clears ``--feedback-gain-z`` standard errors of a sign test) and keep the best weights, the start
model's included.
Score: macro-F1 of the argmax over the set's labels on seeded test rows (multi-label sets: over the
rows with exactly one gold label). One JSON line per (set, shots, seed, stage) goes to ``--output``;
cells already there are skipped when the settings their stage reads are the same (``STAGE_SETTINGS``),
so a stopped run resumes and a changed setting reruns only the stages that read it (the other cells of
those stages are dropped). ``report.py --fewshot`` draws the table.

    python scripts/fewshot_ppo.py --datasets sst5,emotion,ag_news,goemotions --shots 8,32 \\
        --seeds 0,1,2 --output results/fewshot.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import spacy
import torch

from spacy_gliclass.datasets import dataset_labels, macro_f1, read_split
from spacy_gliclass.modeling.defaults import FLOOR, build_embedding_bi_encoder
from spacy_gliclass.training.losses import SoftmaxLoss
from spacy_gliclass.training.ppo import PPOTrainer, make_optimizer
from spacy_gliclass.training.ppo_config import PPOConfig
from spacy_gliclass.training.ppo_data import PPOExample
from spacy_gliclass.training.rewards import UNJUDGED, f1_reward, make_feedback_reward

STAGES = ("zero-shot", "in-context", "sft", "ppo", "sft+ppo", "ppo_feedback")


def train_and_test(root: Path, name: str, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """The rows to draw from and the rows to test on (a set without a train split: a seeded half each)."""
    if (root / name / "train.jsonl").is_file():
        return read_split(root, name, "train"), read_split(root, name, "test")
    rows = read_split(root, name, "test")
    rng.shuffle(rows)
    return rows[: len(rows) // 2], rows[len(rows) // 2 :]


def natural_draw(root: Path, name: str, seed: int, n_judged: int, n_dev: int) -> tuple[list[dict], list[dict]]:
    """(judged, dev): texts for a reviewer, sampled at the train split's own label distribution,
    never from the test rows; a stream of their own, so the other stages' draws stay as they were."""
    train, _ = train_and_test(root, name, random.Random(seed))
    rows = random.Random(f"feedback-{seed}").sample(train, min(n_judged + n_dev, len(train)))
    return rows[:n_judged], rows[n_judged:]


def load(root: Path, name: str, per_label: int, n_test: int, seed: int, dev_per_label: int = 0):
    """(labels, shots, test rows, dev rows): ``per_label`` single-label shots per label, ``n_test`` test
    rows, then ``dev_per_label`` further rows per label, all from one seeded stream (the shots of a
    smaller ``per_label`` are a prefix of a larger one's)."""
    labels = dataset_labels(root, name)
    rng = random.Random(seed)
    train, test = train_and_test(root, name, rng)
    rng.shuffle(train)
    shots, dev = [], []
    for label in labels:
        own = [r for r in train if r["labels"] == [label]]
        shots += own[:per_label]
        dev += own[per_label : per_label + dev_per_label]
    rng.shuffle(shots)
    test = rng.sample(test, min(n_test, len(test)))
    return labels, shots, test, dev


@torch.no_grad()
def scores(model, processor, texts: list[str], labels: list[str], batch: int = 32) -> torch.Tensor:
    model.eval()
    out = [model.encode(processor(texts[i : i + batch], labels)).logits for i in range(0, len(texts), batch)]
    return torch.cat(out)


def model_macro_f1(model, processor, rows: list[dict], labels: list[str]) -> float:
    """Macro-F1 of the model's argmax over ``labels`` against the rows with one gold label."""
    rows = [r for r in rows if len(r["labels"]) == 1]
    pred = scores(model, processor, [r["text"] for r in rows], labels).argmax(-1).tolist()
    return macro_f1([r["labels"][0] for r in rows], [labels[k] for k in pred], labels)


def in_context_macro_f1(nlp, rows: list[dict], labels: list[str], shots: list[dict]) -> float:
    """The same score through the pipe, with the shots as in-context examples."""
    rows = [r for r in rows if len(r["labels"]) == 1]
    examples = [{"text": r["text"], "labels": r["labels"]} for r in shots]
    cfg = {"gliclass": {"labels": labels, "examples": examples}}
    docs = nlp.pipe([r["text"] for r in rows], component_cfg=cfg)
    return macro_f1([r["labels"][0] for r in rows], [max(d.cats, key=d.cats.get) for d in docs], labels)


def sft(model, processor, shots, labels, dev, args, seed: int) -> None:
    """Softmax ranking loss, batches of 8, early stopping on dev macro-F1 (best weights kept)."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    opt = make_optimizer(model, args.encoder_lr, args.head_lr, 0.01)
    best = (model_macro_f1(model, processor, dev, labels), copy.deepcopy(model.state_dict()))
    order, misses, step = [], 0, 0
    while step < args.sft_steps and misses < args.patience:
        if not order:
            order = list(range(len(shots)))
            rng.shuffle(order)
        rows = [shots[j] for j in order[:8]]
        del order[:8]
        model.train()
        out = model.encode(processor([r["text"] for r in rows], labels))
        targets = torch.tensor([[float(x in r["labels"]) for x in labels] for r in rows])
        loss = SoftmaxLoss()(out.logits, targets, out.label_mask)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % args.eval_every == 0:
            score = model_macro_f1(model, processor, dev, labels)
            best, misses = ((score, copy.deepcopy(model.state_dict())), 0) if score > best[0] else (best, misses + 1)
    model.load_state_dict(best[1])
    model.eval()


def gold_examples(rows: list[dict], labels: list[str]) -> list[PPOExample]:
    """Every label of the set judged against the gold labels."""
    return [PPOExample(r["text"], list(labels), [float(x in r["labels"]) for x in labels]) for r in rows]


def feedback_examples(model, processor, rows, labels) -> list[PPOExample]:
    """Judgements a reviewer would give on the model's own proposals (simulated from gold)."""
    probs = torch.sigmoid(scores(model, processor, [r["text"] for r in rows], labels))
    examples = []
    for row, p in zip(rows, probs, strict=True):
        proposed = {labels[k] for k in range(len(labels)) if p[k] >= 0.5}
        if len(proposed) < 2:
            proposed |= {labels[k] for k in p.topk(min(2, len(labels))).indices.tolist()}
        targets = [(1.0 if x in row["labels"] else 0.0) if x in proposed else UNJUDGED for x in labels]
        examples.append(PPOExample(row["text"], list(labels), targets))
    return examples


def accepted_tops(model, processor, judged: list[PPOExample], labels: list[str]) -> torch.Tensor:
    """Per judged text, 1 if the reviewer accepted the model's top label (all feedback can tell), else 0."""
    top = scores(model, processor, [eg.text for eg in judged], labels).argmax(-1).tolist()
    return torch.tensor([float(eg.targets[k] == 1.0) for eg, k in zip(judged, top, strict=True)])


def ppo_config(args, seed: int, dev_gain_z: float = 0.0) -> PPOConfig:
    return PPOConfig(
        max_steps=args.ppo_steps, batch_size=8, inner_epochs=2, encoder_lr=args.encoder_lr, head_lr=args.ppo_head_lr,
        kl_beta=0.05, entropy_beta=0.01, samples_per_example=args.samples, eval_every=args.eval_every,
        per_label_advantages=args.advantages == "per-label", dev_gain_z=dev_gain_z,
        patience=args.patience, seed=seed, log_every=10**9,
    )  # fmt: skip


@dataclass
class Draw:
    """One (set, shots, seed) cell's rows: gold shots and dev split, test rows, and the texts a reviewer
    judges for ``ppo_feedback`` (with their dev part)."""

    labels: list[str]
    shots: list[dict]
    dev: list[dict]
    test: list[dict]
    reviewed: list[dict]
    reviewed_dev: list[dict]


def run_stage(stage: str, start, processor, draw: Draw, args, seed: int):
    """A trained copy of ``start`` (or ``start`` itself for the stages that do not train)."""
    model = copy.deepcopy(start)
    labels, dev = draw.labels, draw.dev
    if stage == "sft":
        sft(model, processor, draw.shots, labels, dev, args, seed)
    elif stage in ("ppo", "sft+ppo"):
        trainer = PPOTrainer(model, processor, {"f1": f1_reward}, {}, ppo_config(args, seed))
        trainer.train(gold_examples(draw.shots, labels), dev_score=lambda m: model_macro_f1(m, processor, dev, labels))
    elif stage == "ppo_feedback":
        judged, judged_dev = (
            feedback_examples(start, processor, draw.reviewed, labels),
            feedback_examples(start, processor, draw.reviewed_dev, labels),
        )
        config = ppo_config(args, seed, dev_gain_z=args.feedback_gain_z)  # a clear dev gain, or the start stays
        trainer = PPOTrainer(model, processor, {"feedback": make_feedback_reward()}, {}, config)
        trainer.train(judged, dev_score=lambda m: accepted_tops(m, processor, judged_dev, labels))
    return model


def model_for(stage: str, trained: dict, processor, draw: Draw, args, seed: int):
    """The model of ``stage``, trained once per (set, shots, seed); sft+ppo starts from sft's."""
    if stage not in trained:
        start = model_for("sft", trained, processor, draw, args, seed) if stage == "sft+ppo" else trained["zero-shot"]
        trained[stage] = run_stage(stage, start, processor, draw, args, seed)
    return trained[stage]


def make_draw(root: Path, name: str, per_label: int, args: argparse.Namespace, seed: int) -> Draw:
    labels, shots, test, dev = load(root, name, per_label, args.test_rows, seed, args.dev_per_label)
    reviewed, reviewed_dev = (
        natural_draw(root, name, seed, len(shots), len(dev)) if args.feedback_draw == "natural" else (shots, dev)
    )
    return Draw(labels, shots, dev, test, reviewed, reviewed_dev)


RUN_KEYS = ("datasets_dir", "datasets", "shots", "seeds", "stages", "threads", "output")  # what, not how
# The settings each stage's result depends on: changing one reruns only the cells of the stages it names.
_SFT = ("test_rows", "dev_per_label", "sft_steps", "encoder_lr", "head_lr", "eval_every", "patience")
_PPO = ("test_rows", "dev_per_label", "ppo_steps", "samples", "advantages", "encoder_lr", "ppo_head_lr",
        "eval_every", "patience")  # fmt: skip
STAGE_SETTINGS = {
    "zero-shot": ("test_rows",),
    "in-context": ("test_rows",),
    "sft": _SFT,
    "ppo": _PPO,
    "sft+ppo": _SFT + _PPO,
    "ppo_feedback": (*_PPO, "feedback_draw", "feedback_gain_z"),
}


def recipe(args: argparse.Namespace) -> dict:
    """The settings that change a cell's result: a resumed run only keeps cells of the same recipe."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in RUN_KEYS}


def kept_cells(path: Path, settings: dict) -> set[tuple]:
    """Cells already in ``path`` whose stage's settings (``STAGE_SETTINGS``) equal these; the others are
    dropped from the file, and the kept ones relabelled with ``settings`` (nothing they depend on differs)."""
    if not path.is_file():
        return set()
    rows = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]
    kept = [
        {**r, "settings": settings}
        for r in rows
        if all(r.get("settings", {}).get(k) == settings.get(k) for k in STAGE_SETTINGS.get(r["stage"], settings))
    ]
    if kept != rows:
        print(f"{path}: {len(rows) - len(kept)} cells of other settings dropped, {len(kept)} kept", flush=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf8")
    return {(r["set"], r["shots"], r["seed"], r["stage"]) for r in kept}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets-dir", default="../shared/datasets")
    ap.add_argument("--datasets", default="sst5,emotion,ag_news,goemotions")
    ap.add_argument("--shots", default="8,32", help="examples per label, comma-separated")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--dev-per-label", type=int, default=8)
    ap.add_argument("--test-rows", type=int, default=500)
    ap.add_argument("--sft-steps", type=int, default=60)
    ap.add_argument("--ppo-steps", type=int, default=40)
    ap.add_argument("--samples", type=int, default=4, help="PPO samples of the label decisions per text")
    ap.add_argument(
        "--advantages",
        choices=("per-label", "per-text"),
        default="per-label",
        help="PPO credit: each label decision's own advantage, or one per sampled text (RLOO)",
    )
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--encoder-lr", type=float, default=2e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--ppo-head-lr", type=float, default=1e-4)
    ap.add_argument(
        "--feedback-draw",
        choices=("natural", "balanced"),
        default="natural",
        help="ppo_feedback's judged texts: sampled as the train split comes, or the shots and dev split themselves",
    )
    ap.add_argument(
        "--feedback-gain-z",
        type=float,
        default=1.645,
        help="ppo_feedback keeps a model over the start only when its dev gain clears this many standard "
        "errors (1.645: a one-sided 5%% sign test; 0: any gain in accepted top labels)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--output", type=Path, required=True, help="JSONL, one line per cell; resumed if present")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    floor, processor = build_embedding_bi_encoder(max_length=128)
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": FLOOR})
    settings = recipe(args)
    done = kept_cells(args.output, settings)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for name in args.datasets.split(","):
        for shots_per_label in (int(s) for s in args.shots.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                draw = make_draw(Path(args.datasets_dir), name, shots_per_label, args, seed)
                labels, shots, test = draw.labels, draw.shots, draw.test
                trained = {"zero-shot": floor}
                for stage in args.stages.split(","):
                    if (name, shots_per_label, seed, stage) in done:
                        continue
                    t = time.perf_counter()
                    if stage == "in-context":
                        f1 = in_context_macro_f1(nlp, test, labels, shots)
                    else:
                        model = model_for(stage, trained, processor, draw, args, seed)
                        f1 = model_macro_f1(model, processor, test, labels)
                    row = {"set": name, "shots": shots_per_label, "seed": seed, "stage": stage, "macro_f1": round(f1, 4),
                           "seconds": round(time.perf_counter() - t, 1), "n_shots": len(shots), "n_test": len(test), "settings": settings}  # fmt: skip
                    with args.output.open("a", encoding="utf8") as f:
                        f.write(json.dumps(row) + "\n")
                    print(json.dumps({k: v for k, v in row.items() if k != "settings"}), flush=True)


if __name__ == "__main__":
    main()

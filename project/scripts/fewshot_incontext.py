"""In-context examples vs zero-shot on the default model: no training, only ``examples``.

For each set and seed, 8 examples per label are sampled from the train split (ag_news has none: a
seeded half of its test split gives the shots, the other half the test rows) and 500 test rows are
scored through the public API, ``nlp.pipe(texts, component_cfg={"gliclass": {"labels": ...,
"examples": ...}})``, zero-shot (no examples) and with the examples at each ``example_weight``.
Shots and test rows are fewshot_ppo.py's, so this table lines up with the fine-tuning one.

Score: macro-F1 of the argmax over the set's labels. goemotions is multi-label: its argmax
macro-F1 is over the test rows with exactly one gold label; micro-F1 at the pipe's threshold
(0.5) over all its test rows is printed below the table.

    nice -n 15 python project/scripts/fewshot_incontext.py --datasets sst5,emotion,ag_news,goemotions \\
        --seeds 0,1,2 --weights 0.3,0.5,0.8
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import spacy
import torch
from fewshot_ppo import load  # same shots and test rows as the fine-tuning table

from spacy_gliclass.datasets import dataset_info, macro_f1
from spacy_gliclass.modeling.defaults import FLOOR  # the untrained embedding model


def micro_f1(pred: list[set[str]], gold: list[set[str]]) -> float:
    tp = sum(len(p & g) for p, g in zip(pred, gold, strict=True))
    wrong = sum(len(p ^ g) for p, g in zip(pred, gold, strict=True))
    return 2 * tp / (2 * tp + wrong) if tp else 0.0


def evaluate(nlp, rows: list[dict], labels: list[str], examples: list[dict]) -> tuple[float, float]:
    """(argmax macro-F1 over single-label rows, micro-F1 at the pipe's threshold over all rows)."""
    cfg = {"gliclass": {"labels": labels, "examples": examples}}
    docs = list(nlp.pipe([r["text"] for r in rows], component_cfg=cfg))
    threshold = nlp.get_pipe("gliclass").cfg["threshold"]
    single = [(doc, r) for doc, r in zip(docs, rows, strict=True) if len(r["labels"]) == 1]
    argmax = macro_f1([r["labels"][0] for _, r in single], [max(d.cats, key=d.cats.get) for d, _ in single], labels)
    chosen = [{label for label, p in d.cats.items() if p >= threshold} for d in docs]
    return argmax, micro_f1(chosen, [set(r["labels"]) for r in rows])


def is_multi_label(root: Path, name: str) -> bool:
    return bool(dataset_info(root, name)["multi_label"])


def shots_as_examples(shots: list[dict]) -> list[dict]:
    return [{"text": r["text"], "labels": r["labels"]} for r in shots]


def fmt(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets-dir", default="../shared/datasets")
    ap.add_argument("--datasets", default="sst5,emotion,ag_news,goemotions")
    ap.add_argument("--model", default=FLOOR)
    ap.add_argument("--per-label", type=int, default=8)
    ap.add_argument("--test-rows", type=int, default=500)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--weights", default="0.3,0.5,0.8", help="example_weight values to measure")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    weights = [float(w) for w in args.weights.split(",")]
    pipes = {}
    for w in weights:
        pipes[w] = spacy.blank("en")
        pipes[w].add_pipe("gliclass", config={"model": args.model, "example_weight": w})
    columns = ["zero-shot", *(f"examples w={w}" for w in weights)]
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name in args.datasets.split(","):
        results[name] = {c: [] for c in columns}
        for seed in (int(s) for s in args.seeds.split(",")):
            labels, shots, test, _ = load(Path(args.datasets_dir), name, args.per_label, args.test_rows, seed)
            examples = shots_as_examples(shots)
            results[name]["zero-shot"].append(evaluate(pipes[weights[0]], test, labels, []))
            for w, column in zip(weights, columns[1:], strict=True):
                results[name][column].append(evaluate(pipes[w], test, labels, examples))
            print(f"{name} seed {seed}: {len(shots)} shots, {len(test)} test rows", flush=True)
    print(f"\nmacro-F1 (argmax), {args.per_label} examples per label, mean ± std over seeds {args.seeds}")
    print(f"{'set':12}" + "".join(f"{c:>18}" for c in columns))
    for name, by_column in results.items():
        print(f"{name:12}" + "".join(f"{fmt([a for a, _ in by_column[c]]):>18}" for c in columns))
    multi = [n for n in results if is_multi_label(Path(args.datasets_dir), n)]
    if multi:
        print("\nmulti-label sets: micro-F1 at the pipe's threshold (0.5), all test rows")
        for name in multi:
            print(f"{name:12}" + "".join(f"{fmt([m for _, m in results[name][c]]):>18}" for c in columns))


if __name__ == "__main__":
    main()

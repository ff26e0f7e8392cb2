"""Fit the embedded default's sigmoid calibration: logit = scale * cos(text, label) + bias.

Logistic regression on (cosine, is-gold) pairs from the *training* splits of datasets that are
not zero-shot evaluation sets, so the constants in spacy_gliclass/modeling/defaults.py never saw
an evaluation set. Prints the fitted scale and bias.

    python project/scripts/fit_floor_calibration.py --datasets-dir ../shared/datasets
"""

from __future__ import annotations

from pathlib import Path

import torch
import typer

from spacy_gliclass.datasets import dataset_labels, read_split, shuffled_sample
from spacy_gliclass.modeling.defaults import build_embedding_bi_encoder

FIT_SETS = "trec,subj,goemotions,tweet_eval_hate,tweet_eval_irony,tweet_eval_offensive,hate_speech_offensive"


def main(datasets_dir: Path = Path("../shared/datasets"), datasets: str = FIT_SETS, n: int = 300) -> None:
    model, processor = build_embedding_bi_encoder()
    cosines, gold = [], []
    for name in datasets.split(","):
        labels = dataset_labels(datasets_dir, name)
        rows = shuffled_sample(read_split(datasets_dir, name, "train"), n, seed=1)
        with torch.inference_mode():
            for i in range(0, len(rows), 32):
                chunk = rows[i : i + 32]
                out = model.encode(processor([r["text"] for r in chunk], labels))
                cos = (out.logits - model.logit_bias) / model.logit_scale
                cosines.append(cos.flatten())
                gold.append(torch.tensor([[float(label in r["labels"]) for label in labels] for r in chunk]).flatten())
    x, y = torch.cat(cosines), torch.cat(gold)
    scale = torch.tensor(10.0, requires_grad=True)
    bias = torch.tensor(-3.0, requires_grad=True)
    optimizer = torch.optim.LBFGS([scale, bias], max_iter=200)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scale * x + bias, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    print(
        f"pairs={len(x)} positives={int(y.sum())} scale={scale.item():.2f} bias={bias.item():.2f} "
        f"(0.5 at cos={-bias.item() / scale.item():.3f})"
    )


if __name__ == "__main__":
    typer.run(main)

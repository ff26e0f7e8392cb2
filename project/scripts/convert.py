"""JSONL datasets → the `.spacy` corpora one fold's `spacy train` reads.

Writes ``train.spacy``, ``dev.spacy``, ``ppo.jsonl`` and ``ppo_dev.jsonl``. Each training doc's ``cats`` hold its
candidate labels (1.0 gold, 0.0 the others): the dataset's labels, capped at ``--max-candidates`` with the gold always kept, plus sometimes negatives from the
other training datasets (see ``spacy-gliclass.JsonlReader.v1``). The dev corpus is drawn from the
*test* splits of the same training datasets, so no evaluation dataset ever enters training or model
selection.

    python scripts/convert.py ../../shared/datasets corpus/heldout_a --exclude sst2,cr,ag_news

Without ``--datasets`` it trains on every dataset folder that has a train split, less ``--exclude``
(a fold's evaluation sets), so a dataset added to the folder joins the mixture with no edit here.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import spacy
import typer
from spacy.tokens import DocBin

from spacy_gliclass.training.data import create_jsonl_reader


def cut(text: str, max_words: int) -> str:
    """The first ``max_words`` whitespace words of ``text`` (all of it for 0)."""
    return " ".join(text.split()[:max_words]) if max_words else text


def write_corpus(
    datasets_dir: Path,
    datasets: list[str],
    split: str,
    path: Path,
    max_rows: int,
    seed: int,
    max_words: int,
    **reader_kwargs,
) -> int:
    """Write one pass of the reader as a DocBin, texts cut to ``max_words``; returns the doc count."""
    nlp = spacy.blank("en")
    read = create_jsonl_reader(str(datasets_dir), datasets, split, max_rows=max_rows, seed=seed, **reader_kwargs)
    docs = DocBin(attrs=[], store_user_data=False)
    for example in read(nlp):
        doc = nlp.make_doc(cut(example.reference.text, max_words))
        doc.cats = dict(example.reference.cats)
        docs.add(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    docs.to_disk(path)
    return len(docs)


def write_ppo_rows(
    datasets_dir: Path, datasets: list[str], split: str, path: Path, n: int, seed: int, max_words: int, **kw
) -> int:
    """``n`` rows for PPO as JSONL (``text``, gold ``labels``, candidate ``all_labels``), sampled from
    the datasets' ``split`` with a seed of their own."""
    read = create_jsonl_reader(str(datasets_dir), datasets, split, seed=seed, **kw)
    written = 0
    with path.open("w", encoding="utf8") as f:
        for example in islice(read(spacy.blank("en")), n):
            cats = example.reference.cats
            row = {"text": cut(example.reference.text, max_words), "labels": [k for k, v in cats.items() if v]}
            row["all_labels"] = list(cats)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    return written


def training_sets(datasets_dir: Path, datasets: str, exclude: str) -> list[str]:
    """``datasets`` (comma-separated), or every folder of ``datasets_dir`` with a train split; less ``exclude``."""
    names = [x.strip() for x in datasets.split(",") if x.strip()]
    if not names:
        names = sorted(p.parent.name for p in datasets_dir.glob("*/train.jsonl"))
    dropped = {x.strip() for x in exclude.split(",") if x.strip()}
    return [x for x in names if x not in dropped]


def main(
    datasets_dir: Path = typer.Argument(..., help="Folder with one folder per dataset."),
    output: Path = typer.Argument(..., help="Folder for train.spacy and dev.spacy."),
    datasets: str = typer.Option("", help="Comma-separated datasets to train on ('' = every one with a train split)."),
    exclude: str = typer.Option("", help="Comma-separated datasets never to train on (a fold's evaluation sets)."),
    no_dev: str = typer.Option(
        "", help="Comma-separated datasets whose test split never serves as dev (evaluation sets)."
    ),
    max_rows: int = typer.Option(1500, help="Training rows per dataset (seeded sample)."),
    dev_rows: int = typer.Option(40, help="Dev rows per dataset, from the datasets' test splits."),
    max_words: int = typer.Option(
        96, help="Cut training texts to this many words: a step's cost follows its tokens (0 = keep all)."
    ),
    max_candidates: int = typer.Option(16, help="Cap on each example's own-dataset labels (gold kept)."),
    negative_prob: float = typer.Option(0.7, help="Chance that an example gets negatives from other datasets."),
    max_negatives: int = typer.Option(8, help="At most this many negatives."),
    ppo_rows: int = typer.Option(400, help="Rows for ppo.jsonl (PPO fine-tuning data)."),
    ppo_dev_rows: int = typer.Option(200, help="Rows for ppo_dev.jsonl (PPO early stopping), from the dev sets."),
    seed: int = typer.Option(0),
) -> None:
    names = training_sets(datasets_dir, datasets, exclude)
    train_n = write_corpus(
        datasets_dir,
        names,
        "train",
        output / "train.spacy",
        max_rows,
        seed,
        max_words,
        negative_prob=negative_prob,
        max_negatives=max_negatives,
        max_candidates=max_candidates,
    )
    not_dev = {x.strip() for x in no_dev.split(",")}
    with_test = [x for x in names if x not in not_dev and (datasets_dir / x / "test.jsonl").is_file()]
    dev_n = write_corpus(
        datasets_dir,
        with_test,
        "test",
        output / "dev.spacy",
        dev_rows,
        seed + 1,
        max_words,
        negative_prob=0.0,
        max_negatives=0,
        max_candidates=max_candidates,
        shuffle=False,
    )
    candidates = {"negative_prob": negative_prob, "max_negatives": max_negatives, "max_candidates": max_candidates}
    ppo_n = write_ppo_rows(
        datasets_dir, names, "train", output / "ppo.jsonl", ppo_rows, seed + 2, max_words, **candidates
    )
    # PPO's early stopping reads the same test splits as dev.spacy, never an evaluation set's
    ppo_dev_n = write_ppo_rows(
        datasets_dir, with_test, "test", output / "ppo_dev.jsonl", ppo_dev_rows, seed + 3, max_words, **candidates
    )
    print(
        f"{output}: {train_n} training docs from {len(names)} datasets, {dev_n} dev docs, "
        f"{ppo_n} PPO rows, {ppo_dev_n} PPO dev rows"
    )


if __name__ == "__main__":
    typer.run(main)

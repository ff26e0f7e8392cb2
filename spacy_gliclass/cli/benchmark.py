"""``benchmark``: docs/s of nlp.pipe vs per-doc, the upstream-style loop, the cross-encoder way and the
bare encoder, for 1…max labels; optionally int8 and ONNX Runtime. The measuring is in ``spacy_gliclass.bench``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer


def benchmark(
    model: str = typer.Option("", help="Any `model` value: checkpoint dir, delta file, 'floor'; '' = the default."),
    uni: bool = typer.Option(False, "--uni", help="Also measure a fresh uni-encoder (build_uni_encoder())."),
    also: str = typer.Option("", help="Also measure this model (any `model` value), e.g. to compare two."),
    n_texts: int = typer.Option(160, help="Mixed-length texts (tweets to ~400-word reviews), seeded."),
    max_labels: int = typer.Option(64, help="Label counts 1, 2, 4, … up to this."),
    label_counts: str = typer.Option("", help="Comma-separated label counts instead of 1, 2, 4, … max."),
    repeats: int = typer.Option(5, help="Interleaved repeats; medians are reported."),
    pipe_batch_size: int = typer.Option(128, help="nlp.pipe(batch_size=…): docs per buffer."),
    batch_size: int = typer.Option(0, help="The pipe's batch_size (inputs per forward); 0 = its config."),
    max_batch_tokens: int = typer.Option(0, help="The pipe's max_batch_tokens; 0 = its config."),
    cross_pairs: int = typer.Option(2, help="Cross-encoder: (text, label) pairs timed per text."),
    methods: str = typer.Option(",".join(("pipe", "per_doc", "direct", "reference", "cross", "bare"))),
    int8: bool = typer.Option(False, "--int8", help="Also time nlp.pipe with quantize='int8'."),
    int8_accuracy: str = typer.Option("", help="Comma-separated datasets: macro-F1 of fp32 vs int8."),
    accuracy_rows: int = typer.Option(500, help="Test rows per dataset for --int8-accuracy and --runtimes."),
    runtimes: str = typer.Option(
        "", help="Comma-separated datasets: docs/s and macro-F1 of torch fp32/int8 and ONNX Runtime fp32/int8."
    ),
    runtimes_only: bool = typer.Option(False, "--runtimes-only", help="Only the --runtimes table."),
    onnx_layers: bool = typer.Option(
        False, "--onnx-layers", help="With --runtimes: macro-F1 of int8 with each matmul layer type kept fp32."
    ),
    seed: int = typer.Option(0),
    threads: int = typer.Option(0, help="torch threads; 0 = torch's default (one per core)."),
    datasets_dir: str = typer.Option(
        "", help="Datasets folder for texts and labels; '' = $GLICLASS_DATASETS or ../shared/datasets."
    ),
    quick: bool = typer.Option(False, "--quick", help="Tiny run: 24 texts, up to 4 labels, 2 repeats."),
    output: str = typer.Option("", help="Write the full results as JSON here."),
    plot: str = typer.Option("", help="Write a PNG of docs/s vs labels here (needs matplotlib)."),
) -> None:
    """Measure docs/s of the gliclass pipe against the alternatives, with an agreement check."""
    import warnings

    from ..bench import report as shown
    from ..bench.accuracy import quantization_accuracy_by_model
    from ..bench.harness import models_to_run, run_benchmark
    from ..bench.options import BenchSettings
    from ..bench.runtimes import runtimes_report

    warnings.filterwarnings("ignore", message="A text was cut")
    if quick:
        n_texts, max_labels, repeats = min(n_texts, 24), min(max_labels, 4), min(repeats, 2)
    settings = BenchSettings(
        n_texts=n_texts,
        max_labels=max_labels,
        repeats=repeats,
        pipe_batch_size=pipe_batch_size,
        batch_size=batch_size or None,
        max_batch_tokens=max_batch_tokens or None,
        cross_pairs=cross_pairs,
        seed=seed,
        threads=threads,
        datasets_dir=datasets_dir,
        label_counts=tuple(int(x) for x in label_counts.split(",") if x.strip()),
        int8=int8,
        methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
    )
    if runtimes:
        result = runtimes_report(model, runtimes.split(","), settings, accuracy_rows, onnx_layers, log=typer.echo)
        # With --runtimes-only the runtime table is the whole result: --output is its file.
        if output:
            shown.write_json(output if runtimes_only else Path(output).with_suffix(".runtimes.json"), result)
        if runtimes_only:
            return
    with tempfile.TemporaryDirectory() as tmp:
        models = models_to_run(model, also, tmp if uni else "")
        report = run_benchmark(models, settings, log=typer.echo)
        if int8_accuracy:
            sets = [d.strip() for d in int8_accuracy.split(",")]
            report["int8_accuracy"] = quantization_accuracy_by_model(models, sets, accuracy_rows, seed, datasets_dir)
            typer.echo(shown.format_int8_accuracy(report["int8_accuracy"]))
    typer.echo(shown.format_summary(report))
    if output:
        shown.write_json(output, report)
    if plot:
        shown.plot(report, plot)
    if not report["agreement_ok"]:
        raise typer.Exit(1)

"""``benchmark``: docs/s of nlp.pipe vs per-doc, the upstream-style loop, the cross-encoder way and the
bare encoder, for 1…max labels (BENCHMARKS.md). The measuring logic is in ``spacy_gliclass.benchmark``."""

from __future__ import annotations

import json
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

    from .. import benchmark as bench

    warnings.filterwarnings("ignore", message="A text was cut")
    if quick:
        n_texts, max_labels, repeats = min(n_texts, 24), min(max_labels, 4), min(repeats, 2)
    settings = bench.BenchSettings(
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
        # With --runtimes-only the runtime table is the whole result: --output is its file.
        target = output if runtimes_only or not output else str(Path(output).with_suffix(".runtimes.json"))
        report_runtimes(model, runtimes.split(","), settings, accuracy_rows, onnx_layers, target)
        if runtimes_only:
            return
    with tempfile.TemporaryDirectory() as tmp:
        models = [model]
        if also:
            models.append(also)
        if uni:
            from ..modeling.defaults import build_uni_encoder

            uni_model_obj, processor = build_uni_encoder()
            uni_model_obj.save_pretrained(tmp, processor)
            models.append(tmp)
        report = bench.run_benchmark(models, settings, log=typer.echo)
        if int8_accuracy:
            report["int8_accuracy"] = {
                m or "<embedded default>": bench.quantization_accuracy(
                    m, [d.strip() for d in int8_accuracy.split(",")], accuracy_rows, seed, datasets_dir=datasets_dir
                )
                for m in models
            }
            for name, per_set in report["int8_accuracy"].items():
                typer.echo(f"int8 vs fp32, {name}:")
                for ds, e in per_set.items():
                    typer.echo(
                        f"  {ds:<22} F1 fp32 {e['fp32_macro_f1']:.3f} int8 {e['int8_macro_f1']:.3f} "
                        f"(loss {e['f1_loss']:+.3f}); docs/s {e['fp32_docs_per_s']:.1f} -> {e['int8_docs_per_s']:.1f}"
                        f" (x{e['speedup']:.2f})"
                    )
    m = report["machine"]
    typer.echo(
        f"peak RSS {report['peak_rss_mb']:.0f} MB; load average before {m['load_average_before']} after "
        f"{m['load_average_after']}; {report['elapsed_s']:.0f} s; agreement {'ok' if report['agreement_ok'] else 'FAILED'}"
    )
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")
    if plot:
        bench.plot(report, plot)
    if not report["agreement_ok"]:
        raise typer.Exit(1)


def report_runtimes(model: str, datasets: list[str], settings, n_rows: int, layers: bool, output: str) -> None:
    """Print (and with ``output``, write to it) the runtime comparison."""
    from .. import benchmark_runtimes as rt

    datasets = [d.strip() for d in datasets if d.strip()]
    typer.echo(f"== runtimes: {model or '<embedded default>'}, {n_rows} rows per dataset")
    report = rt.compare_runtimes(model, datasets, settings, n_rows=n_rows, log=typer.echo)
    typer.echo(rt.format_runtimes(report))
    if layers:
        typer.echo("int8 layer types (ONNX Runtime, macro-F1):")
        report["layer_ablation"] = rt.layer_ablation(model, datasets, settings, n_rows=n_rows, log=typer.echo)
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")

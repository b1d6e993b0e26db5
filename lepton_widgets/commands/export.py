"""``lepton export RUN --format ... [--out DIR]``: export a finished run and verify every file.

Each format is reloaded with its own runtime and compared with the trained model on held-out test images
(see :mod:`lepton_widgets.core.export.verify`); the table printed at the end says, per format, the file, its
size, the largest probability difference, the top-1 agreement and whether that is within tolerance, or
why the format could not be made here. A model card (``model_card.md`` / ``.json``) goes beside them.

Image, sound, text and table runs all export; a format that cannot hold the run's model (a GloVe text
model in TFLite or ONNX, a table with categorical columns in ONNX) is reported ``unavailable`` with the
reason, and a MiniLM export carries its tokeniser (see :mod:`lepton_widgets.core.export.inputs`).

Exit status: 0 when every format asked for by name passed (with ``all``, a format that is merely
unavailable here, such as ONNX without tf2onnx, is reported but does not fail the command); 1 otherwise;
2 for a bad run or argument.

Example:
    $ lepton export 20261130-101500-quickstart --format tflite-int8 --format onnx
    $ lepton export 20261130-101500-quickstart --format all --out dist/quickstart
"""

from __future__ import annotations

import sys

FORMAT_CHOICES = ("keras", "savedmodel", "tflite", "tflite-f16", "tflite-int8", "onnx", "all")


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a run (keras, SavedModel, TFLite f32/f16/int8, ONNX), each "
                                             "reloaded and checked against the trained model")
    p.add_argument("run", help="run id, id prefix or folder")
    p.add_argument("--format", dest="formats", action="append", default=None, metavar="FORMAT",
                   help=f"one of {', '.join(FORMAT_CHOICES)}; repeat or comma-separate for several (default: all)")
    p.add_argument("--out", default=None, help="folder to write to (default: <run>/exports)")
    p.add_argument("--check-images", type=int, default=64,
                   help="held-out test images (texts, table rows) compared per format")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.export.verify import export_run, parse_formats

    requested = args.formats or ["all"]
    names = parse_formats(requested)  # ValueError -> "lepton: error: unknown export format ..." (exit 2)
    explicit = not any(part.strip().lower() == "all" for item in requested for part in item.split(","))
    if args.check_images < 1:
        raise ValueError("--check-images must be at least 1")

    def progress(event) -> None:
        if event.kind == "progress" and event.done < event.total:
            print(f"{event.task} ({event.done + 1}/{event.total})...", file=sys.stderr, flush=True)

    report = export_run(args.run, names, args.out, runs_dir=args.runs_dir, n_check=args.check_images,
                        job=Job(sink=progress))
    print(f"run {report.run_id}: exports in {report.out_dir}")
    print(format_table(report.results))
    print(f"model card: {report.card_md}")
    bad = [r for r in report.results
           if r.status in ("failed", "error") or (r.status == "unavailable" and explicit)]
    return 1 if bad else 0


def format_table(results) -> str:
    """A fixed-width table, one line per format; then each format's tolerance and, when it did not pass, why."""
    header = f"{'format':<12} {'result':<12} {'size':>9} {'max|diff|':>10} {'top-1 agreement':<30} file"
    lines = [header, "-" * len(header)]
    for r in results:
        size = "-" if r.size_bytes is None else f"{r.size_bytes / 1024:.0f} KB"
        diff = "-" if r.max_abs_diff is None else f"{r.max_abs_diff:.2e}"
        result = {"passed": "pass", "failed": "FAIL", "unavailable": "unavailable", "error": "ERROR"}[r.status]
        lines.append(f"{r.format:<12} {result:<12} {size:>9} {diff:>10} {r.agreement_text():<30} {r.path or '-'}")
    lines.append("tolerances:")
    lines += [f"  {r.format}: {r.tolerance}" for r in results]
    reasons = [f"  {r.format}: {r.reason}" for r in results if r.reason]
    return "\n".join(lines + (["why:"] + reasons if reasons else []))

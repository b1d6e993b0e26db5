"""``lepton rank CONFIG``: score candidate backbones on the config's data before training.

Each candidate's frozen features of a small seeded train/val subset are computed (and cached), then scored
with LogME and a linear probe; the table is printed best first with the recommended one marked, and
candidates that cannot load here are listed with the reason. ``run:<id>`` candidates are looked up in
``--runs-dir``. Exit code 0 when at least one candidate could be scored.

Example:
    $ lepton rank configs/quickstart.yaml
    $ lepton rank configs/quickstart.yaml --candidates mobilenet_v2:offline,small_cnn:none,run:20261130-1015
    $ lepton rank my.yaml --candidates mobilenet_v2:offline,vgg16:offline --train-per-class 30 --json out.json
"""

from __future__ import annotations

from lepton_widgets.commands import whole_number_at_least


def register(subparsers) -> None:
    """Add the ``rank`` subcommand."""
    p = subparsers.add_parser(
        "rank", help="rank candidate backbones on your data before training (LogME + linear probe)",
        description="Score candidate backbones on the config's data from cached features of a small split: "
                    "LogME (You et al. 2021) and a logistic-regression probe; recommend one.")
    p.add_argument("config", help="YAML/JSON run config (its data, image size and seed are used)")
    p.add_argument("--candidates", default=None, metavar="NAME:WEIGHTS,...",
                   help="comma-separated, e.g. mobilenet_v2:offline,small_cnn:none,run:RUN_ID "
                        "(default: every backbone with its offline and random weights)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a value")
    p.add_argument("--train-per-class", type=whole_number_at_least(1), default=None, metavar="N",
                   help="train samples per class scored (default 40)")
    p.add_argument("--val-per-class", type=whole_number_at_least(1), default=None, metavar="N",
                   help="val samples per class for the probe (default 20)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the table as JSON records")
    p.set_defaults(func=cmd_rank)



def resolve_candidates(text: str | None, runs_dir) -> list[str] | None:
    """Split ``--candidates``; ``run:<id>`` references become run folders of ``runs_dir``'s store.

    >>> resolve_candidates("mobilenet_v2:offline, small_cnn:none", None)
    ['mobilenet_v2:offline', 'small_cnn:none']
    """
    if text is None:
        return None
    from pathlib import Path

    items = [item.strip() for item in text.split(",") if item.strip()]
    resolved = []
    for item in items:
        prefix, marker, ref = item.rpartition("run:") if "run:" in item else ("", "", "")
        if marker and ref and not Path(ref).expanduser().is_dir():
            from lepton_widgets.core.runs.store import RunStore

            try:
                ref = str(RunStore(runs_dir).open(ref).path.resolve())
            except FileNotFoundError:
                pass  # left as written: the table says why it cannot be used
            item = f"{prefix}run:{ref}"
        resolved.append(item)
    return resolved


def cmd_rank(args) -> int:
    """Rank the candidates; print the table; exit 0 when one could be scored."""
    from lepton_widgets.commands._console import TqdmSink, load_config

    cfg = load_config(args.config, args.set)  # the CLI's one config path: one-line errors, safe YAML
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.tasks.image.ranking import rank_backbones

    options = {k: v for k, v in (("train_per_class", args.train_per_class), ("val_per_class", args.val_per_class))
               if v is not None}
    frame = rank_backbones(cfg, resolve_candidates(args.candidates, args.runs_dir), job=Job(sink=TqdmSink()),
                           **options)
    shown = frame.assign(recommended=frame["recommended"].map({True: "<-- recommended", False: ""}))
    print(shown.drop(columns=["reason"]).to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"))
    for _, row in frame[frame["status"] != "ok"].iterrows():
        print(f"{row['backbone']}:{row['weights']} unavailable: {row['reason']}")
    if args.json:
        frame.to_json(args.json, orient="records", indent=2)
    best = frame[frame["recommended"]]
    if best.empty:
        print("no candidate could be scored")
        return 1
    print(f"recommended: backbone {best.iloc[0]['backbone']} with weights {best.iloc[0]['weights']}")
    return 0

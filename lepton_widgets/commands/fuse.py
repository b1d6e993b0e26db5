"""``lepton fuse RUN RUN [RUN...]``: an ensemble, a weight soup or a distilled model of finished runs.

The runs are of one kind (pictures, sounds, texts or tables). The fused model is stored as a new run of that
kind (``lepton eval`` and ``lepton predict`` work on it as on its members). The command
prints the members and the fused model side by side (validation and test accuracy and log-loss), then the
new run's id. Incompatible runs (other data, other split, other architecture for a soup) are refused with
what differs, and nothing is stored.

Example:
    $ lepton fuse 20260101-120000-a 20260101-121000-b 20260101-122000-c --method greedy-soup
    $ lepton fuse run-a run-b --method ensemble --name my-ensemble
    $ lepton fuse run-a run-b run-c --method distill --distill-epochs 5
"""

from __future__ import annotations

from lepton_widgets.commands import whole_number_at_least


def register(subparsers) -> None:
    """Add the ``fuse`` subcommand."""
    from lepton_widgets.core.fusion.methods import DESCRIPTIONS, METHODS  # no TensorFlow: cheap

    methods = "; ".join(f"{name}: {DESCRIPTIONS[name]}" for name in METHODS)
    p = subparsers.add_parser(
        "fuse", help="combine finished runs into one: ensemble, uniform/greedy weight soup or distillation",
        description=f"Combine two or more finished runs into a new run. Methods: {methods}.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run ids, id prefixes or folders (two or more)")
    p.add_argument("--method", choices=METHODS, default="ensemble", help="how to fuse (default: ensemble)")
    p.add_argument("--name", default=None, help="name of the new run (default: METHOD-of-N)")
    p.add_argument("--distill-epochs", type=whole_number_at_least(1), default=3, metavar="N",
                   help="training epochs of the distilled student (distill only; default 3)")
    p.set_defaults(func=cmd_fuse)



def cmd_fuse(args) -> int:
    """Fuse the runs; print members vs fused; exit 0 when the fused run finished."""
    from lepton_widgets.commands._console import TqdmSink
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.fusion.fuse import comparison_frame, fuse
    from lepton_widgets.core.runs.store import RunStore

    store = RunStore(args.runs_dir)
    if len(args.runs) < 2:
        raise ValueError(f"fuse needs at least two runs, got {len(args.runs)}")
    records = [store.open(run) for run in args.runs]
    record = fuse(records, args.method, store=store, name=args.name, job=Job(sink=TqdmSink()),
                  distill_epochs=args.distill_epochs)
    if record.status != "finished":
        print(f"run {record.run_id}: {record.status}; no fused model")
        return 1
    frame = comparison_frame(record)
    shown = frame.rename(columns={"val_accuracy": "val acc", "val_log_loss": "val loss",
                                  "test_accuracy": "test acc", "test_log_loss": "test loss"})
    print(shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4f}"))
    fused, best = frame.iloc[-1], frame[frame["role"] == "best member"].iloc[0]
    print(f"{args.method}: val accuracy {fused['val_accuracy']:.4f} vs best member {best['val_accuracy']:.4f} "
          f"({fused['val_accuracy'] - best['val_accuracy']:+.4f}); test accuracy {fused['test_accuracy']:.4f} "
          f"vs {best['test_accuracy']:.4f} ({fused['test_accuracy'] - best['test_accuracy']:+.4f})")
    print(f"run {record.run_id}: finished")
    print(f"saved in {record.path}")
    return 0

"""``lepton update RUN NEW_DATA``: fine-tune a finished run on new data (new classes included) with replay.

The new version is stored as a run of its own (the parent is never changed) and the forgetting meter is
printed: old-data accuracy before -> after, and new-data accuracy. ``--compare`` also trains the
no-replay variant on the same data (stored as its own run) and prints both meters.

Example:
    $ lepton update 20260101-120000-digits digits --classes 5,6,7,8,9 --replay 100 --compare
    $ lepton update 20260101-120000-photos ~/photos/new_classes --epochs 5 --learning-rate 1e-4
    $ lepton update 20260101-120000-reviews more_reviews.csv --replay 100   # texts and tables too
"""

from __future__ import annotations

from lepton_widgets.commands import whole_number_at_least


def register(subparsers) -> None:
    """Add the ``update`` subcommand."""
    p = subparsers.add_parser(
        "update", help="fine-tune a run on new labelled data (new classes too), with a replay buffer",
        description="Fine-tune a finished run on new labelled data, new classes included, mixing in a replay "
                    "buffer of old training samples (pictures, sounds, texts or table rows); stores a new "
                    "version and prints the forgetting meter.")
    p.add_argument("run", help="run id, id prefix or folder of a finished run")
    p.add_argument("new_data", metavar="NEW_DATA",
                   help="a built-in dataset name or your own data of the run's kind: pictures: a folder of class "
                        "folders, a .zip of one or a .csv (path,label); texts: a folder of .txt class folders or "
                        "a .csv (text,label); tables: a .csv with the run's columns")
    p.add_argument("--classes", default=None, metavar="A,B,...",
                   help="keep only these classes of NEW_DATA (comma-separated)")
    p.add_argument("--replay", type=whole_number_at_least(0), default=None, metavar="N",
                   help="old training samples replayed each epoch (default 200; 0: none)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: as many as the run trained)")
    p.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                   help="learning rate (default: the run's, times its fine-tune factor if blocks train)")
    p.add_argument("--compare", action="store_true",
                   help="also train without replay on the same data and print both forgetting meters")
    p.set_defaults(func=cmd_update)



def cmd_update(args) -> int:
    """Run the update; exit 0 when the new version finished."""
    from lepton_widgets.commands._console import TqdmSink
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.runs.store import RunStore
    from lepton_widgets.core.update.incremental import DEFAULT_REPLAY, meter_lines, update_info, update_run

    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    replay = DEFAULT_REPLAY if args.replay is None else args.replay
    store = RunStore(args.runs_dir)
    record = update_run(store.open(args.run), args.new_data, replay=replay, epochs=args.epochs,
                        learning_rate=args.learning_rate, classes=classes, compare=args.compare, store=store,
                        job=Job(sink=TqdmSink()))
    info = update_info(record)
    if record.status != "finished":
        print(f"run {record.run_id}: {record.status}; no new version")
        return 1
    print(f"version {info['version']} of {info['parent']}: run {record.run_id} (finished)")
    added = info["classes"]["added"]
    print(f"classes: {len(info['classes']['all'])} ({len(added)} added: {', '.join(added) or 'none'})")
    for line in info.get("warnings", []):
        print(f"warning: {line}")
    print("forgetting meter:")
    for line in meter_lines(info):
        print(f"  {line}")
    compare = info.get("compare")
    if compare:
        print(f"without replay (run {compare['run_id']}):")
        for line in meter_lines({"meter": compare["meter"], "replay": {"used": 0}}):
            print(f"  {line}")
        gain = compare["meter"]["forgetting"] - info["meter"]["forgetting"]
        print(f"replay reduced forgetting by {gain:+.3f}" if gain > 0 else
              f"replay did not reduce forgetting here ({gain:+.3f})")
    print(f"test accuracy (old + new data): {record.metrics['accuracy']:.4f}")
    print(f"saved in {record.path}")
    return 0

"""``lepton auto DATA``: Lepton Auto from the command line, from your data to a checked model in a time budget.

``DATA`` is anything the Data step takes: a built-in dataset's name, a folder with one subfolder per class (of
images, ``.wav`` sounds or ``.txt`` texts), a zip of one, or a CSV (images listed with their class, texts, or
a table; ``--target`` names a table's class column when it is not called label, class, target, y or outcome).

While it runs, each stage prints what it found or chose in plain words as it ends, each model made prints a
line, and training shows the usual progress bars. At the end: the leaderboard (every model, its validation
score, the chosen one marked), the chosen run, its model card, and the examples that look mislabelled with how
to leave them out (``--exclude-flagged``).

Started again with the same data, goal and seed, it resumes: the stages already done are said and skipped.
Ctrl-C stops cleanly: the running stage ends, what finished is kept, and the same command resumes (a second
Ctrl-C quits at once).

Exit status: 0 when Auto finished with a chosen model; 1 when it stopped or failed; 2 for a bad argument or data
that cannot be read.

Example:
    $ lepton auto digits --budget 5m
    $ lepton auto my_photos/ --budget 10m --goal small
    $ lepton auto loans.csv --target default --budget 3m
    $ lepton auto my_photos/ --budget 10m --exclude-flagged     # again, without the likely mislabelled ones
"""

from __future__ import annotations

import argparse
import sys
import threading

#: How many likely mislabelled examples the command lists (the Auto step in the workbench shows them all).
SHOWN_ISSUES = 10


def budget_argument(text: str) -> str:
    """An argparse ``type``: ``text`` when it is a budget Auto takes (``10m``, ``90s``, ``1h30m``), else a clear
    usage error.

    >>> budget_argument("2m")
    '2m'
    """
    from lepton_widgets.core.auto.budget import parse_budget

    try:
        parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def register(subparsers) -> None:
    """Add the ``auto`` subcommand."""
    from lepton_widgets.core.tasks.autokit import GOALS  # no TensorFlow: cheap

    goals = "; ".join(f"{name}: {what}" for name, what in GOALS.items())
    p = subparsers.add_parser(
        "auto", help="Lepton Auto: the best model for your data within a time budget, every choice explained",
        description="From your data to a checked model within a time budget: checks the data (duplicates, "
                    "imbalance, likely mislabelled examples, how many more examples each class needs), chooses "
                    "a recipe, ranks pretrained networks, trains, searches settings, fine-tunes, combines the "
                    "best models and exports the chosen one with a model card. Run it again to resume.")
    p.add_argument("data", metavar="DATA",
                   help="a built-in dataset's name (e.g. digits), a folder with one subfolder per class (images, "
                        ".wav sounds or .txt texts), a .zip of one, or a .csv file")
    p.add_argument("--budget", type=budget_argument, default="10m", metavar="TIME",
                   help="the time Auto may take, e.g. 90s, 10m, 1h30m (at least 30s; default 10m)")
    p.add_argument("--goal", choices=list(GOALS), default="accuracy", help=f"what to aim for ({goals})")
    p.add_argument("--target", default=None, metavar="COLUMN",
                   help="a CSV's class column, when it is not named label, class, target, y or outcome")
    p.add_argument("--exclude-flagged", action="store_true",
                   help="leave out the examples the data check finds likely mislabelled (see them in a first run)")
    p.add_argument("--fresh", action="store_true", help="start over instead of resuming a stopped session")
    p.add_argument("--seed", type=int, default=42, metavar="N", help="random seed (default 42)")
    p.set_defaults(func=cmd_auto)


class AutoConsole:
    """Event sink that prints Auto's stages and models as plain lines (to ``out``) and hands every other event
    (training's epochs and progress) to ``bars``, a :class:`~lepton_widgets.commands._console.TqdmSink`."""

    def __init__(self, bars, out=None) -> None:
        self.bars, self.out = bars, out or sys.stdout
        self.planned: list[str] = []

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def __call__(self, event) -> None:
        kind = event.kind
        if kind == "auto_started":
            self.started(event)
        elif kind == "auto_stage_started":
            number = self.planned.index(event.stage) + 1 if event.stage in self.planned else "?"
            self.say(f"[{number}/{len(self.planned)}] {event.title} (up to {_duration(event.seconds)})...")
        elif kind == "auto_stage_ended":
            self.say(f"    {event.status} in {_duration(event.seconds)}: {event.summary}")
        elif kind == "auto_leaderboard_row":
            row = event.entry
            note = f" ({row['note']})" if row.get("note") else ""
            self.say(f"    model: {row.get('label')}: validation {_metric(row.get('metric'))} "
                     f"{_number(row.get('val_score'))}{note}")
        elif kind == "auto_finished":
            pass  # the command prints the outcome itself, from the result
        else:
            self.bars(event)

    def started(self, event) -> None:
        self.planned = list(event.stages)
        self.say(f"Lepton Auto {event.auto_id}: budget {_duration(event.budget)}, goal {event.goal}")
        if event.done and len(event.done) == len(event.stages):
            self.say(f"All {len(event.stages)} stages were already done: this is the stored result (--fresh starts "
                     f"over).")
        elif event.done:
            self.say(f"Resuming: {len(event.done)} of {len(event.stages)} stages were already done "
                     f"({_titles(event.done)}); they are not run again.")


def cmd_auto(args) -> int:
    """Run (or resume) Auto; print its stages, the leaderboard, the chosen run, the card and the flagged examples."""
    from lepton_widgets.commands._console import TqdmSink
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.tasks.data_guess import data_config_for

    data_cfg = data_config_for(args.data, target=args.target)  # unreadable data: exit 2 with the reason
    from lepton_widgets.core.auto.pipeline import run_auto

    job = Job(sink=AutoConsole(TqdmSink()))
    labels = "exclude" if args.exclude_flagged else "keep"
    outcome: dict = {}
    ended = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = run_auto(data_cfg, budget=args.budget, goal=args.goal, labels=labels,
                                         seed=args.seed, runs_dir=args.runs_dir, job=job, fresh=args.fresh)
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread, which reports it
            outcome["error"] = error
        finally:
            ended.set()

    # Auto works in a thread so that Ctrl-C (always handled in the main thread) becomes a Stop request: the
    # running stage ends between batches and saves what it finished, instead of dying half-way through.
    threading.Thread(target=work, name="lepton-auto", daemon=True).start()
    if _wait_stopping_on_ctrl_c(ended, job):  # a second Ctrl-C: quit without waiting for the stage
        print("Quit. The stages done before this one are kept; run the same command to resume.", file=sys.stderr)
        return 130
    if "error" in outcome:
        raise outcome["error"]
    return report(outcome["result"], args)


def _wait_stopping_on_ctrl_c(ended: threading.Event, job) -> bool:
    """Wait for ``ended``; the first Ctrl-C stops ``job``, a second one gives up waiting (returns True).

    Ctrl-C only sets a flag that this loop reads. Python's own KeyboardInterrupt is raised wherever the main
    thread happens to be, and inside a finalizer (``__del__`` of an object the Auto thread dropped, collected
    by the main thread) Python prints "Exception ignored" and drops it. Once in the test suite a Ctrl-C never
    reached the waiting loop and Auto ran to its end; a flag cannot be dropped that way. Outside the main thread
    (the CLI called from a thread) no handler can be set: it just waits.
    """
    import signal

    presses: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: presses.append(signum))
    except ValueError:  # not the main thread
        ended.wait()
        return False
    try:
        stopping = False
        while not ended.wait(0.2):
            if presses and not stopping:
                stopping = True
                job.stop()
                print("\nStopping: the running stage ends and keeps what it finished "
                      "(Ctrl-C again to quit at once)...", file=sys.stderr, flush=True)
            if len(presses) > 1:
                return True
        return False
    finally:
        signal.signal(signal.SIGINT, previous)


def report(result, args) -> int:
    """Print what Auto made; the exit status (0: finished with a chosen model)."""
    table = result.frame()
    if len(table):
        print("\nLeaderboard (validation scores: the test split is never used to choose):")
        print(leaderboard_text(table))
    if result.best_run_id:
        run = result.best_run()
        print(f"\nChosen: run {result.best_run_id}" + (f", saved in {run.path}" if run is not None else ""))
    if result.card_md:
        print(f"Model card: {result.card_md}")
    _print_label_issues(result.label_issues, args)
    if result.status == "finished":
        print(f"\nAuto finished in {_duration(result.elapsed)} (session {result.auto_id}, kept in {result.folder}).")
        return 0
    if result.status == "cancelled":
        done = [name for name, stage in result.stages.items() if stage.get("status") in ("done", "skipped")]
        print(f"\nStopped after {_duration(result.elapsed)}. Kept: {len(done)} finished stage(s)"
              f"{' (' + _titles(done) + ')' if done else ''} and {len(result.entries)} model(s), in "
              f"{result.folder}. Run the same command again to resume where it stopped.")
        return 1
    print(f"\nAuto could not finish: {result.message or 'no model was chosen.'}")
    return 1


def leaderboard_text(table) -> str:
    """The leaderboard frame (``core.auto.leaderboard.frame``) as a table for the terminal, best first."""
    test_auc = table["test_roc_auc"].notna().any()
    shown = {
        "model": table["label"], "stage": table["stage"],
        "validation": [f"{_metric(m)} {_number(v)}" for m, v in zip(table["metric"], table["val_score"])],
        "test accuracy": table["test_accuracy"].map(_number),
        **({"test ROC AUC": table["test_roc_auc"].map(_number)} if test_auc else {}),
        "seconds": table["seconds"].map(lambda v: "-" if v != v else f"{v:.0f}"),
        "kept": table["kept"].map({True: "yes", False: "no"}), "run": table["run_id"],
        "": table["chosen"].map({True: "<-- chosen", False: ""}),
    }
    import pandas as pd

    return pd.DataFrame(shown).to_string(index=False)


def _print_label_issues(issues: list, args) -> None:
    if not issues:
        return
    print(f"\n{len(issues)} example(s) look mislabelled (their label disagrees with what the rest of the data "
          f"says){'; the first ' + str(SHOWN_ISSUES) if len(issues) > SHOWN_ISSUES else ''}:")
    for item in issues[:SHOWN_ISSUES]:
        where = item.get("ref") or item.get("id", "?")
        confidence = item.get("confidence")
        sure = f" ({confidence:.0%} sure)" if isinstance(confidence, (int, float)) else ""  # of the suggested class
        print(f"  {where}: labelled {item.get('given')!s}, looks like {item.get('suggested')!s}{sure}")
    if args.exclude_flagged:
        print("They were left out of training (--exclude-flagged).")
    else:
        print("Check them: if their labels are wrong, fix the files, or run again with --exclude-flagged to leave "
              "them out (the data check is kept; the models are trained again).")


def _titles(stages) -> str:
    """The stages' plain names (``Checking the data, Choosing a recipe``)."""
    from lepton_widgets.core.auto.stages import STAGES

    return ", ".join(STAGES[name][0] if name in STAGES else name for name in stages)


def _duration(seconds) -> str:
    """``45 s``, ``2 min 5 s``, ``1 h 3 min``.

    >>> _duration(45.2), _duration(125), _duration(3780)
    ('45 s', '2 min 5 s', '1 h 3 min')
    """
    seconds = int(round(float(seconds or 0)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")


def _number(value) -> str:
    return "-" if value is None or value != value else f"{value:.4f}"


def _metric(name) -> str:
    """How people read a metric's name (``roc_auc`` is ``ROC AUC``)."""
    return {"roc_auc": "ROC AUC", "macro_f1": "macro F1"}.get(str(name), str(name).replace("_", " "))

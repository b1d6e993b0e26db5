"""The ``lepton`` command line: ``train``, ``tune``, ``eval``, ``predict``, ``runs``, ``quickstart`` and ``app``.

The config file is the same one the widgets produce (``Show code`` panel), so a run made by clicking can
be replayed here. Progress goes to the terminal as tqdm bars built from the engine's events.

Example:
    $ lepton train configs/quickstart.yaml --set train.epochs=3
    $ lepton train cfg.yaml --workers 10.0.0.5:2222,10.0.0.6:2222 --worker-index 0   # and index 1 on 10.0.0.6
    $ lepton tune configs/quickstart.yaml --set tuner.max_trials=10 --use-best
    $ lepton tune search.yaml --chief --oracle-port 8000          # and, elsewhere, N workers:
    $ lepton tune search.yaml --worker --oracle-ip 10.0.0.5 --oracle-port 8000 --tuner-id tuner1
    $ lepton runs
    $ lepton eval 20261130-101500-quickstart
    $ lepton predict 20261130-101500-quickstart shoe.png shirt.jpg
    $ lepton predict runs/20261130-101500-quickstart/exports/onnx/model.onnx shoe.png   # an exported file
    $ lepton app --port 8866         # the workbench in the browser (Voilà on 127.0.0.1)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

# TensorFlow's C++ messages stay out of the terminal: at level 2 a CPU-only machine still prints "failed call
# to cuInit: ... CUDA error" (an ERROR line) at the first operation. Its start-up lines, which ignore any
# level, are dropped by lepton_widgets.core.base.quiet_tensorflow (installed by `import lepton_widgets`).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lepton_widgets.commands._console import TqdmSink, load_config  # noqa: E402
from lepton_widgets.config import ConfigError  # noqa: E402


def _check_runs_dir(runs_dir: Optional[str]) -> None:
    """``--runs-dir`` (or $LEPTON_RUNS) must be a folder or not exist yet (it is created): a file is refused."""
    for label, value in (("--runs-dir", runs_dir), ("$LEPTON_RUNS", os.environ.get("LEPTON_RUNS"))):
        if value:
            path = Path(value).expanduser()
            if path.exists() and not path.is_dir():
                raise ConfigError(f"{label} {value!r} is a file, not a folder; name a folder for the runs "
                                  f"(it is created if missing)")
            return  # --runs-dir wins over $LEPTON_RUNS


def cmd_train(args) -> int:
    workers = _join_workers(args)  # first: TF_CONFIG and the strategy must come before any TensorFlow operation
    cfg = load_config(args.config, args.set)  # before the engine is imported: config mistakes answer at once
    from lepton_widgets.api import train

    if getattr(args, "name", None) is not None:
        cfg = cfg.replace(name=_run_name(args.name))
    if workers and args.worker_index != 0:
        return _train_as_helper(cfg, args, workers)
    record = train(cfg, runs_dir=args.runs_dir, sink=TqdmSink())
    print(f"run {record.run_id} ({cfg.name}): {record.status}")
    for key, value in record.metrics.items():
        print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    _print_data_report(record)
    print(f"saved in {record.path}")
    return 0 if record.status == "finished" else 1


def _join_workers(args) -> list[str]:
    """``--workers``/``--worker-index``: make this process one worker of a MultiWorkerMirroredStrategy cluster."""
    if getattr(args, "workers", None) is None:
        if getattr(args, "worker_index", None) is not None:
            raise ConfigError("--worker-index needs --workers (every worker's host:port, the same list on each)")
        return []
    if args.worker_index is None:
        raise ConfigError("--workers needs --worker-index (0 on the machine that keeps the run, then 1, 2, ...)")
    from lepton_widgets.core.base.distribute import parse_workers, set_workers

    try:
        workers = parse_workers(args.workers, args.worker_index)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    set_workers(workers, args.worker_index)
    print(f"worker {args.worker_index} of {len(workers)} ({workers[args.worker_index]}): waiting for the others "
          "to start; every step is shared by all of them", file=sys.stderr)
    return workers


def _train_as_helper(cfg, args, workers: list[str]) -> int:
    """A worker other than 0 trains the same steps but keeps nothing: its copy of the run goes to a temporary
    folder, removed afterwards (worker 0 writes the run)."""
    import shutil
    import tempfile

    from lepton_widgets.api import train

    scratch = tempfile.mkdtemp(prefix="lepton-worker-")
    try:
        record = train(cfg, runs_dir=scratch)
        print(f"worker {args.worker_index} of {len(workers)}: {record.status}; the run is kept by worker 0 "
              f"({workers[0]})")
        return 0 if record.status == "finished" else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _print_data_report(record) -> None:
    """What happened to the user's files (used, skipped, converted, why), so nothing is skipped silently."""
    from lepton_widgets.core.data.report import report_summary_lines

    csv = record.path / "data_report.csv"
    try:
        frame = record.data_report  # read back unescaped: file names show as the user wrote them
    except (OSError, ValueError):
        return  # a run that stopped before its data was read has no report to summarise
    warnings = record._read_dict("data_report.json").get("warnings") or []
    warnings = [w for w in warnings if isinstance(w, str)]
    for line in report_summary_lines(frame, str(csv), warnings):
        print(line)


def _run_name(text: str) -> str:
    """``--name``, checked before anything runs: short, and safe in a folder name and a shell."""
    from lepton_widgets.core.runs.store import check_run_name

    try:
        return check_run_name(text)
    except ValueError as error:
        raise ConfigError(f"--name: {error}") from None


TUNER_ENV = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def _tuner_environment(args) -> None:
    """KerasTuner's distributed mode is driven by environment variables; set them from the flags."""
    if not (args.chief or args.worker):
        for key in TUNER_ENV:  # a plain `lepton tune` runs locally, whatever the shell exported
            os.environ.pop(key, None)
        return
    tuner_id = "chief" if args.chief else (args.tuner_id or f"tuner-{os.uname().nodename}-{os.getpid()}")
    if args.worker and "chief" in tuner_id:
        raise ConfigError(f"--tuner-id {tuner_id!r}: a worker's id must not contain 'chief'")
    os.environ.update({"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": args.oracle_ip,
                       "KERASTUNER_ORACLE_PORT": str(args.oracle_port)})


def cmd_tune(args) -> int:
    """Search hyper-parameters with KerasTuner (the config's ``tuner`` section says what to search)."""
    cfg = load_config(args.config, args.set)
    best_name = _run_name(args.name) if args.name is not None else None
    _tuner_environment(args)
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.search.tuner import run_search
    from lepton_widgets.core.search.events import describe

    bars = TqdmSink()

    def sink(event) -> None:
        line = describe(event)
        if line:
            print(line, flush=True)
        elif event.kind == "progress":
            bars(event)

    try:
        result = run_search(cfg, Job(sink=sink), runs_dir=args.runs_dir)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume the search", file=sys.stderr)
        return 130
    best = result.best
    if best is not None and not args.worker:
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in best["hyperparameters"].items())
        print(f"best trial {best['number']}: {cfg.tuner.objective} {best['score']:.4f} ({shown})")
        print(f"best config: {result.directory / 'best.json'}")
        if args.use_best:
            from lepton_widgets.api import train

            best_config = result.best_config(name=best_name)
            record = train(best_config, runs_dir=args.runs_dir, sink=bars)
            print(f"run {record.run_id} ({best_config.name}, best trial): {record.status}, saved in {record.path}")
    return 0 if result.status == "finished" else 1


def cmd_eval(args) -> int:
    from lepton_widgets.api import evaluate

    result = evaluate(args.run, split=args.split, runs_dir=args.runs_dir)
    for key, value in result.summary().items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    print(result.per_class.round(3).to_string())
    if args.attack:
        from lepton_widgets.api import robustness

        curve = robustness(args.run, method=args.attack, epsilons=args.epsilons, max_samples=args.max_samples,
                           runs_dir=args.runs_dir, sink=TqdmSink())
        print(f"accuracy under {curve.method} ({curve.n} test images):")
        for epsilon, accuracy in zip(curve.epsilons, curve.accuracy):
            print(f"  epsilon {epsilon:.4f} ({epsilon * 255:.1f}/255): {accuracy:.4f}")
    return 0


def cmd_predict(args) -> int:
    from lepton_widgets.api import predict

    frame = predict(args.model, args.inputs, runs_dir=args.runs_dir)
    print(frame[["file", "label", "confidence", "error"]].to_string(index=False))
    return 0 if frame["error"].isna().all() else 1


def cmd_runs(args) -> int:
    from lepton_widgets.api import list_runs

    frame = list_runs(runs_dir=args.runs_dir)
    if frame.empty:
        print("no runs yet")
        return 0
    columns = [c for c in ("name", "run_id", "status", "dataset", "backbone", "frozen_depth", "accuracy", "macro_f1")
               if c in frame.columns]
    print(frame[columns].to_string(index=False))
    if "problem" in frame.columns:  # damaged runs are listed, and this says why each one is
        for _, row in frame[frame["problem"].notna()].iterrows():
            print(f"damaged run {row['run_id']}: {row['problem']}")
    return 0


def cmd_quickstart(args) -> int:
    """Train and evaluate the default model (the embedded default config)."""
    args.config = None
    args.set = list(args.set) + ["train.fine_tune_epochs=0"] if args.fast else list(args.set)
    return cmd_train(args)


def cmd_app(args) -> int:
    """Serve the workbench with Voilà on 127.0.0.1 (see lepton_widgets.apps.launch)."""
    from lepton_widgets.apps.room_server import run_app

    return run_app(args, runs_dir=args.runs_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lepton", description="Lepton Workbench: transfer learning from the CLI")
    parser.add_argument("--runs-dir", default=None, help="where runs are stored (default ./runs or $LEPTON_RUNS)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train and evaluate a model from a YAML/JSON config")
    p.add_argument("config", help="config file (same fields as RunConfig)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a value")
    p.add_argument("--name", default=None, help="the run's name, shown in every list (default: the config's)")
    p.add_argument("--workers", default=None, metavar="HOST:PORT,HOST:PORT,...",
                   help="train on several machines (tf.distribute MultiWorkerMirroredStrategy): every worker's "
                        "address, the same list on each; start one `lepton train` per machine")
    p.add_argument("--worker-index", type=int, default=None, metavar="I",
                   help="this machine's place in --workers; worker 0 keeps the run, the others only train")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="search hyper-parameters (KerasTuner) around a config; resumes if stopped")
    p.add_argument("config", help="config file with a `tuner` section (what to search)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a value")
    p.add_argument("--use-best", action="store_true", help="then train the best trial as a normal run")
    p.add_argument("--name", default=None, help="the name of the run --use-best trains (default <name>-best)")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--chief", action="store_true", help="serve the search's oracle for workers (trains nothing)")
    role.add_argument("--worker", action="store_true", help="run trials for the chief at --oracle-ip/--oracle-port")
    p.add_argument("--oracle-ip", default="127.0.0.1", help="the chief's address (default 127.0.0.1)")
    p.add_argument("--oracle-port", type=int, default=8000, help="the chief's port (default 8000)")
    p.add_argument("--tuner-id", default=None, help="this worker's unique id (default tuner-<host>-<pid>)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("eval", help="re-evaluate a stored run")
    p.add_argument("run", help="run id, id prefix or folder")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--attack", choices=["fgsm", "pgd"], default=None,
                   help="also measure test accuracy under this attack (the robustness score)")
    p.add_argument("--epsilons", default="0, 0.01, 0.03", metavar="E,E,...",
                   help="attack radii on pixels scaled to [0, 1] (default 0, 0.01, 0.03; 8/255 is about 0.031)")
    p.add_argument("--max-samples", type=int, default=1000, help="test images attacked (a seeded subset)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "predict", help="predict images, sounds, texts or tables with a run or an exported model file",
        description="Predict with a stored run or an exported model file. The inputs follow what the model "
                    "was trained on: image files; WAV files for a sound run; texts, or text files with one "
                    "text per line, for a text run; CSV files for a table run (one answer per row).")
    p.add_argument("model", metavar="RUN_OR_MODEL",
                   help="a run id (or its start), a run folder, or an exported model: a .keras, .tflite or "
                        ".onnx file or a SavedModel folder")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="images, sounds (.wav), texts or text files, or tables (.csv), as the model takes")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("runs", help="list stored runs")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("quickstart", help="train the default model on the built-in default dataset")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    p.add_argument("--fast", action="store_true", help="head only, no fine-tuning phase")
    p.set_defaults(func=cmd_quickstart)

    from lepton_widgets.apps.launch import build_parser as app_arguments  # no widget imports: cheap

    p = app_arguments(sub.add_parser("app", help="open the workbench in the browser (Voila on 127.0.0.1)"))
    p.set_defaults(func=cmd_app)

    from lepton_widgets.commands import register_all

    register_all(sub)  # fuse, update, export, ...: one module each in lepton_widgets/commands
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_runs_dir(args.runs_dir)
        return args.func(args)
    except ConfigError as error:  # one line, whatever the message was built from
        print(f"lepton: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"lepton: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

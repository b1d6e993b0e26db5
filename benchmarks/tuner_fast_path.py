"""A 10-trial head search on the fast path vs one forward pass of the backbone, and vs plain KerasTuner.

Data: Fashion-MNIST, 100 per class by default (700 train images, issue 18's size), 96 px, MobileNetV2 with the
offline weights, batch 32. The search varies learning rate, dropout and L2 over 10 trials of 5 head epochs
(everything frozen, no augmentation); each trial trains on the fast head (``fast_head.fit_head``: one compiled
call per epoch) of one shared, already traced head. The whole benchmark takes a few minutes on 2 cores.

- A (the floor): one forward pass of the backbone over the training split, as ``extract_features`` does it
  (its function traced afresh each time, the model already built). The pass over the rows the search
  extracts (train and val; the test split stays untouched until the final run) is reported too.
- B (ours): ``run_search`` from an empty feature cache and an empty search folder, end to end: data check,
  model build, one feature extraction over train and val, 10 trials on the shared head. The offline
  weights are already converted (a one-off per machine, not per search).
- C (baseline): the same search with plain KerasTuner (``RandomSearch``, default settings) over the plain
  Keras recipe (``keras.applications.MobileNetV2`` frozen + pooling + dropout + dense, ``model.fit`` on the
  same tf.data image pipeline), which recomputes the backbone every step. C takes minutes per trial, so by
  default it runs one trial and the time is scaled to 10.

A (train split), A (train and val) and B alternate three times. Target: B / A <= 2. The C / B ratio is
reported too.

B has costs that do not grow with the data (building the backbone, KerasTuner's own bookkeeping per trial,
tracing), so the ratio falls as the data grows; ``--per-class`` sets the size (before the fast head, at 100
per class those fixed costs made it 3.5x).

Run: python -m benchmarks.tuner_fast_path [--per-class K] [--baseline-trials N]
     (N < 10: C runs N trials, scaled to 10; N = 0 skips C)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

from benchmarks.common import context, report, summarize, timed

SIZE, BATCH, PER_CLASS, TRIALS, EPOCHS = 96, 32, 100, 10, 5
#: Plain KerasTuner trials run by default (scaled to TRIALS): one takes about 30 s at 100 per class.
BASELINE_TRIALS = 1
SPACE = {"learning_rate": [1e-4, 1e-2], "dropout": [0.0, 0.5], "l2": [1e-6, 1e-3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-trials", type=int, default=BASELINE_TRIALS,
                        help="trials of the plain KerasTuner run (0: skip it)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS, help="Fashion-MNIST images per class")
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="lepton-bench-tuner-")
    os.environ["LEPTON_HOME"] = os.path.join(scratch, "home")  # before the engine reads it
    import keras
    import keras_tuner as kt

    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.data import SampleTable, make_dataset, prepare_data
    from lepton_widgets.core.base.events import ListSink
    from lepton_widgets.core.tasks.image.feature_cache import extract_features
    from lepton_widgets.core.tasks.image.model import build_transfer_model
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.base.paths import cache_dir
    from lepton_widgets.core.search.tuner import run_search

    cfg = RunConfig.from_dict({
        "name": "bench", "data": {"dataset": "fashion_mnist", "max_per_class": args.per_class},
        "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE},
        "train": {"epochs": EPOCHS, "batch_size": BATCH, "early_stopping_patience": 0},
        "tuner": {"max_trials": TRIALS, **SPACE}})
    prepared = prepare_data(cfg.data, cfg.seed)  # also fills the in-process dataset cache for every later call
    train, val = prepared.split("train"), prepared.split("val")
    tm = build_transfer_model(cfg, prepared.num_classes)
    extract_features(tm.feature_extractor(), train, SIZE, BATCH)  # warm TensorFlow up, outside the timing

    def forward_pass(table) -> float:
        return timed(lambda: extract_features(tm.feature_extractor(), table, SIZE, BATCH))

    searches: list[dict] = []

    def our_search() -> float:
        # The one-off extraction is part of it; the offline weights' one-off conversion (once per machine,
        # done by the warm-up above) is not.
        shutil.rmtree(cache_dir("features"), ignore_errors=True)
        runs = tempfile.mkdtemp(dir=scratch)
        sink = ListSink()
        seconds = timed(lambda: searches.append({"result": run_search(cfg, Job(sink=sink), runs_dir=runs)}))
        extraction = [e.time for e in sink.of_kind("progress") if e.task.startswith("extract features")]
        trials = [e for e in sink.of_kind("trial_ended")]
        searches[-1].update(seconds=seconds, extraction_s=max(extraction) - min(extraction) if extraction else 0.0,
                            trial_s=[e.elapsed for e in trials], completed=len(searches[-1]["result"].completed))
        return seconds

    frame = prepared.table.frame
    scored = SampleTable(frame[frame["split"] != "test"].reset_index(drop=True), train.class_names, train.arrays,
                         train.modality, train.source)  # the train and val rows the search extracts
    floor_train, floor_scored, ours = [], [], []
    for _ in range(3):
        floor_train.append(forward_pass(train))
        floor_scored.append(forward_pass(scored))
        ours.append(our_search())
    a_train, a_scored, b = summarize(floor_train), summarize(floor_scored), summarize(ours)
    assert all(s["completed"] == TRIALS for s in searches), [s["completed"] for s in searches]

    def plain_model(hp):
        base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
        base.trainable = False
        inputs = keras.Input((SIZE, SIZE, 3))
        x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        x = keras.layers.GlobalAveragePooling2D()(base(x, training=False))
        x = keras.layers.Dropout(hp.Float("dropout", *SPACE["dropout"]))(x)
        l2 = hp.Float("l2", *SPACE["l2"], sampling="log")
        outputs = keras.layers.Dense(prepared.num_classes, activation="softmax",
                                     kernel_regularizer=keras.regularizers.L2(l2))(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", *SPACE["learning_rate"],
                                                                sampling="log")),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    baseline = None  # --baseline-trials 0: C is skipped (it takes minutes per trial on large data)
    if args.baseline_trials > 0:
        plain = kt.RandomSearch(plain_model, objective="val_accuracy", max_trials=args.baseline_trials,
                                seed=cfg.seed, directory=os.path.join(scratch, "plain"), project_name="plain",
                                overwrite=True)
        image_train = make_dataset(train, SIZE, BATCH, shuffle=True, seed=cfg.seed)
        image_val = make_dataset(val, SIZE, BATCH)
        started = time.perf_counter()
        plain.search(image_train, validation_data=image_val, epochs=EPOCHS, verbose=0)
        baseline = (time.perf_counter() - started) * TRIALS / args.baseline_trials
    shutil.rmtree(scratch, ignore_errors=True)

    ratio = b["median"] / a_train["median"]
    report("tuner_fast_path", context(image_size=SIZE, batch_size=BATCH, dataset="fashion_mnist",
                                      per_class=args.per_class, train_samples=len(train), rows=len(prepared.table),
                                      scored_rows=len(scored), backbone="mobilenet_v2", trials=TRIALS,
                                      epochs_per_trial=EPOCHS),
           {"forward_pass_train_split_s": a_train, "forward_pass_train_and_val_s": a_scored, "search_s": b,
            "search_extraction_s": summarize([s["extraction_s"] for s in searches]),
            "search_trial_s": summarize([t for s in searches for t in s["trial_s"]]),
            "plain_kerastuner_s": baseline, "plain_kerastuner_trials_run": args.baseline_trials,
            "plain_over_ours": baseline / b["median"] if baseline else None,
            "ours_over_forward_pass_train_split": ratio,
            "ours_over_forward_pass_train_and_val": b["median"] / a_scored["median"]},
           metric="head_search_10_trials_over_one_forward_pass", value=ratio, target="<= 2", unit="x")


if __name__ == "__main__":
    main()

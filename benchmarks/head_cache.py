"""Head epoch on cached features vs the plain-Keras recipe that recomputes the frozen backbone every step.

Same data (Fashion-MNIST, 100 per class, 96 px), same head (GlobalAveragePooling2D + Dropout + Dense),
same batch size (32, one optimiser step per batch on both sides). A = one epoch of our head model on cached
pooled features through the fast path (``fast_head.fit_head``: one compiled call per epoch), a whole
``fit_head(epochs=1)`` call each time; B = one epoch of ``keras.applications.MobileNetV2`` (frozen) + the
same head, ``model.fit`` on the same tf.data pipeline. A, B alternate three times; each A is the median of
10 calls (one call takes milliseconds). Also reported: the same head with Keras ``fit`` on cached features
(the path before the fast head) and the one-off feature extraction. Target: B / A >= 100.

Run: python -m benchmarks.head_cache
"""

from __future__ import annotations

import keras
import tensorflow as tf

from benchmarks.common import alternate, context, report, summarize, timed
from lepton_widgets.config import RunConfig
from lepton_widgets.core.data import make_dataset, prepare_data
from lepton_widgets.core.tasks.image.fast_head import fit_head
from lepton_widgets.core.tasks.image.feature_cache import extract_features
from lepton_widgets.core.tasks.image.model import build_head_model, build_transfer_model
from lepton_widgets.core.tasks.image.training import compile_model

SIZE, BATCH, PER_CLASS = 96, 32, 100


def main() -> None:
    cfg = RunConfig.from_dict({"data": {"dataset": "fashion_mnist", "max_per_class": PER_CLASS},
                               "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE},
                               "train": {"batch_size": BATCH}})
    prepared = prepare_data(cfg.data, cfg.seed)
    train = prepared.split("train")
    labels = train.label_indices().astype("int32")
    tm = build_transfer_model(cfg, prepared.num_classes)
    extraction = timed(lambda: extract_features(tm.feature_extractor(), train, SIZE, BATCH))
    features = extract_features(tm.feature_extractor(), train, SIZE, BATCH)

    head = build_head_model(features.shape[1], prepared.num_classes, cfg)
    compile_model(head, 1e-3, cfg, steps=1)
    feature_ds = tf.data.Dataset.from_tensor_slices((features, labels)).shuffle(len(labels), seed=0).batch(BATCH)
    head.fit(feature_ds, epochs=1, verbose=0, shuffle=False)  # trace once, outside the timing
    fast = build_head_model(features.shape[1], prepared.num_classes, cfg)
    compile_model(fast, 1e-3, cfg, steps=1)

    def fast_epoch() -> float:
        return timed(lambda: fit_head(fast, (features, labels), epochs=1, batch_size=BATCH, seed=0))

    fast_epoch()  # trace once

    base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    base.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(base(x, training=False))
    x = keras.layers.Dropout(0.2)(x)
    plain = keras.Model(inputs, keras.layers.Dense(prepared.num_classes, activation="softmax")(x))
    plain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    image_ds = make_dataset(train, SIZE, BATCH, shuffle=True, seed=0)
    plain.fit(image_ds, epochs=1, verbose=0, shuffle=False)  # trace once

    keras_fit_cached = []

    def ours() -> float:
        keras_fit_cached.append(timed(lambda: head.fit(feature_ds, epochs=1, verbose=0, shuffle=False)))
        return summarize([fast_epoch() for _ in range(10)])["median"]

    cached, recomputed = alternate(ours, lambda: timed(lambda: plain.fit(image_ds, epochs=1, verbose=0,
                                                                         shuffle=False)), repeats=3)
    a, b, old = summarize(cached), summarize(recomputed), summarize(keras_fit_cached)
    ratio = b["median"] / a["median"]
    report("head_cache", context(image_size=SIZE, batch_size=BATCH, dataset="fashion_mnist",
                                 train_samples=len(train), backbone="mobilenet_v2"),
           {"cached_epoch_s": a, "recomputed_epoch_s": b, "one_off_extraction_s": extraction,
            "keras_fit_cached_epoch_s": old, "fast_head_over_keras_fit_cached": old["median"] / a["median"],
            "cached_samples_per_s": len(train) / a["median"], "recomputed_samples_per_s": len(train) / b["median"]},
           metric="head_epoch_speedup_cached_vs_recomputed", value=ratio, target=">= 100", unit="x")


if __name__ == "__main__":
    main()

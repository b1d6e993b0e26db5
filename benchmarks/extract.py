"""Feature-extraction throughput through our streaming pipeline vs raw ``model.predict`` on arrays.

A = ``feature_cache.extract_features``: tf.data from the uint8 28x28 source, resize per batch, predict,
progress events. B (the physical floor) = the same extractor's ``model.predict`` on a float32 array that is
already resized and in memory. Same model, same images, same batch size. Target: A / B throughput >= 0.9.

Run: python -m benchmarks.extract
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import alternate, context, report, summarize, timed
from lepton_widgets.config import RunConfig
from lepton_widgets.core.data import make_dataset, prepare_data
from lepton_widgets.core.tasks.image.feature_cache import extract_features
from lepton_widgets.core.tasks.image.model import build_transfer_model

SIZE, BATCH, PER_CLASS = 96, 64, 150


def main() -> None:
    cfg = RunConfig.from_dict({"data": {"dataset": "fashion_mnist", "max_per_class": PER_CLASS},
                               "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE}})
    prepared = prepare_data(cfg.data, cfg.seed)
    table = prepared.table
    extractor = build_transfer_model(cfg, prepared.num_classes).feature_extractor()
    in_memory = np.concatenate([x.numpy() for x in make_dataset(table, SIZE, BATCH, with_labels=False)])
    extractor.predict(in_memory[:BATCH], batch_size=BATCH, verbose=0)  # trace both paths once
    extract_features(extractor, table.subset("test"), SIZE, BATCH)

    ours, raw = alternate(lambda: timed(lambda: extract_features(extractor, table, SIZE, BATCH)),
                          lambda: timed(lambda: extractor.predict(in_memory, batch_size=BATCH, verbose=0)),
                          repeats=3)
    a, b = summarize(ours), summarize(raw)
    n = len(table)
    ratio = (n / a["median"]) / (n / b["median"])
    report("extract", context(image_size=SIZE, batch_size=BATCH, dataset="fashion_mnist", samples=n,
                              backbone="mobilenet_v2"),
           {"pipeline_s": a, "in_memory_predict_s": b, "pipeline_img_per_s": n / a["median"],
            "in_memory_img_per_s": n / b["median"]},
           metric="extract_throughput_pipeline_over_in_memory_predict", value=ratio, target=">= 0.9", unit="ratio")


if __name__ == "__main__":
    main()

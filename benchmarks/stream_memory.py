"""Peak resident memory while training on all of Fashion-MNIST (70,000 images) at 96 px.

The images stay uint8 28x28 in memory and are resized per batch by tf.data, so peak RSS should be far
below the float32 tensor a naive recipe would build (70,000 x 96 x 96 x 3 x 4 bytes = 7.7 GB, computed,
not allocated). The run: MobileNetV2 offline weights, feature extraction over every image (streamed), one
head epoch on cached features, test evaluation streamed again. Target: peak RSS <= 2 GB.

Run: python -m benchmarks.stream_memory
"""

from __future__ import annotations

import tempfile
import threading
import time

import psutil

from benchmarks.common import context, report
from lepton_widgets.api import train

SIZE = 96


def main() -> None:
    process = psutil.Process()
    peak = [process.memory_info().rss]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    record = train({"name": "stream-memory", "data": {"dataset": "fashion_mnist", "max_per_class": None},
                    "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE},
                    "train": {"epochs": 1, "fine_tune_epochs": 0, "batch_size": 64}},
                   runs_dir=tempfile.mkdtemp(prefix="lepton-bench-runs-"))
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    n = int(record.metrics["n"] / 0.15) if record.metrics.get("n") else None
    naive = 70_000 * SIZE * SIZE * 3 * 4
    report("stream_memory", context(image_size=SIZE, dataset="fashion_mnist (all)", approx_images=n),
           {"seconds": seconds, "peak_rss_bytes": peak[0], "naive_float32_bytes": naive,
            "naive_over_peak": naive / peak[0], "test_accuracy": record.metrics.get("accuracy")},
           metric="peak_rss_training_all_fashion_mnist_96px", value=peak[0] / 2**30, target="<= 2", unit="GiB")


if __name__ == "__main__":
    main()

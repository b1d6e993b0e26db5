"""Make ``data/fashion_mnist_sample.npz``: 150 real Fashion-MNIST images per class, drawn deterministically.

Run ``python -m lepton_widgets.core.data.make_sample`` on a machine with the Debian package
``dataset-fashion-mnist`` installed. The train and t10k files are pooled (70,000 images); for each class,
150 row numbers are drawn with ``numpy.random.default_rng(SEED)`` (classes in label order), then all
picks are sorted by their position in the pooled set. The ``.npz`` holds ``images`` (uint8, 1500x28x28),
``labels`` (uint8), ``refs`` (the original file and row, e.g. ``fashion_mnist:train[123]``) and
``class_names``.

Example:
    >>> import numpy as np
    >>> picks = pick_rows(np.array([0, 1, 0, 1, 0, 1]), per_class=2, seed=0)
    >>> len(picks), sorted(set(np.array([0, 1, 0, 1, 0, 1])[picks].tolist()))
    (4, [0, 1])
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lepton_widgets.core.data.fashion_mnist import CLASS_NAMES, DEBIAN_DIR, SAMPLE_PATH, read_idx_dir

PER_CLASS = 150
SEED = 20_170_825  # the Fashion-MNIST release date; any fixed number would do


def pick_rows(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` row numbers per label value, drawn with ``seed``, sorted."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(labels == value), size=per_class, replace=False)
             for value in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def make_sample(source: Path = DEBIAN_DIR, out: Path = SAMPLE_PATH, per_class: int = PER_CLASS,
                seed: int = SEED) -> Path:
    images, labels, refs = read_idx_dir(Path(source))
    rows = pick_rows(labels, per_class, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, images=images[rows], labels=labels[rows].astype(np.uint8),
                        refs=np.array([refs[i] for i in rows]), class_names=np.array(CLASS_NAMES))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_DIR, help="folder with the four IDX .gz files")
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH)
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    path = make_sample(args.source, args.out, args.per_class, args.seed)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

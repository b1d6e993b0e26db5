"""scikit-learn's ``load_digits``: 1,797 real handwritten 8x8 digits, the fastest real data for tests.

The 0..16 grey levels are scaled to 0..255 so the pipeline sees the same range as any photo.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data
    >>> prepare_data(DataConfig(dataset="digits", max_per_class=10), seed=0).class_names[:3]
    ['0', '1', '2']
"""

from __future__ import annotations

import numpy as np

from lepton_widgets.core.data.arrays import loaded_from_arrays
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.registry import DatasetSpec, LoadedData, register_dataset
from lepton_widgets.i18n import N_, _

CLASS_NAMES = tuple(str(d) for d in range(10))


def load_digits(data_cfg, job: Job) -> LoadedData:
    from sklearn.datasets import load_digits as sk_load_digits  # deferred: sklearn import is slow

    bunch = sk_load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return loaded_from_arrays("digits", images, bunch.target, CLASS_NAMES, job=job,
                              notes=[_("scikit-learn load_digits (UCI optical digits), 8x8 scaled to 0..255.")])


register_dataset(DatasetSpec(
    name="digits", modality="image", origin="real", loader=load_digits,
    description=N_("1,797 real handwritten digits, 8x8 grey (scikit-learn load_digits / UCI)."),
    licence=N_("CC BY 4.0 (UCI ML repository), shipped with scikit-learn (BSD-3-Clause)"),
    class_names=CLASS_NAMES, homepage="https://archive.ics.uci.edu/dataset/80",
))

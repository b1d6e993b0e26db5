"""Data: dataset registry, loading and validation, seeded splits and the tf.data pipeline.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data, make_dataset, split_record
    >>> prepared = prepare_data(DataConfig(dataset="digits", max_per_class=10), seed=0)
    >>> len(prepared.table), prepared.report.class_counts["7"]
    (100, 10)
    >>> len(split_record(prepared.table))
    100
    >>> ds = make_dataset(prepared.split("train"), image_size=32, batch_size=8, shuffle=True, seed=0)

Built-in datasets register themselves on import (``fashion_mnist``, ``fashion_mnist_sample``, ``digits``),
as do the bring-your-own kinds (``folder``, ``zip``, ``csv``). Text and table datasets are declared by their
tasks (``core/tasks/text``, ``core/tasks/tabular``), which ``import lepton_widgets`` registers.
"""

from lepton_widgets.core.data import digits, fashion_mnist, user_files  # noqa: F401 - they register specs
from lepton_widgets.core.data import defects  # noqa: F401 - scenario packs (issue #5) register specs too
from lepton_widgets.core.data import gtsrb  # noqa: F401
from lepton_widgets.core.data import medical_demo  # noqa: F401
from lepton_widgets.core.data import medmnist  # noqa: F401
from lepton_widgets.core.data import traffic_signs  # noqa: F401
from lepton_widgets.core.data import audio  # noqa: F401 - wav_folder, wav_zip, spoken_keywords (issue #5)
from lepton_widgets.core.data.pipeline import make_dataset
from lepton_widgets.core.data.prepare import prepare_data
from lepton_widgets.core.data.registry import (DatasetSpec, LoadedData, get_dataset, list_datasets,
                                               register_dataset)
from lepton_widgets.core.data.split import split_record
from lepton_widgets.core.data.user_files import files_table
from lepton_widgets.core.data.table import DataError, DataReport, PreparedData, SampleTable

__all__ = [
    "DatasetSpec", "LoadedData", "register_dataset", "get_dataset", "list_datasets",
    "prepare_data", "make_dataset", "split_record", "files_table", "PreparedData", "SampleTable", "DataReport",
    "DataError",
]

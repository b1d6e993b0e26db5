"""Dataset registry: plain-data :class:`DatasetSpec` entries, one per dataset or bring-your-own kind.

A spec says what a dataset is (modality, licence, whether it is real) and names the ``loader`` that reads
it. Every loader, whatever the modality, returns :class:`LoadedData`: one record per sample or file it
looked at, usable or not. :func:`lepton_widgets.core.data.prepare_data` turns that into the table and the
report, so deduplication, class checks, capping and splitting are written once for every modality.

Example:
    >>> import numpy as np
    >>> from lepton_widgets.core.data.arrays import loaded_from_arrays
    >>> def load_toy(cfg, job):
    ...     images = np.arange(12 * 4, dtype=np.uint8).reshape(12, 2, 2)
    ...     return loaded_from_arrays("toy", images, np.arange(12) % 2, ["even", "odd"], job=job)
    >>> _ = register_dataset(DatasetSpec(name="toy", modality="image", description="12 tiny images",
    ...                                  licence="CC0", origin="synthetic/substitute", loader=load_toy),
    ...                      overwrite=True)
    >>> get_dataset("toy").origin
    'synthetic/substitute'
    >>> "toy" in list_datasets(modality="image")
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.table import REPORT_COLUMNS, DataError

#: ``origin`` values. ``user`` marks the bring-your-own kinds, which read ``DataConfig.path``.
ORIGINS = ("real", "synthetic/substitute", "user")
MODALITIES = ("image", "text", "audio", "tabular")

#: Columns of ``LoadedData.records``: the report columns plus where a usable sample's data lives.
RECORD_COLUMNS = REPORT_COLUMNS + ("path", "array_index")


@dataclass
class LoadedData:
    """A loader's result, before deduplication and splitting.

    ``records`` has one row per file or sample looked at, in load order, with :data:`RECORD_COLUMNS`.
    Rows with status ``ok``/``converted`` are usable: ``path`` is a readable file or ``array_index`` a row of
    ``arrays``. ``class_names`` lists every declared class, even one left empty, so the report can say so.
    """

    records: pd.DataFrame
    class_names: list[str]
    arrays: Optional[np.ndarray] = None
    modality: str = "image"
    source: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


#: ``loader(data_cfg, job)``: the job carries where progress goes, the stop request and the run id (a loader
#: has no folder of its own: ``job.workdir`` is not used).
Loader = Callable[[Any, Job], LoadedData]


@dataclass(frozen=True)
class DatasetSpec:
    """Registry entry for one dataset (or bring-your-own kind).

    ``loader(data_cfg, job)`` returns :class:`LoadedData`. ``origin`` is ``real`` for real recorded data,
    ``synthetic/substitute`` for data made up or standing in for the real thing (label it so in the UI),
    and ``user`` for the bring-your-own kinds (``folder``, ``zip``, ``csv``), which need ``DataConfig.path``.
    """

    name: str
    modality: str
    description: str
    licence: str
    origin: str
    loader: Loader
    class_names: tuple[str, ...] = ()
    homepage: str = ""
    citation: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _one_of("origin", self.origin, ORIGINS)
        _one_of("modality", self.modality, MODALITIES)

    @property
    def needs_path(self) -> bool:
        return self.origin == "user"


def _one_of(field_name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"DatasetSpec.{field_name} must be one of {allowed}, got {value!r}")


_REGISTRY: dict[str, DatasetSpec] = {}
#: Registered names by the kind of data their spec declares (what ``list_datasets(modality=...)`` lists).
_BY_KIND: dict[str, set[str]] = {}


def register_dataset(spec: DatasetSpec, *, overwrite: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry; a second spec with the same name is an error unless ``overwrite``."""
    if spec.name in _REGISTRY and not overwrite:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    if spec.name in _REGISTRY:  # overwritten: its old kind no longer lists it
        _BY_KIND[_REGISTRY[spec.name].modality].discard(spec.name)
    _REGISTRY[spec.name] = spec
    _BY_KIND.setdefault(spec.modality, set()).add(spec.name)
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """The spec registered as ``name``; :class:`DataError` listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}") from None


def list_datasets(modality: Optional[str] = None, *, include_user: bool = True) -> list[str]:
    """Registered names, sorted; optionally only one modality and/or without the bring-your-own kinds."""
    names = _BY_KIND.get(modality, ()) if modality else _REGISTRY  # no kind asked for: every name
    return sorted(name for name in names if include_user or _REGISTRY[name].origin != "user")


"""Texts as a first-class modality: a pretrained encoder (MiniLM, or light GloVe vectors) fine-tuned to
classify texts.

Importing this package registers the text datasets (``food_reviews`` and the bring-your-own ``text_csv``
and ``text_folder``); ``lepton_widgets.core.data`` imports it, so they are always listed.
``run_experiment`` sends their configs to :func:`run_text_experiment`. Only the data modules load
eagerly; the names below that need Keras load on first use.

Modules: ``read`` (text files), ``data`` (datasets, validation, split), ``augment`` (word dropout, swaps
and GloVe-neighbour substitution), ``encoder`` (the text encoders; the MiniLM backbone and tokeniser),
``model`` (MiniLM pooling + head, freezing by transformer layer), ``glove`` (GloVe vectors, vocabulary,
neighbours), ``glove_model`` (the GloVe classifier), ``phases`` (the training phases both share),
``run``/``glove_run`` (one run end to end), ``predict`` (a stored run on new texts), ``inspect`` (the texts
behind a confusion-matrix cell).

Example:
    >>> from lepton_widgets.core.data import list_datasets
    >>> list_datasets(modality="text")
    ['food_reviews', 'text_csv', 'text_folder']
"""

from importlib import import_module

from lepton_widgets.core.tasks.text.augment import augment_text, augment_texts
from lepton_widgets.core.tasks.text.data import (
    LoadedText,
    TextData,
    is_text_dataset,
    prepare_texts,
)

_LAZY = {"run_text_experiment": "run", "predict_texts": "predict", "load_text_run": "predict",
         "is_text_run": "predict", "cell_texts": "inspect"}

__all__ = [
    "LoadedText",
    "TextData",
    "augment_text",
    "augment_texts",
    "cell_texts",
    "is_text_dataset",
    "is_text_run",
    "load_text_run",
    "predict_texts",
    "prepare_texts",
    "run_text_experiment",
]


def __getattr__(name: str):
    """Keras-heavy names load on first use, so importing ``core.data`` stays free of import cycles."""
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

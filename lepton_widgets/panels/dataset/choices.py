"""What the Data step offers: the registry's datasets (one group per task), your own kinds of data, a hint for
each kind's path, and the card shown for the chosen dataset. Plain registry data turned into words.

Example:
    >>> options = dataset_options()
    >>> ("folder: your images on this machine", "folder") in options, "digits" in [v for _, v in options]
    (True, True)
    >>> "Licence" in dataset_card("digits")
    True
"""

from __future__ import annotations

import html

from lepton_widgets.core.data import DataError, get_dataset, list_datasets
from lepton_widgets.core.tasks import all_tasks
from lepton_widgets.panels.style import alert_box

USER_KINDS = {"folder": "folder: your images on this machine", "zip": "zip: your images, uploaded or a path",
              "csv": "csv: a list of path,label rows", "wav_folder": "wav_folder: your .wav sounds on this machine",
              "wav_zip": "wav_zip: a zip of your .wav sounds, uploaded or a path",
              "medmnist": "medmnist: a MedMNIST .npz file (medical images)",
              "gtsrb": "gtsrb: the GTSRB training folder (traffic signs)",
              "table_csv": "table_csv: your table (a CSV file with a class column)",
              "text_csv": "text_csv: your texts (a CSV file with text and label columns)",
              "text_folder": "text_folder: your .txt files, one subfolder per class"}
ORIGIN_WORDS = {
    "real": "real data",
    "synthetic/substitute": "<b>synthetic / substitute</b>: made up or standing in for the real data; results "
                            "on it say little about real images",
    "user": "your own data",
}
PATH_HINTS = {"folder": "/path/to/folder (one subfolder of images per class)",
               "zip": "/path/to/images.zip (or upload it below)", "csv": "/path/to/labels.csv (columns path,label)",
               "wav_folder": "/path/to/folder (one subfolder of .wav files per class)",
               "wav_zip": "/path/to/sounds.zip (or upload it below)",
               "medmnist": "/path/to/pathmnist.npz (from medmnist.com / Zenodo)",
               "gtsrb": "/path/to/GTSRB (holding Final_Training/Images)",
               "table_csv": "/path/to/table.csv (numeric and categorical columns, one class column)",
               "text_csv": "/path/to/texts.csv (a text column and a class column)",
               "text_folder": "/path/to/folder (one subfolder of .txt files per class)"}


def dataset_options() -> list[tuple[str, str]]:
    """The dataset list: the registry's sets, task by task, each labelled with its kind and origin; then yours."""
    options = []
    names = [name for task in all_tasks() for name in list_datasets(modality=task.name, include_user=False)]
    for name in names:
        spec = get_dataset(name)
        tag = "real" if spec.origin == "real" else "synthetic stand-in"
        options.append((f"{name} ({spec.modality}, {tag})", name))
    return options + [(label, kind) for kind, label in USER_KINDS.items()]


def dataset_card(name: str) -> str:
    """The chosen dataset's card (about, licence, origin, home page), or why the name is unknown."""
    try:
        spec = get_dataset(name)
    except DataError as error:
        return alert_box(html.escape(str(error)))
    rows = [("About", html.escape(spec.description)), ("Licence", html.escape(spec.licence)),
            ("Origin", ORIGIN_WORDS.get(spec.origin, html.escape(spec.origin)))]
    if spec.homepage:
        rows.append(("Home page", html.escape(spec.homepage)))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='lepton-table'>{cells}</table>"

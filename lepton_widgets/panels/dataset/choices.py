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
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.style import alert_box

#: Your own kinds of data: the kind (a config value, shown as it is) and what it holds in words.
USER_KINDS = {"folder": N_("your images on this machine"), "zip": N_("your images, uploaded or a path"),
              "csv": N_("a list of path,label rows"), "wav_folder": N_("your .wav sounds on this machine"),
              "wav_zip": N_("a zip of your .wav sounds, uploaded or a path"),
              "medmnist": N_("a MedMNIST .npz file (medical images)"),
              "gtsrb": N_("the GTSRB training folder (traffic signs)"),
              "table_csv": N_("your table (a CSV file with a class column)"),
              "text_csv": N_("your texts (a CSV file with text and label columns)"),
              "text_folder": N_("your .txt files, one subfolder per class")}
#: Where the data comes from, in words (the synthetic one's warning is bold on the card).
ORIGIN_WORDS = {
    "real": (N_("real data"), ""),
    "synthetic/substitute": (N_("synthetic / substitute"), N_(
        "made up or standing in for the real data; results on it say little about real images")),
    "user": (N_("your own data"), ""),
}
#: The kind of data of a registry set (by its task), in words.
KIND_WORDS = {"image": N_("pictures"), "audio": N_("sounds"), "text": N_("texts"), "tabular": N_("table")}
#: Each task's data in words, plural and for one item (the tasks' own ``words`` are not in the catalogue).
DATA_WORDS = {"image": N_("pictures"), "audio": N_("sounds"), "text": N_("texts"), "tabular": N_("tables")}
ITEM_WORDS = {"image": N_("picture"), "audio": N_("sound"), "text": N_("text"), "tabular": N_("row")}


def task_words(task, one: bool = False) -> str:
    """``task``'s data in the interface's language: ``"pictures"`` (or ``one``: ``"picture"``)."""
    words = (ITEM_WORDS if one else DATA_WORDS).get(task.name)
    return _(words) if words else (task.item_words if one else task.words)


#: An example path for each kind (kept as it is) and what it should hold (in words).
PATH_HINTS = {"folder": ("/path/to/folder", N_("one subfolder of images per class")),
              "zip": ("/path/to/images.zip", N_("or upload it below")),
              "csv": ("/path/to/labels.csv", N_("columns path,label")),
              "wav_folder": ("/path/to/folder", N_("one subfolder of .wav files per class")),
              "wav_zip": ("/path/to/sounds.zip", N_("or upload it below")),
              "medmnist": ("/path/to/pathmnist.npz", N_("from medmnist.com / Zenodo")),
              "gtsrb": ("/path/to/GTSRB", N_("holding Final_Training/Images")),
              "table_csv": ("/path/to/table.csv", N_("numeric and categorical columns, one class column")),
              "text_csv": ("/path/to/texts.csv", N_("a text column and a class column")),
              "text_folder": ("/path/to/folder", N_("one subfolder of .txt files per class"))}


def user_kind_label(kind: str) -> str:
    """``"folder: your images on this machine"``: the kind as the config names it, then its words."""
    return f"{kind}: {_(USER_KINDS[kind])}"


def path_hint(kind: str) -> str:
    """The path box's placeholder for ``kind`` ("" for a registry set)."""
    if kind not in PATH_HINTS:
        return ""
    path, words = PATH_HINTS[kind]
    return f"{path} ({_(words)})"


def dataset_options() -> list[tuple[str, str]]:
    """The dataset list: the registry's sets, task by task, each labelled with its kind and origin; then yours."""
    options = []
    pairs = [(task, name) for task in all_tasks() for name in list_datasets(modality=task.name, include_user=False)]
    for task, name in pairs:
        spec = get_dataset(name)
        tag = _("real") if spec.origin == "real" else _("synthetic stand-in")
        kind = _(KIND_WORDS.get(task.name, task.name))
        options.append((_("{name} ({kind}, {origin})").format(name=name, kind=kind, origin=tag), name))
    return options + [(user_kind_label(kind), kind) for kind in USER_KINDS]


def origin_html(origin: str) -> str:
    """Where the data comes from, in words (HTML)."""
    if origin not in ORIGIN_WORDS:
        return html.escape(origin)
    words, warning = ORIGIN_WORDS[origin]
    if not warning:
        return html.escape(_(words))
    return f"<b>{html.escape(_(words))}</b>: {html.escape(_(warning))}"


def dataset_card(name: str) -> str:
    """The chosen dataset's card (about, licence, origin, home page), or why the name is unknown."""
    try:
        spec = get_dataset(name)
    except DataError as error:
        return alert_box(html.escape(str(error)))
    rows = [(_("About"), html.escape(_(spec.description))), (_("Licence"), html.escape(_(spec.licence))),
            (_("Origin"), origin_html(spec.origin))]
    if spec.homepage:
        rows.append((_("Home page"), html.escape(spec.homepage)))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{html.escape(k)}</th><td>{v}</td></tr>"
                    for k, v in rows)
    return f"<table class='lepton-table'>{cells}</table>"

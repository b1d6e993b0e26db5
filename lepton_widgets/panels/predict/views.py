"""The panel side of the task registry: one Predict view per task, chosen in one place (:func:`view_for`).

:mod:`lepton_widgets.core.tasks.registry` says which task a model file belongs to; :func:`view_for` turns that
task into the view that knows what its model is given (uploaded files, one CSV, typed lines), which engine
predicts it, and how the answers are drawn. Nothing else in the Predict panel depends on the kind of data.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> view_for(task_named("audio")).caption, view_for(task_named("text")).typed
    ('Upload sounds', True)
"""

from __future__ import annotations

import html
from pathlib import Path

from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.predict.common import TOP_K
from lepton_widgets.panels.predict.images import image_card
from lepton_widgets.panels.predict.sounds import sound_card
from lepton_widgets.panels.predict.tables import table_view
from lepton_widgets.panels.predict.texts import text_rows
from lepton_widgets.panels.style import caution_box


class FilesView:
    """Image models: upload images; one card each (with Grad-CAM for Keras models).

    ``accept``, ``multiple``, ``caption`` and ``hint`` set the upload button; ``typed`` views take typed lines
    instead; ``takes`` names what the model is given, for refusals; ``predicting``, ``predicted`` and
    ``session_line`` are its messages (catalogue strings: ``_()`` them when shown).
    """

    accept, multiple, caption = "image/*", True, N_("Upload images")
    hint = N_("Upload one or more images.")
    takes, typed, table = N_("images"), False, False
    predicting, predicting_one = N_("Predicting {count} images..."), N_("Predicting 1 image...")
    predicted = N_("{good} of {total} images predicted with {model} ({format}).")
    session_line = N_("predicted {count} images")

    def upload(self, panel, paths, names, folder):
        """What an upload does with this view: predict the files in the worker."""
        return panel.predict(paths, names, cleanup=folder)

    def predict(self, opened, paths, names):
        """In the worker: every file's :class:`~lepton_widgets.core.predict.exported.Prediction`."""
        from lepton_widgets.core.predict.exported import predict_files

        return predict_files(opened, paths, top_k=TOP_K, names=names)

    def card(self, prediction):
        return image_card(prediction)

    def show(self, panel, predictions) -> None:
        """Draw the answers on ``panel``: a card per file, and why there is no Grad-CAM when there is none."""
        panel.predictions, opened = list(predictions), panel.opened
        good = [p for p in panel.predictions if p.error is None]
        panel.message.value = _(self.predicted).format(
            good=len(good), total=len(panel.predictions),
            model=f"<code>{html.escape(Path(opened.path).name)}</code>", format=html.escape(opened.format))
        panel.session.message = _(self.session_line).format(count=len(good))
        note = opened.gradcam_note
        if not note and good and all(p.overlay is None for p in good):
            note = _("No Grad-CAM: this Keras model is not a Lepton transfer model (no backbone layer to explain).")
        panel.note.value = caution_box(html.escape(note)) if note else ""
        panel.results.children = [self.card(p) for p in panel.predictions]


class SoundsView(FilesView):
    """Sound models (image models on spectrograms): upload WAV files; each card has its spectrogram and a player."""

    accept, caption = ".wav,audio/wav,audio/x-wav", N_("Upload sounds")
    hint = N_("This model was trained on sounds: upload one or more .wav files (the first second is used).")
    takes = N_("WAV files")
    predicting, predicting_one = N_("Predicting {count} sounds..."), N_("Predicting 1 sound...")
    predicted = N_("{good} of {total} sounds predicted with {model} ({format}).")
    session_line = N_("predicted {count} sounds")

    def predict(self, opened, paths, names):
        from lepton_widgets.core.predict.any_modality import predict_wav_files

        return predict_wav_files(opened, paths, top_k=TOP_K, names=names)

    def card(self, prediction):
        return sound_card(prediction)


class TextsView(FilesView):
    """Text models: one text per line in a text box, then Predict (no upload)."""

    accept, multiple, caption = "", False, N_("Upload")
    hint = N_("This model was trained on texts: type one text per line, then press Predict.")
    takes, typed = N_("texts"), True
    predicting, predicting_one = N_("Predicting {count} texts..."), N_("Predicting 1 text...")
    predicted = N_("{count} texts predicted with run {run}.")
    session_line = N_("predicted {count} texts")

    def upload(self, panel, paths, names, folder):
        return panel.predict(paths, names, cleanup=folder)  # refused there: this model takes texts, not files

    def show(self, panel, predictions) -> None:
        """One row per text: the text beside its top-3 bars."""
        panel.predictions = list(predictions)
        panel.message.value = _(self.predicted).format(
            count=len(panel.predictions), run=f"<code>{html.escape(panel.opened.record.run_id)}</code>")
        panel.session.message = _(self.session_line).format(count=len(panel.predictions))
        panel.note.value = ""
        panel.results.children = [text_rows(panel.predictions)]


class TableView(FilesView):
    """Table models: upload one CSV with the training table's columns; its rows are predicted and saved."""

    accept, multiple, caption = ".csv,text/csv", False, N_("Upload a CSV")
    hint = N_("This model was trained on a table: upload a CSV with the same columns as its training table "
              "(extra columns, the target included, are ignored).")
    takes, table = N_("a CSV table"), True
    predicting = predicting_one = N_("Predicting the rows of {name}...")
    predicted = N_("{count} rows of {name} predicted with run {run}.")
    session_line = N_("predicted {count} rows")

    def upload(self, panel, paths, names, folder):
        if len(paths) > 1:
            return panel.refuse(_("Upload one CSV file at a time."), cleanup=folder)
        return panel.predict_table(paths[0], names[0], cleanup=folder)

    def show(self, panel, result) -> None:
        """The first rows with their predictions, and where all of them were saved."""
        panel.table_result = result
        panel.message.value = _(self.predicted).format(
            count=len(result.frame), name=f"<code>{html.escape(result.name)}</code>",
            run=f"<code>{html.escape(panel.opened.record.run_id)}</code>")
        panel.session.message = _(self.session_line).format(count=len(result.frame))
        panel.note.value = ""
        panel.results.children = [table_view(result)]


#: Task name -> its view. A task with no view of its own gets its family's (sounds are pictures' family).
VIEWS = {"image": FilesView(), "audio": SoundsView(), "text": TextsView(), "tabular": TableView()}


def view_for(task) -> FilesView:
    """The Predict view of ``task`` (a :class:`~lepton_widgets.core.tasks.base.Task`): by its name, else its
    family, else the picture view."""
    return VIEWS.get(task.name) or VIEWS.get(task.family) or VIEWS["image"]

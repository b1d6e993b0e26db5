"""The Data step's settings form: which data (with its card), its path, your own test set, the class column,
and the sampling and split, bound to the Session. Which of them show is the data's view's answer (``views.py``).

Example:
    >>> from lepton_widgets.state import Session
    >>> session = Session(dataset="digits")
    >>> form = DataSettings(session, {})
    >>> form.path.layout.display, form.target.layout.display     # a built-in picture set: neither applies
    ('none', 'none')
    >>> form.dataset_select.value = "table_csv"; session.dataset, form.target.layout.display
    ('table_csv', '')
"""

from __future__ import annotations

import functools

import ipywidgets as w

from lepton_widgets.core.tasks import task_for_dataset
from lepton_widgets.i18n import _
from lepton_widgets.panels.dataset.choices import USER_KINDS, dataset_card, dataset_options, path_hint
from lepton_widgets.panels.dataset.views import data_view
from lepton_widgets.panels.base import syncing

#: The Session traits this form writes (and a check depends on).
DATA_TRAITS = ["dataset", "data_path", "data_test_path", "data_target", "max_per_class", "val_fraction",
               "test_fraction", "min_class_size", "seed"]


class DataSettings:
    """The form's widgets; :attr:`box` the dataset part, :attr:`split` the "Sampling and split" accordion."""

    def __init__(self, session, style: dict):
        self.session = session
        self._syncing = False
        self.dataset_select = w.Dropdown(options=dataset_options(), description=_("Dataset"), style=style,
                                         layout=w.Layout(width="480px"))
        self.dataset_info = w.HTML()
        self.path = w.Text(description=_("Path"), continuous_update=False, style=style, layout=w.Layout(width="640px"))
        # Your own test set, same format as the path: then nothing of the path is held out for testing.
        self.test_path = w.Text(description=_("Test set (optional)"), continuous_update=False, style=style,
                                placeholder=_("same format as Path; empty: hold some of Path's samples out"),
                                layout=w.Layout(width="640px"))
        self.target = w.Text(description=_("Class column"), continuous_update=False, style=style,
                             placeholder=_("the column that holds the class"), layout=w.Layout(width="480px"))
        self.max_per_class = w.BoundedIntText(min=0, max=10_000_000, description=_("Max per class (0 = all)"),
                                              style=style)
        self.val_fraction = w.FloatSlider(min=0.0, max=0.5, step=0.01, description=_("Validation share"),
                                          tooltip=_("the share of the examples kept out of training to judge the "
                                                    "model while it learns"),
                                          continuous_update=False, style=style)
        self.test_fraction = w.FloatSlider(min=0.0, max=0.5, step=0.01, description=_("Test share"),
                                           tooltip=_("the share of the examples kept out until the end, for one "
                                                     "honest final score"),
                                           continuous_update=False, style=style)
        for widget, css in ((self.dataset_select, "dataset-select"), (self.dataset_info, "dataset-info"),
                            (self.path, "data-path"), (self.test_path, "data-test-path"),
                            (self.target, "data-target"), (self.max_per_class, "max-per-class"),
                            (self.val_fraction, "val-fraction"), (self.test_fraction, "test-fraction")):
            widget.add_class(f"lepton-{css}")
        for widget, trait in ((self.dataset_select, "dataset"), (self.path, "data_path"),
                              (self.test_path, "data_test_path"), (self.target, "data_target"),
                              (self.max_per_class, "max_per_class")):
            widget.observe(functools.partial(self._typed, trait), "value")
        for name in ("val_fraction", "test_fraction"):
            w.link((session, name), (getattr(self, name), "value"))
        self.split = w.Accordion([w.VBox([self.max_per_class, self.val_fraction, self.test_fraction])])
        self.split.set_title(0, _("Sampling and split"))
        self.box = w.VBox([self.dataset_select, self.dataset_info, self.path, self.test_path, self.target])
        session.observe(lambda _change: self.show(), DATA_TRAITS)
        self.show()

    def _typed(self, trait: str, change) -> None:
        if self._syncing:
            return
        value = change["new"]
        if trait != "dataset":  # 0 in the max box, or an empty text, means "no setting" (None)
            value = (value.strip() if isinstance(value, str) else value) or None
        setattr(self.session, trait, value)

    def show(self) -> None:
        """Show the session's settings, and the fields that apply to its data."""
        s = self.session
        with syncing(self):
            if s.dataset in [value for _, value in self.dataset_select.options]:
                self.dataset_select.value = s.dataset  # else: a kind this panel does not list; the card says
            self.path.value = s.data_path or ""
            self.test_path.value = s.data_test_path or ""
            self.target.value = s.data_target or ""
            self.max_per_class.value = s.max_per_class or 0
        self.dataset_info.value = dataset_card(s.dataset)
        self.path.layout.display = "" if s.dataset in USER_KINDS else "none"
        view = data_view(task_for_dataset(s.dataset))
        # Own data only (a built-in set holds out its own test samples); tables and texts keep their fixed split.
        own_test_set = s.dataset in USER_KINDS and view.own_test_set
        self.test_path.layout.display = "" if own_test_set or s.data_test_path else "none"
        has_class_column = view.class_column or s.dataset == "text_csv"
        self.target.layout.display = "" if has_class_column else "none"
        self.target.placeholder = {"table_csv": _("the column that holds the class"),
                                   "text_csv": _("the column that holds the class (empty: label)")}.get(
            s.dataset, _("empty: this table's own class column"))
        self.path.placeholder = path_hint(s.dataset)

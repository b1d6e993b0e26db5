"""What every panel shares: a Session, a Runner, a root widget, and notebook display.

Panels are plain classes that *hold* a widget (``self.widget``) rather than subclassing layout boxes, so
each can be shown on its own in a notebook (``display(panel)``) or composed by an app.

Example:
    >>> import ipywidgets as w
    >>> from lepton_widgets.state import Session, Runner
    >>> class Hello(Panel):
    ...     title = "Hello"
    ...     def build(self):
    ...         return w.Label(f"dataset: {self.session.dataset}")
    >>> Hello(Session(), Runner(Session())).widget.value
    'dataset: fashion_mnist'
"""

from __future__ import annotations

from typing import Optional

import ipywidgets as w

from lepton_widgets.state.runner import Runner
from lepton_widgets.state.session import Session


class Panel:
    """Base of the workbench panels: subclasses implement :meth:`build` and bind controls to Session traits."""

    title = "Panel"

    def __init__(self, session: Session, runner: Optional[Runner] = None) -> None:
        self.session = session
        self.runner = runner or Runner(session)
        self.widget = self.build()
        self.widget.add_class(f"lepton-{type(self).__name__.lower()}")

    def build(self) -> w.Widget:
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

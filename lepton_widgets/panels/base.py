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

from contextlib import contextmanager
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


@contextmanager
def syncing(owner):
    """Mark ``owner._syncing`` while code writes values into its widgets (or the Session), so its own observers
    can ignore the changes that write fires; the flag is cleared even when the write raises.

    Example:
        >>> class View:
        ...     _syncing = False
        >>> view = View()
        >>> with syncing(view):
        ...     view._syncing
        True
        >>> view._syncing
        False
    """
    owner._syncing = True
    try:
        yield
    finally:
        owner._syncing = False

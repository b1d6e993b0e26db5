"""Session state between the engine and the widgets: the traitlets Session and the worker-thread Runner."""

from lepton_widgets.state.runner import BusyError, Runner
from lepton_widgets.state.session import BUSY_STATUSES, STATUSES, Session

__all__ = ["Session", "Runner", "BusyError", "STATUSES", "BUSY_STATUSES"]

"""Plotly ``FigureWidget`` for the panels, loading Plotly's widget script once per page when served.

Every FigureWidget carries Plotly's 5 MB widget script as its anywidget ``_esm`` and the browser evaluates
it once per chart; anywidget (0.9-0.11) gives each widget model 2 s to start and ignores a late one for
good, so on a busy 2-core machine a chart can stay blank forever. When the app is served (``lepton app``
sets ``LEPTON_PLOTLY_ESM_URL``), the script is given as a URL instead: the browser fetches and evaluates
it once and every chart starts from the cached module. In JupyterLab nothing changes.

Example:
    >>> fig = figure_widget(data=[{"type": "bar", "y": [1, 2]}])
    >>> len(fig.data), fig.data[0].type
    (1, 'bar')
"""

from __future__ import annotations

import functools
import os

import plotly.graph_objects as go

ESM_URL_ENV = "LEPTON_PLOTLY_ESM_URL"


@functools.lru_cache(maxsize=4)
def _figure_widget_class(esm_url: str) -> type:
    # anywidget reads _esm from the class when a widget is created; a URL is imported by the browser.
    return type("FigureWidget", (go.FigureWidget,), {"_esm": esm_url, "__module__": __name__})


def figure_widget(*args, **kwargs) -> go.FigureWidget:
    """``go.FigureWidget(*args, **kwargs)``, with Plotly's script loaded from ``$LEPTON_PLOTLY_ESM_URL`` if set."""
    url = os.environ.get(ESM_URL_ENV, "")
    cls = _figure_widget_class(url) if url.startswith(("http://", "https://")) else go.FigureWidget
    return cls(*args, **kwargs)

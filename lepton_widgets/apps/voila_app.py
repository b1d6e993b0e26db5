"""Voilà with one more folder served under ``/voila/static/``: where ``lepton app`` puts Plotly's widget script.

Voilà serves files next to the notebook (``/voila/files/``), but an installed package's notebooks folder may be
read-only, and writing a 5 MB script into a checkout is untidy. The script goes to the cache folder
(``$LEPTON_HOME/static``) instead, and this subclass adds that folder to Voilà's static paths. Voilà fills
its static paths from the template when it starts (``setup_template_dirs``), so a plain
``--Voila.static_paths`` would be overwritten; the extra folder is added after that, first in line.

Run by :func:`lepton_widgets.apps.launch.voila_command`; any Voilà option works as with ``voila`` itself.

Example:
    $ python -m lepton_widgets.apps.voila_app notebooks/workbench.ipynb --no-browser \\
          --LeptonVoila.extra_static_dir=$HOME/.cache/lepton/static
    # http://localhost:8866/voila/static/plotly-widget-7.1.0.js is served from the cache folder
"""

from __future__ import annotations

from traitlets import Unicode
from voila.app import Voila


class LeptonVoila(Voila):
    """:class:`voila.app.Voila`, plus ``extra_static_dir`` served under ``/voila/static/``."""

    extra_static_dir = Unicode("", config=True, help="A folder whose files are served under /voila/static/.")

    def setup_template_dirs(self) -> None:
        super().setup_template_dirs()
        if self.extra_static_dir:
            self.static_paths = [self.extra_static_dir, *self.static_paths]


main = LeptonVoila.launch_instance

if __name__ == "__main__":
    main()

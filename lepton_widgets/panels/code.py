"""Code panel: the current settings as a YAML config, a Python snippet and a CLI line that replay them.

A run made by clicking can be repeated from code because the Session turns into the same ``RunConfig``
the API and the CLI take. The snippet builds the config with ``RunConfig.from_dict`` on a Python literal
(``repr`` round-trips every str, int, float, bool and None exactly, with no quoting pitfalls of YAML
inside a string). It follows every setting trait; settings that do not form a valid config show the
``ConfigError`` message instead of code that would fail.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = CodePanel(session, Runner(session))
    >>> session.epochs = 7
    >>> namespace = {}; exec(panel.config_code, namespace)
    >>> namespace["config"] == session.to_config()
    True
    >>> panel.cli_line
    'lepton train config.yaml'
"""

from __future__ import annotations

import html
import pprint

import ipywidgets as w

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel

CLI_LINE = "lepton train config.yaml"
_PRE = "<pre style='background:#f6f8fa;padding:8px;margin:0;white-space:pre-wrap'>{}</pre>"


def config_code(config: RunConfig) -> str:
    """Python that defines ``config`` equal to ``config`` (exec it to check)."""
    literal = pprint.pformat(config.to_dict(), sort_dicts=False, width=100)
    return f"import lepton_widgets as lw\n\nconfig = lw.RunConfig.from_dict({literal})\n"


def python_snippet(config: RunConfig) -> str:
    """The whole script: build the config, train and evaluate it as a new run, report."""
    return (config_code(config)
            + "run = lw.train(config)                     # runs are stored under ./runs (or $LEPTON_RUNS)\n"
            + "print(run.run_id, run.status, run.metrics.get(\"accuracy\"))\n")


class CodePanel(Panel):
    """YAML config, Python snippet and CLI line of the current settings (container: lepton-code).

    ``yaml_text``, ``config_code``, ``python_code`` and ``cli_line`` hold the texts shown; ``error`` the
    ConfigError message when the settings are not valid (then the texts are empty).

    Example:
        >>> from lepton_widgets.state import Runner, Session
        >>> session = Session()
        >>> panel = CodePanel(session, Runner(session))
        >>> session.val_fraction = 0.9; panel.error.startswith("data.val_fraction")
        True
    """

    title = N_("Code")

    def build(self) -> w.Widget:
        self.yaml_text = self.config_code = self.python_code = self.error = ""
        self.cli_line = CLI_LINE
        self.message = w.HTML()
        self.yaml_view = w.HTML()
        self.python_view = w.HTML()
        self.cli_view = w.HTML()
        self.session.observe(self._on_settings, names=self.session.settings)
        self._on_settings()
        intro = _("The settings above, written as code: run it to repeat the same training without clicking.")
        box = w.VBox([self.message, w.HTML(f"<div style='color:#555'>{html.escape(intro)}</div>"),
                      w.HTML("<b>config.yaml</b> " + _("(the same fields as {name})").format(
                          name="<code>RunConfig</code>")), self.yaml_view,
                      w.HTML("<b>Python</b>"), self.python_view,
                      w.HTML("<b>{}</b> ".format(html.escape(_("Command line")))
                             + html.escape(_("(with the YAML above saved as config.yaml)"))), self.cli_view])
        box.add_class("lepton-code")
        return box

    def _on_settings(self, _change=None) -> None:
        try:
            config = self.session.to_config()
        except ConfigError as error:
            self.error = str(error)
            self.yaml_text = self.config_code = self.python_code = ""
            label = html.escape(_("These settings are not a valid config:"))
            self.message.value = (f"<span style='color:#b00020'><b>{label}</b> "
                                  f"{html.escape(self.error)}</span>")
        else:
            self.error = ""
            self.yaml_text = config.to_yaml()
            self.config_code = config_code(config)
            self.python_code = python_snippet(config)
            self.message.value = ""
        self.yaml_view.value = _PRE.format(html.escape(self.yaml_text)) if self.yaml_text else ""
        self.python_view.value = _PRE.format(html.escape(self.python_code)) if self.python_code else ""
        self.cli_view.value = _PRE.format(html.escape(self.cli_line)) if not self.error else ""

"""What the Backbone step says about a backbone and its weights sources: which sources it offers, which can
load here (and why not), its registry card and parameter count. Plain registry data turned into words; no widgets.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone
    >>> options, table = source_choices(get_backbone("small_cnn"), "", 32)
    >>> ("none: random init", "none") in options, "Weights sources for this backbone" in table
    (True, True)
"""

from __future__ import annotations

import html

from lepton_widgets.core.backbones import WEIGHT_SOURCES, availability
from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.i18n import N_, _

#: How each weights source is named in the list (translate when shown: ``_(SOURCE_WORDS[source])``).
SOURCE_WORDS = {"offline": N_("offline pack"), "imagenet": N_("ImageNet (download)"),
                "none": N_("none: random init"), "file": N_("file path"), "run": N_("your run")}
#: Why a source cannot load here, in plain words (the registry's exact reason follows as a detail line).
PLAIN_WHY = {"offline": N_("The pretrained weights for this backbone are not installed on this machine."),
             "imagenet": N_("ImageNet weights are downloaded from the internet, and no copy was found on this "
                            "machine."),
             "none": N_("Random starting weights cannot be used with this backbone."),
             "file": N_("This weights file cannot be used."),
             "run": N_("This run cannot be used as a starting point.")}
NOT_OFFERED = N_("{backbone} does not come with these weights.")
#: The weights dropdown's sources: the registry's, then your finished runs.
SOURCES = (*WEIGHT_SOURCES, "run")


def source_availability(spec, option: str, path: str, size: int) -> tuple[bool, str]:
    """Whether ``option`` (a source name; ``path`` the file or run it points at) can load for ``spec`` at
    ``size`` here, and why not."""
    if option == "run":
        if path and is_run_weights(path):
            return availability(spec, path, size)
        return False, _("no run chosen yet: pick one of your finished runs")
    if option == "file":
        if "file" not in spec.weight_sources:
            return availability(spec, "any.weights.h5", size)  # says which sources it does offer
        return availability(spec, path, size) if path else (False, _("no file chosen yet"))
    return availability(spec, option, size)


def backbone_card(spec) -> str:
    """The registry's facts about a backbone, as a small table."""
    rows = ((_("Family"), spec.family), (_("About"), _(spec.description)),
            (_("Feature size"), _("{size} per image").format(size=spec.feature_dim)),
            (_("Input size"), _("{low}-{high} px (default {default})").format(
                low=spec.min_size, high=spec.max_size, default=spec.default_size)),
            (_("Licence"), _(spec.licence) if spec.licence else _("not stated")))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{k}</th><td>{html.escape(str(v))}</td>"
                    "</tr>" for k, v in rows)
    return f"<table class='lepton-table'>{cells}</table>"


def params_line(name: str, count: int) -> str:
    return ("<b>" + html.escape(_("Parameters of {backbone}:").format(backbone=name)) + "</b> "
            f"<span class='lepton-param-number'>{count:,}</span> "
            + html.escape(_("({millions} million, the backbone only)").format(millions=f"{count / 1e6:.2f}")))


def source_choices(spec, path: str, size: int) -> tuple[list[tuple[str, str]], str]:
    """The weights dropdown's options for ``spec`` (label, source), each label saying when the source is not
    offered or cannot load here, and the table of every source with its reason."""
    rows, options = [], []
    for option in SOURCES:
        ok, reason = source_availability(spec, option, path, size)
        words = _(SOURCE_WORDS[option])
        if option == "run":
            label = words
        elif not spec.supports(option if option != "file" else "any.weights.h5"):
            label = words + "  " + _("(not offered by {backbone})").format(backbone=spec.name)
        elif ok or (option == "file" and not path):
            label = words   # a file is judged once there is a path
        else:
            label = words + "  " + _("(unavailable here)")
        options.append((label, option))
        mark = (html.escape(_("available")) if ok
                else "<span style='color:#c62828'>" + html.escape(_("unavailable")) + "</span>")
        rows.append(f"<tr><td>{html.escape(words)}</td><td>{mark}</td><td>{html.escape(reason)}</td></tr>")
    head = "".join(f"<th>{html.escape(_(h))}</th>" for h in (N_("source"), N_("here"), N_("why")))
    table = ("<b>" + html.escape(_("Weights sources for this backbone")) + "</b><table class='lepton-table'>"
             f"<tr>{head}</tr>" + "".join(rows) + "</table>")
    return options, table

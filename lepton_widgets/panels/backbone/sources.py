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

SOURCE_WORDS = {"offline": "offline pack", "imagenet": "ImageNet (download)", "none": "none: random init",
                "file": "file path", "run": "your run"}
#: The weights dropdown's sources: the registry's, then your finished runs.
SOURCES = (*WEIGHT_SOURCES, "run")


def source_availability(spec, option: str, path: str, size: int) -> tuple[bool, str]:
    """Whether ``option`` (a source name; ``path`` the file or run it points at) can load for ``spec`` at
    ``size`` here, and why not."""
    if option == "run":
        if path and is_run_weights(path):
            return availability(spec, path, size)
        return False, "no run chosen yet: pick one of your finished runs"
    if option == "file":
        if "file" not in spec.weight_sources:
            return availability(spec, "any.weights.h5", size)  # says which sources it does offer
        return availability(spec, path, size) if path else (False, "no file chosen yet")
    return availability(spec, option, size)


def backbone_card(spec) -> str:
    """The registry's facts about a backbone, as a small table."""
    rows = (("Family", spec.family), ("About", spec.description), ("Feature size", f"{spec.feature_dim} per image"),
            ("Input size", f"{spec.min_size}-{spec.max_size} px (default {spec.default_size})"),
            ("Licence", spec.licence or "not stated"))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{k}</th><td>{html.escape(str(v))}</td>"
                    f"</tr>" for k, v in rows)
    return f"<table class='lepton-table'>{cells}</table>"


def params_line(name: str, count: int) -> str:
    return (f"<b>Parameters of {html.escape(name)}:</b> <span class='lepton-param-number'>{count:,}</span> "
            f"({count / 1e6:.2f} M, backbone only)")


def source_choices(spec, path: str, size: int) -> tuple[list[tuple[str, str]], str]:
    """The weights dropdown's options for ``spec`` (label, source), each label saying when the source is not
    offered or cannot load here, and the table of every source with its reason."""
    rows, options = [], []
    for option in SOURCES:
        ok, reason = source_availability(spec, option, path, size)
        if option == "run":
            label = SOURCE_WORDS[option]
        elif not spec.supports(option if option != "file" else "any.weights.h5"):
            label = f"{SOURCE_WORDS[option]}  (not offered by {spec.name})"
        elif ok or (option == "file" and not path):
            label = SOURCE_WORDS[option]   # a file is judged once there is a path
        else:
            label = f"{SOURCE_WORDS[option]}  (unavailable here)"
        options.append((label, option))
        mark = "available" if ok else "<span style='color:#c62828'>unavailable</span>"
        rows.append(f"<tr><td>{html.escape(option)}</td><td>{mark}</td><td>{html.escape(reason)}</td></tr>")
    table = ("<b>Weights sources for this backbone</b><table class='lepton-table'>"
             "<tr><th>source</th><th>here</th><th>why</th></tr>" + "".join(rows) + "</table>")
    return options, table

"""What a person can read in a widget tree, and the English left in it when the interface speaks Chinese.

Used by the catalogue tests (a built workbench walked in Python) and mirrored by the browser test (the page's
visible text). A text "has English" when it holds a word of three or more Latin letters that is neither a
name kept in every language (``KEPT``: products, formats, networks) nor data the person brought (class
names, file names, run ids: the caller's ``allowed``).
"""

from __future__ import annotations

import html
import re
from typing import Iterable, Iterator

import ipywidgets as w

#: Names a Chinese interface keeps in Latin letters: products, file formats, network and method names, units.
KEPT = {
    "lepton", "workbench", "predict", "keras", "tensorflow", "kerastuner", "voilà", "voila", "jupyter",
    "jupyterlab", "jupyterhub", "python", "plotly", "cleanlab", "scikit", "learn", "numpy", "pandas",
    "mobilenetv2", "mobilenet", "efficientnet", "lite0", "vgg16", "imagenet", "cnn", "minilm", "glove", "tf",
    "idf", "logme", "grad", "cam", "fgsm", "pgd", "ece", "onnx", "tflite", "savedmodel", "int8", "float16", "float32",
    "csv", "zip", "wav", "png", "jpg", "jpeg", "json", "yaml", "txt", "html", "http", "https", "url", "mnist",
    "fashion", "cifar", "auc", "roc", "gpu", "cpu", "ram", "px", "khz", "db", "mel", "fft", "top", "relu",
    "adam", "sgd", "api", "cli", "pdf", "svg", "www", "com", "org", "github", "lepton_widgets", "hyperband",
    "utf",
}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9']{2,}")  # digits inside a name too: MobileNetV2, VGG16, int8
IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def plain(text: str) -> str:
    """HTML -> the words a reader sees (tags, scripts and styles dropped, entities decoded)."""
    return html.unescape(TAG.sub(" ", text or ""))


def english_words(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The Latin words of ``text`` that are neither ``KEPT`` nor in ``allowed`` (compared lower-case)."""
    allowed_words = {word.strip("'").lower() for item in allowed for word in WORD.findall(str(item))}
    # snake_case names are identifiers a person types in code (load_digits, fashion_mnist), not words.
    text = IDENTIFIER.sub(" ", plain(text))
    words = [word.strip("'") for word in WORD.findall(text)]  # 'quoted' -> quoted
    return [word for word in words if len(word) >= 3 and word.lower() not in KEPT and word.lower() not in allowed_words]


def widget_texts(widget) -> Iterator[tuple[str, str]]:
    """(where, text) for every string a person can read in ``widget`` and its children, figures included."""
    seen: set[int] = set()
    stack = [("", widget)]
    while stack:
        path, node = stack.pop()
        if id(node) in seen or node is None:
            continue
        seen.add(id(node))
        name = f"{path}/{type(node).__name__}"
        layout = getattr(node, "layout", None)
        if isinstance(layout, w.Layout) and layout.display == "none":
            continue  # hidden: nobody reads it
        for attribute in ("description", "tooltip", "placeholder", "button_style_text"):
            value = getattr(node, attribute, None)
            if isinstance(value, str) and value:
                yield f"{name}.{attribute}", value
        if isinstance(node, (w.HTML, w.Label, w.HTMLMath, w.Textarea)) and isinstance(node.value, str):
            yield f"{name}.value", node.value
        if isinstance(node, (w.Dropdown, w.RadioButtons, w.ToggleButtons, w.Select, w.SelectMultiple,
                             w.SelectionSlider)):
            for label in getattr(node, "_options_labels", ()):
                yield f"{name}.options", str(label)
        if isinstance(node, (w.Accordion, w.Tab)):
            for title in node.titles:
                if title:
                    yield f"{name}.titles", str(title)
        if isinstance(node, w.Output):
            for output in node.outputs:
                data = output.get("data", {})
                text = data.get("text/html") or data.get("text/plain") or output.get("text", "")
                yield f"{name}.output", "".join(text) if isinstance(text, list) else str(text)
        yield from _figure_texts(name, node)
        for child in getattr(node, "children", ()) or ():
            stack.append((name, child))


def _figure_texts(name: str, node) -> Iterator[tuple[str, str]]:
    """Titles, axis titles, legend names and annotations of a Plotly FigureWidget."""
    if not hasattr(node, "to_plotly_json") or not hasattr(node, "data") or not hasattr(node, "layout"):
        return
    figure = node.to_plotly_json()
    layout = figure.get("layout", {})
    title = layout.get("title", {})
    if isinstance(title, dict) and title.get("text"):
        yield f"{name}.title", title["text"]
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            text = (axis.get("title") or {}).get("text")
            if text:
                yield f"{name}.{key}", text
    for annotation in layout.get("annotations", ()) or ():
        if annotation.get("text"):
            yield f"{name}.annotation", annotation["text"]
    for trace in figure.get("data", ()):
        if trace.get("name") and trace.get("showlegend", True) is not False:
            yield f"{name}.trace", str(trace["name"])


def english_left(widget, allowed: Iterable[str] = ()) -> list[tuple[str, str, list[str]]]:
    """(where, text, the English words) for every readable text in ``widget`` that still has English words."""
    allowed = list(allowed)
    found = []
    for where, text in widget_texts(widget):
        words = english_words(text, allowed)
        if words:
            found.append((where, plain(text).strip()[:160], words))
    return found

"""What the Export panel shows of exported files: the per-format results table, sizes, and download links that
carry the file itself.

Example:
    >>> size_text(3 * 2**20), size_text(2048), size_text(None)
    ('3.00 MB', '2 KB', '–')
"""

from __future__ import annotations

import base64
import html
import io
import re
import zipfile
from pathlib import Path
from typing import Optional

from lepton_widgets.i18n import N_, _

#: Format name -> what it is, for the check boxes (kept here: importing core.export.formats pulls in numpy only,
#: but the panel must not depend on converter details to draw itself).
FORMAT_LABELS = {
    "keras": "Keras .keras", "savedmodel": "TF SavedModel", "tflite": "TFLite float32",
    "tflite-f16": "TFLite float16", "tflite-int8": "TFLite int8", "onnx": "ONNX",
}
#: Files up to this size get a download link that carries the file itself (a data: URL). Voilà 0.5 serves no
#: route for them: its ``files/`` route only serves images (``file_allowlist``) from the notebook's folder.
MAX_LINK_BYTES = 50 * 2**20
#: The results table's column headers.
COLUMNS = (N_("format"), N_("result"), N_("file"), N_("size"), N_("largest difference"), N_("same top answer"),
           N_("tolerance"), N_("reason"))
RESULT_LABELS = {"passed": (N_("pass"), "#1b7f3b"), "failed": (N_("FAIL"), "#b00020"),
                 "unavailable": (N_("not available here"), "#8a6d00"), "error": (N_("error"), "#b00020")}
#: The engine's tolerance phrases (``Tolerance.describe``) and agreement note (``agreement_text``), as patterns
#: with the message that says them in the reader's language.
_TOLERANCE_PARTS = (
    (re.compile(r"^max abs diff <= (?P<limit>\S+)$"), N_("largest difference <= {limit}")),
    (re.compile(r"^top-1 agreement >= (?P<limit>\S+) where the model is decided \(top-1 leads by >= "
                r"(?P<margin>\S+)\)$"),
     N_("same top answer >= {limit} where the model is sure (its top answer leads by >= {margin})")),
    (re.compile(r"^top-1 agreement >= (?P<limit>\S+) overall$"), N_("same top answer >= {limit} overall")),
    (re.compile(r"^reported only$"), N_("reported only")),
)
_DECIDED = re.compile(r"^(?P<overall>\S+) \((?P<decided>\S+) of (?P<count>\d+) decided\)$")


def tolerance_text(text: str) -> str:
    """The engine's tolerance description in the reader's language (a part it does not know stays as it is).

    >>> tolerance_text("max abs diff <= 1e-05, top-1 agreement >= 0.8 overall")
    'largest difference <= 1e-05, same top answer >= 0.8 overall'
    """
    parts = []
    for part in (text or "").split(", "):
        for pattern, message in _TOLERANCE_PARTS:
            found = pattern.match(part)
            if found:
                part = _(message).format(**found.groupdict())
                break
        parts.append(part)
    return ", ".join(parts)


def agreement_words(text: str) -> str:
    """``75.0% (100.0% of 9 decided)`` in the reader's language (other texts unchanged)."""
    found = _DECIDED.match(text or "")
    return _("{overall} ({decided} of {count} where it is sure)").format(**found.groupdict()) if found else text


#: The engine's reasons a format is not offered, could not be made or failed its check (core/export and the
#: tasks' export parts keep them in English: they go into the English model card), as patterns with the message
#: that says them in the reader's language. A pattern of ``None`` means the whole reason is the message itself.
_REASONS = (
    (None, N_("the model replaces a missing number (NaN) by the training mean, and int8 quantisation turns NaN "
              "into an ordinary number before that step, so rows with a gap get other answers (measured: a "
              "breast_cancer row with one missing value moved from p=0.43 to p=0.88 while complete rows agreed); "
              "the model is small: use tflite or tflite-f16")),
    (re.compile(r"^the table's categorical columns \((?P<columns>.*)\) are looked up with StringLookup, a "
                r"TensorFlow hash table that tf2onnx 1\.17 cannot convert \(LookupTableFindV2\); use keras, "
                r"savedmodel or tflite \(TFLite has built-in hash-table kernels\)$"),
     N_("the table's categorical columns ({columns}) are looked up with StringLookup, a TensorFlow hash table "
        "that tf2onnx 1.17 cannot convert (LookupTableFindV2); use keras, savedmodel or tflite (TFLite has "
        "built-in hash-table kernels)")),
    (None, N_("a GloVe text model reads raw strings through a TextVectorization layer, whose lower-casing, "
              "punctuation stripping and splitting (StringLower, StaticRegexReplace, StringSplitV2) are "
              "TensorFlow ops that TFLite's built-in op set lacks (they would need the Flex delegate, which "
              "stock TFLite runtimes do not have); use the keras or savedmodel export")),
    (None, N_("a GloVe text model reads raw strings through a TextVectorization layer: tf2onnx 1.17 cannot "
              "convert its string ops (StaticRegexReplace, StringSplitV2) nor its vocabulary table "
              "(LookupTableFindV2); use the keras or savedmodel export")),
    (None, N_("this TensorFlow has no tf.lite.Interpreter; pip install ai-edge-litert")),
    (None, N_("int8 quantisation needs representative training images (or texts, or rows) to calibrate on, and "
              "none were given (the run's training data could not be loaded)")),
    (re.compile(r"^ONNX export is not available here because (?P<missing>.+) (?:is|are) not installed; install "
                r"with: (?P<install>.+)$"),
     N_("ONNX export is not available here because {missing} is not installed; install with: {install}")),
    (re.compile(r"^onnxruntime is not installed, so the ONNX file cannot be run here; (?P<install>.+)$"),
     N_("onnxruntime is not installed, so the ONNX file cannot be run here; {install}")),
    (re.compile(r"^reloaded with (?P<runtime>.+?), it is outside the tolerance \((?P<tolerance>.*)\): max abs "
                r"diff (?P<diff>\S+), top-1 agreement (?P<agreement>\S+) \((?P<decided>\S+) on the "
                r"(?P<count>\d+) decided images\); not published$"),
     N_("reloaded with {runtime}, it is outside the tolerance ({tolerance}): max abs diff {diff}, top-1 agreement "
        "{agreement} ({decided} on the {count} decided images); not published")),
    (re.compile(r"^reloaded with (?P<runtime>.+?), it is outside the tolerance \((?P<tolerance>.*)\): max abs "
                r"diff (?P<diff>\S+), top-1 agreement (?P<agreement>\S+); not published$"),
     N_("reloaded with {runtime}, it is outside the tolerance ({tolerance}): max abs diff {diff}, top-1 agreement "
        "{agreement}; not published")),
    (re.compile(r"^(?P<what>.+?) could not be made here: (?P<error>.+)$", re.S),
     N_("{what} could not be made here: {error}")),
)


def reason_text(text: str) -> str:
    """The engine's reason (not offered, not made, failed) in the reader's language; a reason it does not know,
    and every reason in English, stays exactly as the engine wrote it.

    >>> reason_text("onnxruntime is not installed, so the ONNX file cannot be run here; pip install onnxruntime")
    'onnxruntime is not installed, so the ONNX file cannot be run here; pip install onnxruntime'
    """
    text = text or ""
    for pattern, message in _REASONS:
        found = (text == message) if pattern is None else pattern.match(text)
        if not found:
            continue
        translated = _(message)
        if translated == message:  # English (or not in the catalogue): the engine's own words
            return text
        if pattern is None:
            return translated
        fields = found.groupdict()
        if "tolerance" in fields:
            fields["tolerance"] = tolerance_text(fields["tolerance"])
        return translated.format(**fields)
    return text


def size_text(size_bytes: Optional[int]) -> str:
    if size_bytes is None:
        return "–"
    return f"{size_bytes / 2**20:.2f} MB" if size_bytes >= 2**20 else f"{size_bytes / 1024:.0f} KB"


def download_html(path: str | Path) -> str:
    """A link that saves ``path`` in the browser: the file's bytes as a data: URL (a folder, such as a
    SavedModel, as one .zip). Works wherever the page is served (Voilà, JupyterLab), with no file route;
    a file over :data:`MAX_LINK_BYTES` is named with its path instead.

    Example:
        >>> import tempfile, pathlib
        >>> card = pathlib.Path(tempfile.mkdtemp()) / "model_card.md"; _ = card.write_text("# card")
        >>> download_html(card)[:60]
        "<a download='model_card.md' href='data:application/octet-str"
    """
    path = Path(path)
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                archive.write(file, f"{path.name}/{file.relative_to(path)}")
        name, data = f"{path.name}.zip", buffer.getvalue()
    else:
        name, data = path.name, path.read_bytes() if path.stat().st_size <= MAX_LINK_BYTES else b""
    if not data or len(data) > MAX_LINK_BYTES:
        return "<span>" + html.escape(_(
            "{name} is too large to download through the page ({size}): copy it from {path}.").format(
            name=name, size=size_text(len(data) or path.stat().st_size), path="\0")).replace(
            "\0", f"<code>{html.escape(str(path))}</code>") + "</span>"
    encoded = base64.b64encode(data).decode("ascii")
    return (f"<a download='{html.escape(name)}' href='data:application/octet-stream;base64,{encoded}'>"
            + html.escape(_("Save {name} ({size})").format(name=name, size=size_text(len(data)))) + "</a>")


def results_html(results) -> str:
    """The per-format table; every row that did not pass says why, in words."""
    if not results:
        return ""
    head = "<tr>" + "".join(f"<th>{html.escape(_(name))}</th>" for name in COLUMNS) + "</tr>"
    rows = []
    for r in results:
        label, colour = RESULT_LABELS[r.status]
        label = html.escape(_(label))
        size = size_text(r.size_bytes)
        diff = "–" if r.max_abs_diff is None else f"{r.max_abs_diff:.2e}"
        top1 = html.escape(agreement_words(r.agreement_text()))
        path = (f"<code style='font-size:11px' title='{html.escape(r.path)}'>{html.escape(Path(r.path).name)}"
                "</code>" if r.path else "–")  # the name; the server path only as a tooltip
        rows.append(f"<tr class='lepton-export-{html.escape(r.status)}'><td>{html.escape(r.format)}</td>"
                    f"<td style='color:{colour};font-weight:600'>{label}</td><td>{path}</td><td>{size}</td>"
                    f"<td>{diff}</td><td>{top1}</td><td>{html.escape(tolerance_text(r.tolerance))}</td>"
                    f"<td style='max-width:420px'>{html.escape(reason_text(r.reason))}</td></tr>")
    return (f"<table class='lepton-export-table' style='border-collapse:collapse' cellpadding='4'>{head}"
            f"{''.join(rows)}</table>")


def step_text(event) -> str:
    """One format's progress line (HTML) for an ``ExportStep`` event: writing, reloading, comparing, then
    verified or why not."""
    if event.step == "write":
        return html.escape(_("writing the file..."))
    if event.step == "reload":
        return html.escape(_("reloading it with {runtime}...").format(runtime=event.runtime))
    if event.step == "check":
        return html.escape(_("comparing it with the trained model on {count} held-out inputs...").format(
            count=event.n_checked))
    if event.status == "passed":
        return (html.escape(_("verified")) + " <span style='color:#555'>("
                + html.escape(_("{size}, {seconds} s").format(size=size_text(event.size_bytes),
                                                             seconds=f"{event.seconds:.1f}")) + ")</span>")
    label, colour = RESULT_LABELS.get(event.status, (RESULT_LABELS["error"][0], "#b00020"))
    return f"<span style='color:{colour}'>{html.escape(_(label))}</span>: {html.escape(reason_text(event.reason))}"

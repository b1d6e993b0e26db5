"""Export formats: how each one is written, and how it is loaded back with its *own* runtime.

Every format is a :class:`FormatSpec` in :data:`SPECS`: a writer (Keras model -> file or folder), a loader
that opens the artefact with the runtime people will use it with (Keras, ``tf.saved_model``,
``tf.lite.Interpreter``, onnxruntime) and returns a :class:`Predictor`, and the tolerance the reloaded
artefact must meet against the in-memory model (see :mod:`lepton_widgets.core.export.verify`).

=============  ==========================  ==================  ==============================================
format         file                        runtime             tolerance (held-out batch, probabilities)
=============  ==========================  ==================  ==============================================
keras          ``model.keras``             Keras (safe mode)   max abs diff <= 1e-5
savedmodel     ``saved_model/``            ``tf.saved_model``  max abs diff <= 1e-4
tflite         ``model.tflite`` (float32)  TFLite interpreter  max abs diff <= 1e-4
tflite-f16     ``model_f16.tflite``        TFLite interpreter  max abs diff <= 2e-2
tflite-int8    ``model_int8.tflite``       TFLite interpreter  top-1 agreement >= 0.9 where the model is
                                                               decided (top-1 leads by >= 0.2), >= 0.8 overall
onnx           ``model.onnx``              onnxruntime         max abs diff <= 1e-4
=============  ==========================  ==================  ==============================================

Every artefact keeps the model's interface: for an image run float32 RGB pixels in [0, 255], shape
(N, S, S, 3), in; for a text or table run the same inputs as its Keras model (strings, token ids or a
dict of named columns, see :mod:`lepton_widgets.core.export.inputs`); softmax probabilities in class
order out. Predictors take those inputs as numpy arrays (a dict of them for several inputs). The int8
file quantises weights and activations (calibrated on training rows) but keeps float32 input and output,
so it is a drop-in replacement; a TFLite file with quantised input/output (someone else's) is still read
correctly by :class:`TFLitePredictor`.

TFLite files are converted with the built-in op set only (no ``SELECT_TF_OPS``, unlike
``model.export(format="litert")``), so they run on any TFLite runtime without the Flex delegate; a model
that would need TensorFlow ops fails to convert with a message instead of producing a file that will
not load on a phone.

Example:
    >>> [spec.name for spec in SPECS.values()]
    ['keras', 'savedmodel', 'tflite', 'tflite-f16', 'tflite-int8', 'onnx']
    >>> SPECS["tflite-int8"].tolerance.describe()
    'top-1 agreement >= 0.9 where the model is decided (top-1 leads by >= 0.2), top-1 agreement >= 0.8 overall'
    >>> SPECS["tflite-int8"].tolerance.check(max_abs_diff=0.4, top1_agreement=0.92, decided_agreement=1.0)
    True
    >>> SPECS["tflite-int8"].tolerance.check(max_abs_diff=0.1, top1_agreement=0.75, decided_agreement=1.0)
    False
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np

#: Python modules the ONNX path needs (the ``export`` extra: tf2onnx==1.17.0, onnx, onnxruntime).
ONNX_MODULES = ("tf2onnx", "onnx", "onnxruntime")
ONNX_INSTALL = "pip install 'tf2onnx==1.17.0' onnx onnxruntime"
#: Calibration images for int8: enough to see the activation ranges, few enough to convert in seconds.
REPRESENTATIVE_IMAGES = 100


class Unavailable(RuntimeError):
    """This format cannot be produced here; the message says why and what would make it work."""


@dataclass(frozen=True)
class Tolerance:
    """How close a reloaded artefact must be to the in-memory model on the held-out batch.

    ``max_abs_diff`` bounds the largest absolute difference of any class probability; ``min_top1_agreement``
    is the fraction of images whose top class must agree. With ``decided_margin``, that agreement is
    counted only over images where the model's top class leads the runner-up by at least the margin, and
    ``min_overall_agreement`` applies to all images. Why, for int8: 8-bit rounding moves the logits a
    little, which flips near-ties and, through a steep softmax, can move one probability by 0.4 without
    anything being broken (MobileNetV2 at 96 px, measured); a broken conversion (wrong scaling, wrong
    channel order) flips clear decisions too. ``None`` means not checked (still reported).
    """

    max_abs_diff: Optional[float] = None
    min_top1_agreement: Optional[float] = None
    decided_margin: Optional[float] = None
    min_overall_agreement: Optional[float] = None

    def check(self, max_abs_diff: float, top1_agreement: float, decided_agreement: Optional[float] = None) -> bool:
        """``decided_agreement`` is the agreement over decided images (needed when ``decided_margin`` is set)."""
        if self.max_abs_diff is not None and not max_abs_diff <= self.max_abs_diff:
            return False
        if self.min_overall_agreement is not None and top1_agreement < self.min_overall_agreement:
            return False
        agreement = decided_agreement if self.decided_margin is not None else top1_agreement
        return self.min_top1_agreement is None or (agreement is not None and agreement >= self.min_top1_agreement)

    def describe(self) -> str:
        parts = []
        if self.max_abs_diff is not None:
            parts.append(f"max abs diff <= {self.max_abs_diff:g}")
        if self.min_top1_agreement is not None:
            where = f" where the model is decided (top-1 leads by >= {self.decided_margin:g})" \
                if self.decided_margin is not None else ""
            parts.append(f"top-1 agreement >= {self.min_top1_agreement:g}{where}")
        if self.min_overall_agreement is not None:
            parts.append(f"top-1 agreement >= {self.min_overall_agreement:g} overall")
        return ", ".join(parts) or "reported only"


@dataclass
class ExportContext:
    """What writers may need beyond the model: the input signature (images at ``image_size`` unless
    ``signature`` says otherwise), calibration rows, the formats that cannot hold this model
    (``unavailable``: format -> reason), and a SavedModel shared by the TFLite variants (converted once per
    export, in a temporary folder removed by :meth:`close`)."""

    image_size: Optional[int] = None
    representative: Any = None
    signature: Optional[list] = None
    unavailable: dict = field(default_factory=dict)
    loaders: dict = field(default_factory=dict)  # format -> loader replacing SPECS[format].load (see export_model)
    _tmp: Optional[tempfile.TemporaryDirectory] = field(default=None, repr=False)
    _saved_model: Optional[Path] = field(default=None, repr=False)

    def saved_model(self, model) -> Path:
        if self._saved_model is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lepton-export-")
            self._saved_model = Path(self._tmp.name) / "saved_model"
            write_savedmodel(model, self._saved_model, self)
        return self._saved_model

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
        self._tmp, self._saved_model = None, None


class Predictor:
    """A loaded artefact: ``predict(inputs)`` -> probabilities (N, classes), float32.

    ``inputs`` are what the model takes: float32 (or uint8) RGB pixels in [0, 255] at the model's
    ``image_size`` for an image model; an array of strings, or a dict of arrays named like the model's
    inputs, for text and table models. ``keras_model`` is the Keras model for the ``keras`` format
    (Grad-CAM needs it) and None for the others.
    """

    format = ""
    keras_model = None

    def predict(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class KerasPredictor(Predictor):
    format = "keras"

    def __init__(self, model) -> None:
        self.keras_model = model

    def predict(self, images):
        return np.asarray(self.keras_model.predict(as_tensors(images), verbose=0), np.float32)


class SavedModelPredictor(Predictor):
    format = "savedmodel"

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self.loaded = tf.saved_model.load(str(path))
        if hasattr(self.loaded, "serve"):
            self._call = self.loaded.serve
        else:  # a SavedModel written by other tools: its default serving signature, single output
            signature = self.loaded.signatures["serving_default"]
            self._call = lambda x: next(iter((signature(**x) if isinstance(x, dict) else signature(x)).values()))

    def predict(self, images):
        return np.asarray(self._call(as_tensors(images)), np.float32)


class TFLitePredictor(Predictor):
    """The TFLite interpreter, resized to each batch; (de)quantises when the file's input/output are integers."""

    format = "tflite"

    def __init__(self, path: Path) -> None:
        interpreter_class = _tflite_interpreter_class()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated": still the runtime TF ships
            self.interpreter = interpreter_class(model_path=str(path))
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self._batch = None
        self._runner = None

    def predict(self, images):
        if isinstance(images, dict):
            return self._predict_named(images)
        images = np.asarray(images, np.float32)
        it = self.interpreter
        if self._batch != len(images):
            it.resize_tensor_input(self.input["index"], list(images.shape))
            it.allocate_tensors()
            self._batch = len(images)
        it.set_tensor(self.input["index"], _quantize(images, self.input))
        it.invoke()
        return _dequantize(it.get_tensor(self.output["index"]), self.output)

    def _predict_named(self, inputs: dict) -> np.ndarray:
        """Several named inputs (a table's columns, MiniLM's token arrays): through the file's serving
        signature, which maps the names and resizes every input to the batch."""
        if self._runner is None:
            self._runner = self.interpreter.get_signature_runner()
        details = self._runner.get_input_details()
        missing = sorted(set(details) - set(inputs))
        if missing:
            raise ValueError(f"the TFLite file needs inputs {', '.join(missing)}; got {', '.join(sorted(inputs))}")
        outputs = self._runner(**{name: _quantize(np.asarray(inputs[name]), details[name]) for name in details})
        [(name, values)] = outputs.items() if len(outputs) == 1 else [sorted(outputs.items())[0]]
        return _dequantize(np.asarray(values), self._runner.get_output_details()[name])


class OnnxPredictor(Predictor):
    format = "onnx"

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, images):
        if isinstance(images, dict):
            feed = {node.name: _onnx_value(images[node.name], node.type) for node in self.session.get_inputs()}
        else:
            feed = {self.input_name: np.asarray(images, np.float32)}
        return np.asarray(self.session.run(None, feed)[0], np.float32)


def _onnx_value(values, onnx_type: str) -> np.ndarray:
    """A column for onnxruntime: strings as an object array of ``str``, numbers in the graph's type."""
    values = np.asarray(values)
    if onnx_type == "tensor(string)":
        return values.astype(str).astype(object)
    return values.astype({"tensor(float)": np.float32, "tensor(int32)": np.int32,
                          "tensor(int64)": np.int64}.get(onnx_type, values.dtype))


def as_tensors(inputs, _named: bool = False):
    """Model inputs as Keras and SavedModels take them: strings become ``tf.string`` tensors (Keras cannot
    batch numpy strings); a single array of numbers is pixels, so float32 (as before text and tables); in
    a dict of named inputs, floats become float32 and integers (token ids) keep their type.

    >>> as_tensors(np.zeros((1, 2), np.uint8)).dtype, as_tensors({"ids": np.zeros((1, 2), np.int32)})["ids"].dtype
    (dtype('float32'), dtype('int32'))
    """
    if isinstance(inputs, dict):
        return {name: as_tensors(values, _named=True) for name, values in inputs.items()}
    values = np.asarray(inputs)
    if values.dtype.kind in "USO":
        import tensorflow as tf

        return tf.constant(values.astype(str))
    return values if _named and values.dtype.kind in "iu" else values.astype(np.float32)


def batch_length(inputs) -> int:
    """Rows in a batch of inputs (of any input, for a dict)."""
    return len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)


def _tflite_interpreter_class():
    """``tf.lite.Interpreter`` (TF 2.21 still ships it); ``ai_edge_litert``'s, the same API, once TF drops it."""
    import tensorflow as tf

    interpreter = getattr(getattr(tf, "lite", None), "Interpreter", None)
    if interpreter is not None:
        return interpreter
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise Unavailable("this TensorFlow has no tf.lite.Interpreter; pip install ai-edge-litert") from None
    return Interpreter


def _quantize(images: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return images.astype(dtype)
    if dtype in (np.bytes_, np.object_, np.str_):  # a string input: UTF-8 bytes (astype(bytes) is ASCII only)
        return np.vectorize(lambda s: str(s).encode("utf-8"), otypes=[object])(images).astype(np.bytes_)
    scale, zero_point = detail["quantization"]
    if not scale:  # a plain integer input (token ids), not a quantised one
        return images.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(images / scale + zero_point), info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(values.dtype, np.floating):
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


# --- writers ------------------------------------------------------------------------------------------


def _signature(ctx: ExportContext):
    """The explicit input signature every converter gets: the context's (text and table models), else any
    batch of raw RGB floats at the run's image size."""
    import tensorflow as tf

    if ctx.signature is not None:
        return ctx.signature
    return [tf.TensorSpec((None, ctx.image_size, ctx.image_size, 3), tf.float32, name="image")]


def write_keras(model, path: Path, ctx: ExportContext) -> None:
    model.save(path)


def write_savedmodel(model, path: Path, ctx: ExportContext) -> None:
    model.export(str(path), format="tf_saved_model", input_signature=_signature(ctx), verbose=False)


def _tflite_writer(variant: str) -> Callable[[object, Path, ExportContext], None]:
    def write(model, path: Path, ctx: ExportContext) -> None:
        import tensorflow as tf

        if variant == "int8" and (ctx.representative is None or not batch_length(ctx.representative)):
            raise Unavailable("int8 quantisation needs representative training images (or texts, or rows) to "
                              "calibrate on, and none were given (the run's training data could not be loaded)")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(ctx.saved_model(model)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if variant == "f16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif variant == "int8":
            rows = ctx.representative

            def representative() -> Iterator:
                if isinstance(rows, dict):  # named inputs: one dict per row, keyed like the signature
                    for i in range(batch_length(rows)):
                        yield {name: np.asarray(values[i:i + 1]) for name, values in rows.items()}
                    return
                for image in np.asarray(rows, np.float32):
                    yield [image[np.newaxis]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            # Integer kernels only; the float32 input/output stay (the converter adds (de)quantise ops at the
            # edges), so the file takes the same raw pixels as every other export.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        path.write_bytes(converter.convert())

    return write


def write_onnx(model, path: Path, ctx: ExportContext) -> None:
    missing = [name for name in ONNX_MODULES if not _importable(name)]
    if missing:
        raise Unavailable(f"ONNX export is not available here because {', '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not installed; install with: {ONNX_INSTALL}")
    with _quiet_tf2onnx():
        # Keras 3 converts through tf2onnx for the TensorFlow backend; an explicit signature gives the ONNX
        # graph a named input ("image") with a free batch dimension instead of a traced fixed shape.
        model.export(str(path), format="onnx", input_signature=_signature(ctx), verbose=False)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules reads as not installed
        return False


@contextlib.contextmanager
def _quiet_tf2onnx():
    """tf2onnx logs every graph rewrite at WARNING and numpy 2 emits FutureWarnings through it."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _load_keras(path: Path) -> Predictor:
    from lepton_widgets.core.export.safe_load import load_user_model

    return KerasPredictor(load_user_model(path))  # the same safe loader users' files go through


def load_keras_safe_mode(path: Path) -> Predictor:
    """Keras' own safe mode (no Lambda code, no pickles), for a file lepton just wrote from a run's model.

    Why not :func:`_load_keras`: that is the gate for files *users* bring, and it admits only Keras' and
    Lepton's own classes; a MiniLM text model is built from keras_hub's ``BertBackbone`` (registered when
    keras_hub is imported), which Keras' safe mode loads without running any code.
    """
    import keras

    return KerasPredictor(keras.saving.load_model(path, safe_mode=True))


def _load_onnx(path: Path) -> Predictor:
    if not _importable("onnxruntime"):
        raise Unavailable(f"onnxruntime is not installed, so the ONNX file cannot be run here; {ONNX_INSTALL}")
    return OnnxPredictor(path)


@dataclass(frozen=True)
class FormatSpec:
    """One export format: where it is written, how, how it is read back, and how close it must be."""

    name: str
    filename: str
    runtime: str
    description: str
    tolerance: Tolerance
    write: Callable[[object, Path, ExportContext], None]
    load: Callable[[Path], Predictor]


FLOAT32 = Tolerance(max_abs_diff=1e-4)
INT8 = Tolerance(min_top1_agreement=0.90, decided_margin=0.2, min_overall_agreement=0.8)
SPECS: dict[str, FormatSpec] = {spec.name: spec for spec in [
    FormatSpec("keras", "model.keras", "keras", "Keras 3 native file (no augmentation layers)",
               Tolerance(max_abs_diff=1e-5), write_keras, _load_keras),
    FormatSpec("savedmodel", "saved_model", "tf.saved_model", "TensorFlow SavedModel (TF Serving, TF.js converter)",
               FLOAT32, write_savedmodel, SavedModelPredictor),
    FormatSpec("tflite", "model.tflite", "tf.lite.Interpreter", "TFLite, float32",
               FLOAT32, _tflite_writer("f32"), TFLitePredictor),
    FormatSpec("tflite-f16", "model_f16.tflite", "tf.lite.Interpreter", "TFLite, float16 weights (half the size)",
               Tolerance(max_abs_diff=2e-2), _tflite_writer("f16"), TFLitePredictor),
    FormatSpec("tflite-int8", "model_int8.tflite", "tf.lite.Interpreter",
               "TFLite, int8 weights and activations (float32 input/output), calibrated on training images",
               INT8, _tflite_writer("int8"), TFLitePredictor),
    FormatSpec("onnx", "model.onnx", "onnxruntime", "ONNX (tf2onnx), for onnxruntime and other ONNX tools",
               FLOAT32, write_onnx, _load_onnx),
]}
FORMATS = tuple(SPECS)


def artefact_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (a SavedModel)."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def load_predictor(path: str | Path, format: Optional[str] = None) -> Predictor:
    """Open a model with its own runtime; the format is guessed from the name when not given.

    Provenance decides what opens: a ``.keras`` file goes through the safe loader
    (:mod:`~lepton_widgets.core.export.safe_load`), wherever it came from; a SavedModel, TFLite or ONNX file only
    when it is this installation's unchanged export
    (:func:`~lepton_widgets.core.export.manifest.verify_export`), checked before its runtime reads a byte.
    Anything else raises ``UnsafeModelError`` (a ``ValueError``) saying what to do instead.
    """
    from lepton_widgets.core.export.manifest import verify_export

    path = Path(path)
    if format is None:
        format = guess_format(path)
    if format not in SPECS:
        raise ValueError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    if format != "keras":
        verify_export(path, "tflite" if format.startswith("tflite") else format)
    return SPECS[format].load(path)


def guess_format(path: Path) -> str:
    """``keras`` / ``savedmodel`` / ``tflite`` / ``onnx`` from a file name (all TFLite variants read alike)."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return "savedmodel"
    suffix = path.suffix.lower()
    if suffix in (".keras", ".tflite", ".onnx"):
        return suffix[1:]
    raise ValueError(f"{path.name}: not a model file this app can open. Load a model as a .keras file, or "
                     "export a run with `lepton export <run>` and open that export (.tflite, .onnx or SavedModel)")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if Path(path).is_dir() else Path(path).unlink(missing_ok=True)

"""Load a Keras model file that someone handed you, without running code hidden in it.

A model file is a program as much as data: a ``Lambda`` layer stores Python bytecode that runs while the
model is rebuilt, and a pickle (``.pkl``, ``.pickle``, a torch ``.pt`` zip) runs whatever it names while
it is read. :func:`load_user_model` therefore:

1. refuses what is not a ``.keras`` file, by content rather than by name: pickles (a pickle header, or a
   zip holding ``.pkl`` members) and HDF5 files (``.h5``, Teachable Machine's ``keras_model.h5``, which
   TF-Keras 2 wrote and Keras 3 cannot rebuild) get a message that says what the file is and what to do;
2. reads the ``.keras`` zip's ``config.json`` *without Keras* and refuses ``Lambda`` layers and classes
   from modules other than Keras and Lepton, before anything is deserialised;
3. only then calls ``keras.saving.load_model(path, safe_mode=True, compile=False)``, and turns Keras' own
   safe-mode refusal (and "unknown class" errors) into the same kind of message.

Steps 1-2 are belt and braces around step 3: Keras' safe mode is what refuses Lambda bytecode, but its
refusals read like internal errors, and a clear reason is what a user needs.

Example:
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "model.pkl"
    >>> _ = bad.write_bytes(b"\\x80\\x04\\x95...")
    >>> try:
    ...     load_user_model(bad)
    ... except UnsafeModelError as error:
    ...     print(str(error).split(",")[0])
    model.pkl: this is a Python pickle
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Iterator

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".npy")
#: Modules a ``.keras`` config may name. Lepton's own registered layers (CaffePreprocess) live in lepton_widgets.
ALLOWED_MODULES = ("keras", "lepton_widgets")
#: Keras modules that are utilities, not model parts. Naming one in a config has been used to run a function
#: while loading: CVE-2025-1550 (any module, Keras <= 3.8), CVE-2025-9906 (keras.config.
#: enable_unsafe_deserialization, then a Lambda; fixed in 3.11). Keras 3.15 blocks those; we refuse them first.
FORBIDDEN_MODULES = ("keras.utils", "keras.src.utils", "keras.saving", "keras.src.saving", "keras.config",
                     "keras.src.backend", "keras.models", "keras.src.models.model")
#: A config entry of class "function" names a callable; only these modules may provide one (activations...).
FUNCTION_MODULES = ("keras.activations", "keras.src.activations", "keras.losses", "keras.src.losses",
                    "keras.metrics", "keras.src.metrics", "keras.ops", "keras.src.ops")
#: Config classes refused outright: class name -> (what it is, why it is refused).
REFUSED_CLASSES = {
    "Lambda": ("a Lambda layer", "it stores Python bytecode that would run while the model loads"),
    "__lambda__": ("a serialised Python lambda", "its bytecode would run while the model loads"),
    "TFSMLayer": ("a TFSMLayer", "it loads a whole TensorFlow SavedModel graph from another path"),
}
MAX_UNCOMPRESSED = 4 * 2**30  # a .keras file bigger than this unpacked is refused (zip bombs)

TEACHABLE_MACHINE_HINT = (
    "Legacy HDF5 models (.h5), such as Teachable Machine's keras_model.h5, are not supported: Lepton loads only "
    "the .keras format, whose contents it checks before Keras reads anything, and Teachable Machine's files were "
    "written by TF-Keras 2 and fail in Keras 3 anyway (\"Unrecognized keyword arguments passed to DepthwiseConv2D: "
    "{'groups': 1}\"). To use one, load it where it was made (TensorFlow <= 2.15, or the tf-keras package) and "
    "save it again with model.save('model.keras'), then load that file here.")


class UnsafeModelError(ValueError):
    """The file is not loaded: it is not a safe ``.keras`` model. The message says what it is and why."""


def check_model_file(path: str | Path) -> dict:
    """Check ``path`` without deserialising anything; returns its parsed ``config.json``.

    Raises :class:`UnsafeModelError` for pickles, HDF5 files, zips that are not ``.keras`` models, Lambda
    layers and classes from unknown modules, and :class:`FileNotFoundError` for a missing file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.is_dir():
        raise UnsafeModelError(f"{path.name}: is a folder (a SavedModel?); only .keras files are loaded as user "
                               "models, since a SavedModel graph can contain any TensorFlow operation, file "
                               "reads and writes included")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(HDF5_MAGIC):
        raise UnsafeModelError(f"{path.name}: this is a legacy HDF5 model. {TEACHABLE_MACHINE_HINT}")
    if _looks_like_pickle(head) or (path.suffix.lower() in PICKLE_SUFFIXES and not zipfile.is_zipfile(path)):
        raise UnsafeModelError(f"{path.name}: this is a Python pickle, and loading a pickle runs whatever code it "
                               "names. Lepton loads models only from .keras files.")
    if not zipfile.is_zipfile(path):
        raise UnsafeModelError(f"{path.name}: not a .keras model (a .keras file is a zip holding config.json and "
                               "model.weights.h5)")
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        pickles = [name for name in names if name.lower().endswith(PICKLE_SUFFIXES) or _member_is_pickle(archive, name)]
        if pickles:
            raise UnsafeModelError(f"{path.name}: the zip holds pickled data ({', '.join(pickles[:3])}), and loading "
                                   "a pickle runs whatever code it names. Lepton loads only .keras models.")
        if "config.json" not in names:
            raise UnsafeModelError(f"{path.name}: a zip without config.json is not a .keras model")
        if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED:
            raise UnsafeModelError(f"{path.name}: unpacks to more than {MAX_UNCOMPRESSED / 2**30:.0f} GiB; refused")
        try:
            config = json.loads(archive.read("config.json"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UnsafeModelError(f"{path.name}: config.json is not valid JSON ({error})") from None
    if "enable_unsafe_deserialization" in json.dumps(config):
        raise UnsafeModelError(f"{path.name}: refused because its config tries to switch Keras' safe mode off "
                               "(enable_unsafe_deserialization)")
    for entry in _class_entries(config):
        _check_entry(path, entry)
    return config


def load_user_model(path: str | Path):
    """A Keras model from a ``.keras`` file, loaded in safe mode after :func:`check_model_file` passed.

    The model is not compiled (no optimizer state is needed to predict, and less is deserialised).
    """
    check_model_file(path)
    import keras

    from lepton_widgets.core.custom_layers import register_custom_layers

    register_custom_layers()

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras' own refusals: say it plainly, keep the original as the cause
        text = str(error)
        if "safe_mode" in text or "lambda" in text.lower():
            raise UnsafeModelError(f"{Path(path).name}: Keras refused to load it in safe mode: it contains code "
                                   f"(a lambda) that would run while loading. ({_first_line(text)})") from error
        if "Could not locate" in text or "Unknown" in text:
            raise UnsafeModelError(f"{Path(path).name}: it uses a class this installation does not know, so it "
                                   f"cannot be loaded safely ({_first_line(text)})") from error
        raise ValueError(f"{Path(path).name}: Keras could not load this model: {_first_line(text)}") from error


def _looks_like_pickle(head: bytes) -> bool:
    """Pickle protocols 2-5 start with PROTO (0x80) and the protocol number."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _member_is_pickle(archive: zipfile.ZipFile, name: str) -> bool:
    if name.endswith("/"):
        return False
    with archive.open(name) as member:
        return _looks_like_pickle(member.read(2))


def _class_entries(config) -> Iterator[dict]:
    """Every dict in the config that names a class (``class_name``), depth first."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _check_entry(path: Path, entry: dict) -> None:
    class_name = str(entry.get("class_name"))
    if class_name in REFUSED_CLASSES:
        what, why = REFUSED_CLASSES[class_name]
        layer = entry["config"].get("name") if isinstance(entry.get("config"), dict) else None
        raise UnsafeModelError(f"{path.name}: refused because it contains {what}{f' ({layer!r})' if layer else ''}: "
                               f"{why}. Rebuild the model with built-in layers (or a registered custom layer) and "
                               "save it again.")
    module = entry.get("module")
    if module is None:
        return
    module = str(module)
    root_ok = _within(module, ALLOWED_MODULES)
    forbidden = _within(module, FORBIDDEN_MODULES) and class_name not in ("Sequential", "Functional", "Model")
    if class_name == "function" and not _within(module, FUNCTION_MODULES):
        forbidden = True
    if not root_ok or forbidden:
        raise UnsafeModelError(f"{path.name}: refused because its config names {class_name!r} from module "
                               f"{module!r}; only Keras model parts and Lepton's own layers are loaded from "
                               "user-supplied files")


def _within(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]

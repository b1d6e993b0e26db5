"""Which SavedModel, TFLite and ONNX files may be opened: only Lepton's own, unchanged exports.

A SavedModel is a TensorFlow graph, and a graph can hold any operation: ``tf.io.write_file``, reading
files, a resource initialiser that ``tf.saved_model.load`` runs while loading. So a SavedModel (and, to be
safe, a TFLite or ONNX file, whose runtimes also load operator libraries) is opened only when it is an
export this installation wrote. Models from anywhere else load only as ``.keras`` files, through
:mod:`~lepton_widgets.core.export.safe_load`.

How an export is recognised: when :func:`~lepton_widgets.core.export.verify.export_model` publishes a format it
writes :data:`MANIFEST_FILE` into that format's folder (``exports/<format>/``): the sha256 of every file in
the folder, the format, the artefact's name, the run id and the Lepton version, signed with an HMAC-SHA256
key kept in this installation's home (``$LEPTON_HOME/keys/export-signing.key``, made on the first export).
:func:`verify_export` recomputes everything before the runtime sees the file: a missing or unsigned
manifest, a signature from another key, a changed byte, a missing or an extra file, a symlink, or a
format that does not match is refused with :class:`UnverifiedExportError`, saying what to do instead.

Why a key and not checksums alone: anyone can write checksums of their own SavedModel beside it; only
this installation can sign them. Consequences: an export copied to another machine (or kept after the
key is deleted) is refused there; its ``.keras`` export still loads anywhere, or export the run again.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "tflite"
    >>> folder.mkdir()
    >>> _ = (folder / "model.tflite").write_bytes(b"TFL3 pretend")
    >>> _ = write_manifest(folder, "tflite", "model.tflite", run_id="demo")
    >>> verify_export(folder / "model.tflite", "tflite")["run_id"]
    'demo'
    >>> _ = (folder / "model.tflite").write_bytes(b"TFL3 changed")
    >>> try:
    ...     verify_export(folder / "model.tflite", "tflite")
    ... except UnverifiedExportError as error:
    ...     print("changed since it was exported" in str(error))
    True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from lepton_widgets.core.export.safe_load import UnsafeModelError

MANIFEST_FILE = "export_manifest.json"
KEY_FILE = ("keys", "export-signing.key")
INSTEAD = ("Load the model as a .keras file instead (a run's model.keras or its keras export), or export the "
           "run with `lepton export <run>` (or the Export panel) and open that export.")


class UnverifiedExportError(UnsafeModelError):
    """Not opened: a SavedModel, TFLite or ONNX file that is not this installation's own unchanged export."""


def write_manifest(folder: str | Path, format: str, artefact: str, run_id: str = "") -> Path:
    """Sign every file under ``folder`` (an export format's folder, before it is published)."""
    from lepton_widgets.core.base.atomic import atomic_write_text

    folder = Path(folder)
    body = {"format": format, "artefact": artefact, "run_id": run_id, "lepton_version": _lepton_version(),
            "files": _hashes(folder)}
    signed = dict(body, signature=_sign(body, _key(create=True)))
    return atomic_write_text(folder / MANIFEST_FILE, json.dumps(signed, indent=2, sort_keys=True))


def _lepton_version() -> str:
    """The installed package's version, read from its metadata: importing ``lepton_widgets`` itself from
    here would run the package (a layer above export) and close an import circle through ``api``."""
    from importlib import metadata

    try:
        return metadata.version("lepton-widgets")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def verify_export(path: str | Path, format: str) -> dict:
    """The manifest of the export at ``path`` (the artefact: a file, or a SavedModel folder), after checking
    it is this installation's unchanged export of ``format`` (``savedmodel``, ``tflite``, ``onnx``).

    Raises :class:`UnverifiedExportError` (a ``ValueError``) naming what is wrong and what to do instead.
    """
    path = Path(path)
    folder = path.parent
    what = {"savedmodel": "SavedModel", "tflite": "TFLite", "onnx": "ONNX"}.get(format, format)

    def refuse(reason: str) -> UnverifiedExportError:
        return UnverifiedExportError(
            f"{path.name}: not opened. Lepton opens {what} models only when they are its own verified exports, "
            f"because such a file can run operations (file writes included) when it is loaded; {reason}. {INSTEAD}")

    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise refuse(f"there is no {MANIFEST_FILE} beside it, so it is not an export Lepton made")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        signature = str(manifest.pop("signature"))
        files = dict(manifest["files"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise refuse(f"its {MANIFEST_FILE} is damaged") from None
    key = _key(create=False)
    if key is None or not hmac.compare_digest(signature, _sign(manifest, key)):
        raise refuse(f"its {MANIFEST_FILE} was not signed by this installation (an export from another machine, "
                     "or a manifest written by hand)")
    runtime = "tflite" if str(manifest.get("format", "")).startswith("tflite") else manifest.get("format")
    if runtime != format or manifest.get("artefact") != path.name:
        raise refuse(f"its {MANIFEST_FILE} is for {manifest.get('artefact')!r} ({manifest.get('format')}), "
                     f"not this {what} file")
    try:
        found = _hashes(folder)
    except _LinkFound as link:
        raise refuse(f"its folder holds a symbolic link ({link}), which an export never does") from None
    extra = sorted(set(found) - set(files))
    missing = sorted(set(files) - set(found))
    changed = sorted(name for name in set(found) & set(files) if found[name] != files[name])
    if extra or missing or changed:
        parts = [f"{label}: {', '.join(names[:3])}" for label, names in
                 (("changed", changed), ("added", extra), ("missing", missing)) if names]
        raise refuse(f"its folder has changed since it was exported ({'; '.join(parts)})")
    return manifest


class _LinkFound(Exception):
    pass


def _hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` but the manifest, by path relative to it (``/``-separated)."""
    out = {}
    for root, dirs, names in os.walk(folder):
        for name in [*dirs, *names]:
            if (Path(root) / name).is_symlink():
                raise _LinkFound(str((Path(root) / name).relative_to(folder)))
        for name in names:
            file = Path(root) / name
            relative = file.relative_to(folder).as_posix()
            if relative == MANIFEST_FILE:
                continue
            digest = hashlib.sha256()
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            out[relative] = digest.hexdigest()
    return out


def _sign(body: dict, key: bytes) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _key(create: bool) -> bytes | None:
    """This installation's signing key (32 random bytes, owner-only), made on the first export."""
    from lepton_widgets.core.base.paths import lepton_home

    path = lepton_home().joinpath(*KEY_FILE)
    if not path.is_file():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)  # appears whole, and only once: another export making it at once keeps its own
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes()
    if len(key) != 32:  # a concurrent writer not finished yet, or a damaged key: never sign with a short key
        raise UnverifiedExportError(f"the export signing key {path} is damaged; delete it and export again")
    return key

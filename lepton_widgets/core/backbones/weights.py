"""Weights sources: can they load here, where are their files, and what identifies them.

Nothing here touches the network except :func:`fetch_imagenet_file`, and that one runs under a socket
timeout so a silent network cannot block a run forever.

Why we fetch ImageNet files ourselves instead of ``keras.applications.X(weights="imagenet")``: Keras reads
``$KERAS_HOME`` once at import, so later changes are ignored; and when a dropped-in file fails Keras' md5
check it tries to download again and, offline, *deletes the file*. Passing ``cache_dir`` explicitly and
never re-checking a file that is already there keeps :func:`availability` and loading in agreement.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone, availability, weights_fingerprint
    >>> spec = get_backbone("small_cnn")
    >>> availability(spec, "none")
    (True, 'random initialisation; nothing to load')
    >>> weights_fingerprint(spec, "none")
    'none'
"""

from __future__ import annotations

import collections
import os
import socket
from pathlib import Path

from .base import WeightsUnavailable, sha256_file
from .spec import BackboneSpec, weights_source
from lepton_widgets.i18n import _

#: Seconds a silent network may stall one socket operation of an ImageNet download.
FETCH_TIMEOUT_S = 30.0


def keras_home() -> Path:
    """``$KERAS_HOME`` (read now, not at import) or ``~/.keras``, like Keras' own rule."""
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = Path.home()
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def imagenet_file(spec: BackboneSpec, image_size: int | None = None) -> Path:
    """Where Keras keeps (or would download) this backbone's no-top ImageNet weights."""
    if spec.imagenet is None:
        raise WeightsUnavailable(f"{spec.name} has no ImageNet weights; sources: {', '.join(spec.weight_sources)}")
    return keras_home() / "models" / spec.imagenet.file_for(image_size or spec.default_size)


def alternatives(spec: BackboneSpec, failed: str = "imagenet") -> str:
    """What to suggest when the ``failed`` source cannot load: the sources that work without internet."""
    from .registry import list_backbones  # late import: registry imports this module

    options = []
    if "offline" in spec.weight_sources and failed != "offline":
        options.append(_('weights="offline" (the bundled pack for {backbone})').format(backbone=spec.name))
    elif "offline" not in spec.weight_sources:
        offline = [s.name for s in list_backbones() if "offline" in s.weight_sources]
        if offline:
            options.append(_('a backbone with offline weights ({backbones}) with weights="offline"').format(
                backbones=", ".join(offline)))
    if "file" in spec.weight_sources and failed != "file":
        options.append(_("a .weights.h5 file path"))
    if "none" in spec.weight_sources:
        options.append(_('weights="none" (random init, train from scratch)'))
    return _("; or ").join(options)


def fetch_imagenet_file(spec: BackboneSpec, image_size: int | None = None, timeout: float = FETCH_TIMEOUT_S) -> Path:
    """Return the local ImageNet weights file, downloading it if missing; ``WeightsUnavailable`` offline."""
    target = imagenet_file(spec, image_size)
    if target.is_file():
        return target  # never re-validate here: Keras would delete a file whose hash it dislikes
    import keras  # heavy; only needed for a download

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # process-wide, so restored right after the one call
    try:
        path = keras.utils.get_file(
            target.name,
            spec.imagenet.origin_dir + target.name,
            cache_subdir="models",
            cache_dir=str(keras_home()),
            file_hash=spec.imagenet.file_hash,
        )
    except Exception as exc:  # Keras wraps URL errors in a bare Exception
        raise WeightsUnavailable(
            f"ImageNet weights for {spec.name} are not in the Keras cache and could not be downloaded "
            f"({type(exc).__name__}: {exc}). No internet? Put the file {target.name} into {target.parent}, "
            f"or use {alternatives(spec)}."
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return Path(path)


def check_weights_file_fits(model, path: str | Path, what: str) -> None:
    """Raise ``WeightsUnavailable`` unless a ``.weights.h5`` file holds exactly the model's variables.

    Keras 3 only *warns* when such a file covers part of a model and leaves the rest randomly
    initialised; a silently half-loaded backbone is worse than an error. (Legacy ``.h5`` loading is
    strict by itself.) Shapes are compared as multisets because the file stores them by name, not order.
    """
    if not str(path).endswith(".weights.h5"):
        return
    import h5py

    in_file: collections.Counter = collections.Counter()

    def visit(name: str, obj) -> None:
        if isinstance(obj, h5py.Dataset) and name.split("/")[-2:-1] == ["vars"]:
            in_file[tuple(obj.shape)] += 1

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    in_model = collections.Counter(tuple(v.shape) for v in model.weights)
    if in_file != in_model:
        raise ValueError(f"{path} holds {sum(in_file.values())} arrays but {what} has {len(model.weights)} "
                         f"variables (or their shapes differ)")


def weights_fingerprint(spec: BackboneSpec, weights: str | None) -> str:
    """A stable identity of the weights, for feature-cache keys.

    ``none`` -> ``"none"`` (random init: add the seed to any cache key yourself); ``imagenet`` ->
    ``"imagenet:<name>"``; a file -> ``"file:sha256:<hex>"``; ``offline`` -> the pack's identity, built
    from the sha256 of its source file and the converter version.

    >>> from lepton_widgets.core.backbones import get_backbone
    >>> weights_fingerprint(get_backbone("resnet50"), "imagenet")
    'imagenet:resnet50'
    """
    source = weights_source(weights)
    if source == "none":
        return "none"
    if source == "run":  # run id + sha256 of its model.keras: two source runs never share features
        from .run_backbone import run_fingerprint

        return run_fingerprint(spec, weights)
    if source == "imagenet":
        return f"imagenet:{spec.name}"
    if source == "offline":
        if spec.offline_pack is None:
            raise WeightsUnavailable(f"{spec.name} has no offline weights; use {alternatives(spec, 'offline')}")
        return spec.offline_pack.fingerprint()
    if not Path(weights).is_file():
        raise WeightsUnavailable(f"weights file {weights} does not exist")
    return f"file:sha256:{sha256_file(weights)}"


def availability(spec: BackboneSpec, weights: str | None, image_size: int | None = None) -> tuple[bool, str]:
    """Can this weights source load here now, without touching the network? ``(ok, human reason)``.

    >>> from lepton_widgets.core.backbones import get_backbone
    >>> ok, reason = availability(get_backbone("small_cnn"), "imagenet")
    >>> ok
    False
    """
    source = weights_source(weights)
    if source == "run":
        from .run_backbone import run_availability

        return run_availability(spec, weights, image_size)
    if not spec.supports(weights):
        return False, _("{backbone} does not offer {source} weights (it has: {sources})").format(
            backbone=spec.name, source=repr(source), sources=", ".join(spec.weight_sources))
    if source == "none":
        return True, _("random initialisation; nothing to load")
    if source == "offline":
        return spec.offline_pack.availability()
    if source == "imagenet":
        path = imagenet_file(spec, image_size)
        if path.is_file():
            return True, _("ImageNet weights found in the Keras cache: {path}").format(path=path)
        return False, _("ImageNet weights not in the Keras cache ({path}); loading would need internet. "
                         "Offline, copy {file} there, or use {alternatives}.").format(
            path=path, file=path.name, alternatives=alternatives(spec))
    path = Path(weights).expanduser()
    if not path.is_file():
        return False, _("weights file {path} does not exist").format(path=path)
    if not path.name.endswith(".h5"):
        return False, _("weights file {path} is not a Keras .weights.h5 file").format(path=path)
    return True, _("weights file {path}").format(path=path)

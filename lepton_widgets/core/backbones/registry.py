"""The backbone registry (plain data) and :func:`load_backbone`, the one way to build a backbone.

Family modules (``mobilenet_v2``, ``small_cnn``, ``keras_apps``) call :func:`register_backbone` at import;
``lepton_widgets.core.backbones`` imports them all.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone, load_backbone
    >>> backbone = load_backbone(get_backbone("small_cnn"), weights="none", image_size=32)
    >>> backbone.name, backbone.output.shape[-1]
    ('backbone', 64)
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

from .normalization import NORMALIZATIONS
from .spec import WEIGHT_SOURCES, BackboneSpec, weights_source
from .base import WeightsUnavailable
from .weights import alternatives, availability, check_weights_file_fits, fetch_imagenet_file

_REGISTRY: dict[str, BackboneSpec] = {}


#: The name every loaded backbone gets, so a transfer model finds it as its nested ``backbone`` layer.
BACKBONE_LAYER = "backbone"


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add (or replace) a spec after checking it is self-consistent; returns it.

    >>> register_backbone(get_backbone("small_cnn")).name
    'small_cnn'
    """
    problems = []
    if spec.normalization not in NORMALIZATIONS:
        problems.append(f"normalization {spec.normalization!r} not in {NORMALIZATIONS}")
    for source, kind in spec.normalization_by_source.items():
        if source not in WEIGHT_SOURCES or kind not in NORMALIZATIONS:
            problems.append(f"normalization_by_source {source!r}: {kind!r}")
    if not set(spec.weight_sources) <= set(WEIGHT_SOURCES):
        problems.append(f"weight_sources {spec.weight_sources} not within {WEIGHT_SOURCES}")
    if ("offline" in spec.weight_sources) != (spec.offline_pack is not None):
        problems.append("'offline' source and offline_pack must come together")
    if ("imagenet" in spec.weight_sources) != (spec.imagenet is not None):
        problems.append("'imagenet' source and imagenet file info must come together")
    re.compile(spec.block_pattern)
    if problems:
        raise ValueError(f"bad BackboneSpec {spec.name!r}: " + "; ".join(problems))
    _REGISTRY[spec.name] = spec
    return spec


def get_backbone(name: str) -> BackboneSpec:
    """The spec registered under ``name``; ``ValueError`` naming the known ones otherwise.

    >>> get_backbone("mobilenet_v2").feature_dim
    1280
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def list_backbones() -> list[BackboneSpec]:
    """All registered specs, in registration order.

    >>> "small_cnn" in [s.name for s in list_backbones()]
    True
    """
    return list(_REGISTRY.values())


def _snake(class_name: str) -> str:
    # Same rule as keras.src.utils.naming.to_snake_case, which makes Keras' automatic layer names.
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def stable_layer_names(model) -> None:
    """Rename auto-named layers (``re_lu_14``, ``input_layer_3``) to per-model counters (``re_lu``,
    ``re_lu_1``, ...) so the same backbone gets the same layer names however many were built before."""
    explicit = {layer.name for layer in model.layers}
    counters: dict[str, int] = {}
    for layer in model.layers:
        base = _snake(type(layer).__name__)
        if not re.fullmatch(rf"{re.escape(base)}(_\d+)?", layer.name):
            continue
        count = counters.get(base, 0)
        new = base if count == 0 else f"{base}_{count}"
        counters[base] = count + 1
        if new != layer.name and new not in explicit:
            explicit.discard(layer.name)
            layer.name = new
            explicit.add(new)


def load_backbone(spec: BackboneSpec | str, weights: str | None = "offline", image_size: int | None = None):
    """Build a backbone with its weights: a ``keras.Model`` named ``"backbone"``.

    Input: ``(image_size, image_size, 3)`` images *already normalised* with
    ``normalization_layer(spec.normalization_for(weights))``. Output: a 4-D feature map
    ``(N, h, w, spec.feature_dim)``. ``weights``: ``"offline"``, ``"imagenet"``, ``"none"`` or a path to a
    ``.weights.h5`` file (e.g. saved with ``backbone.save_weights``). Anything that cannot load here
    raises :class:`WeightsUnavailable` with what to do instead.

    >>> backbone = load_backbone(get_backbone("small_cnn"), weights="none", image_size=32)
    >>> backbone.name, backbone.output.shape
    ('backbone', (None, 4, 4, 64))
    """
    spec = get_backbone(spec) if isinstance(spec, str) else spec
    image_size = int(image_size or spec.default_size)
    if not spec.min_size <= image_size <= spec.max_size:
        raise ValueError(f"{spec.name} needs image_size in [{spec.min_size}, {spec.max_size}], got {image_size}")
    source = weights_source(weights)
    if source == "run":  # a finished run's backbone: it brings its own architecture and weights
        from .run_backbone import load_run_backbone

        return _named_and_checked(spec, load_run_backbone(spec, weights, image_size))
    if not spec.supports(weights):
        raise WeightsUnavailable(f"{spec.name} has no {source!r} weights (sources: "
                                 f"{', '.join(spec.weight_sources)}); use {alternatives(spec, source)}")
    path = None
    if source == "imagenet":
        path = str(fetch_imagenet_file(spec, image_size))
    elif source in ("offline", "file"):
        ok, reason = availability(spec, weights, image_size)
        if not ok:
            raise WeightsUnavailable(f"cannot load {spec.name} weights {weights!r}: {reason}. "
                                     f"Use {alternatives(spec, source)}.")
        path = str(Path(weights).expanduser()) if source == "file" else None

    try:
        model = spec.builder(image_size, source, path)
        if source == "file":
            check_weights_file_fits(model, path, spec.name)
    except (ValueError, KeyError, OSError, pickle.UnpicklingError) as exc:
        if source == "none":
            raise  # nothing was loaded, so this is a bug, not a weights problem
        what = {"imagenet": f"the ImageNet file {path}", "file": f"the weights file {path}",
                "offline": "the offline pack"}[source]
        hint = " Delete it so it is downloaded again when online." if source == "imagenet" else ""
        raise WeightsUnavailable(f"{what} does not fit {spec.name} ({type(exc).__name__}: {exc}).{hint} "
                                 f"Use {alternatives(spec, source)}.") from exc
    return _named_and_checked(spec, model)


def _named_and_checked(spec: BackboneSpec, model):
    model.name = BACKBONE_LAYER
    stable_layer_names(model)
    shape = tuple(model.output.shape)
    if len(shape) != 4 or shape[-1] != spec.feature_dim:
        raise RuntimeError(f"{spec.name} builder returned output {shape}, expected (N, h, w, {spec.feature_dim})")
    return model

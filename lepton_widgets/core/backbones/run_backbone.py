"""Your own finished runs as backbones: ``weights: "run:<run id or run folder>"``.

A run trained in one scenario seeds another: the new model reuses the source run's feature extractor (the
nested ``backbone`` layer of its ``model.keras``) and gets a fresh head for the new classes. The config names
the architecture family as usual and points the weights at the run, so the same ``RunConfig`` drives the API,
the CLI and the widgets::

    backbone: {name: small_cnn, weights: "run:runs/20261130-101500-digits-1a2b3c", image_size: 32}

``backbone.name`` must be the family the source run was trained with (its config says which; a mismatch
is refused with the right name). Frozen depth then counts that family's blocks exactly as before. A run id
(or unique prefix) is looked up in the default runs folder (``$LEPTON_RUNS`` or ``./runs``); a folder path
works wherever the run lives (the Backbone panel writes folder paths).

What is kept from the source run:

* the backbone's weights, BatchNorm statistics included (a run backbone counts as pretrained, so its
  BatchNorm layers stay frozen, like any pretrained backbone's);
* its input normalisation: :func:`run_normalization` follows the source's own weights (recursively, so a
  run seeded from a run seeded from the offline pack still gets ``torch``), and :func:`load_run_backbone`
  checks that the source model's ``normalize`` layer computes exactly what that kind computes.

The weights identity (:func:`run_fingerprint`) is the run id plus the sha256 of its ``model.keras``, so two
source runs never share cached features.

Refused with a message that says what to do: an unknown run, a run that did not finish (or has no saved
model), an ensemble (several backbones, none to pick), a model without a ``backbone`` layer.

Example:
    >>> is_run_weights("run:runs/abc"), is_run_weights("offline"), run_reference("run:runs/abc")
    (True, False, 'runs/abc')
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .base import WeightsUnavailable, sha256_file
from lepton_widgets.i18n import _

if TYPE_CHECKING:  # annotations only
    from .spec import BackboneSpec

#: The prefix of a ``weights`` value that names a run.
RUN_PREFIX = "run:"


def is_run_weights(weights) -> bool:
    """Whether a ``weights`` value names a run (``"run:<id or folder>"``)."""
    return isinstance(weights, str) and weights.startswith(RUN_PREFIX)


def run_reference(weights: str) -> str:
    """The run id or folder inside a ``"run:..."`` weights value."""
    return weights[len(RUN_PREFIX):].strip()


def run_weights(record_or_path) -> str:
    """The ``weights`` value that uses this run (a ``RunRecord`` or a folder) as backbone: ``run:<folder>``."""
    path = getattr(record_or_path, "path", record_or_path)
    return f"{RUN_PREFIX}{Path(path).resolve()}"


def _unavailable(message: str):
    return WeightsUnavailable(message)


def resolve_run(weights: str):
    """The finished, single-backbone ``RunRecord`` that ``weights`` names; ``WeightsUnavailable`` otherwise."""
    from lepton_widgets.core.runs.store import RunRecord, RunStore

    ref = run_reference(weights)
    if not ref:
        raise _unavailable('weights "run:" names no run; write "run:<run id>" or "run:<run folder>"')
    path = Path(ref).expanduser()
    if path.is_dir():
        record = RunRecord(path)
    else:
        store = RunStore()
        try:
            record = store.open(ref)
        except FileNotFoundError as error:
            raise _unavailable(f"cannot use run {ref!r} as backbone: {error}. Pick a finished run "
                               f"(`lepton runs` lists them) or give its folder: run:/path/to/runs/<id>") from None
    if record.status != "finished":
        raise _unavailable(f"run {record.run_id} is {record.status}, not finished, so it cannot serve as a "
                           f"backbone; pick a finished run")
    if not record.model_path.is_file():
        raise _unavailable(f"run {record.run_id} has no saved model.keras, so it cannot serve as a backbone")
    fusion = record.info.get("fusion") or {}
    if fusion.get("method") == "ensemble":
        raise _unavailable(f"run {record.run_id} is an ensemble of {len(fusion.get('members', []))} runs: it has "
                           f"no single backbone to reuse. Use one of its members, or a soup/distilled run")
    return record


def source_backbone_name(record) -> str:
    """The backbone family a run was trained with (from its config)."""
    return record.config.backbone.name


def _check_family(spec: BackboneSpec, record) -> None:
    source = source_backbone_name(record)
    if source != spec.name:
        raise _unavailable(f"run {record.run_id} was trained with backbone {source!r}, not {spec.name!r}: set "
                           f"backbone.name to {source!r} to use it")


def run_normalization(spec: BackboneSpec, weights: str) -> str:
    """The normalisation kind of the source run's backbone (followed through runs seeded from runs)."""
    from .registry import get_backbone

    record = resolve_run(weights)
    _check_family(spec, record)
    source = record.config.backbone
    return get_backbone(source.name).normalization_for(source.weights)


def run_fingerprint(spec: BackboneSpec, weights: str) -> str:
    """``run:<run id>:sha256:<hex of model.keras>``: a stable identity for feature-cache keys."""
    record = resolve_run(weights)
    _check_family(spec, record)
    return f"run:{record.run_id}:sha256:{sha256_file(record.model_path)}"


def run_availability(spec: BackboneSpec, weights: str, image_size: int | None = None) -> tuple[bool, str]:
    """Whether the run can serve as ``spec``'s backbone here, without loading its model."""
    try:
        record = resolve_run(weights)
        _check_family(spec, record)
    except WeightsUnavailable as error:
        return False, str(error)
    cfg = record.config
    accuracy = record.metrics.get("accuracy")
    if isinstance(accuracy, (int, float)):
        return True, _("run {run} ({backbone} trained on {dataset} at {size} px, test accuracy {accuracy})").format(
            run=record.run_id, backbone=cfg.backbone.name, dataset=cfg.data.dataset, size=cfg.backbone.image_size,
            accuracy=f"{accuracy:.3f}")
    return True, _("run {run} ({backbone} trained on {dataset} at {size} px)").format(
        run=record.run_id, backbone=cfg.backbone.name, dataset=cfg.data.dataset, size=cfg.backbone.image_size)


def _same_normalization(layer, kind: str) -> bool:
    """Whether ``layer`` maps pixels exactly as ``normalization_layer(kind)`` does (checked on a probe)."""
    from .normalization import normalization_layer

    probe = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    expected = np.asarray(normalization_layer(kind)(probe))
    return bool(np.allclose(np.asarray(layer(probe)), expected, atol=1e-4))


def _resized(backbone, image_size: int):
    """The same backbone (same weights) taking ``image_size`` inputs: a functional model's input size is fixed
    in its graph, so rebuild the graph from its config with a new input shape and copy the weights."""
    import keras

    config = keras.saving.serialize_keras_object(backbone)
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [None, image_size, image_size, 3]
    resized = keras.saving.deserialize_keras_object(config, safe_mode=True)
    resized.set_weights(backbone.get_weights())
    return resized


def load_run_backbone(spec: BackboneSpec, weights: str, image_size: int):
    """The source run's backbone (a ``keras.Model``, its trained weights), checked against ``spec``.

    Raises ``WeightsUnavailable`` for a run that cannot serve (see the module docstring).
    """
    from .registry import BACKBONE_LAYER

    record = resolve_run(weights)
    _check_family(spec, record)
    try:
        full = record.load_model()  # safe mode, with Lepton's own layers registered
    except Exception as error:  # a damaged or foreign file: say which run, not a Keras traceback
        raise _unavailable(f"cannot load the model of run {record.run_id} ({type(error).__name__}: {error})") from error
    try:
        backbone = full.get_layer(BACKBONE_LAYER)
    except ValueError:
        raise _unavailable(f"the model of run {record.run_id} has no {BACKBONE_LAYER!r} layer, so it has no single "
                           f"backbone to reuse (a fused or foreign model?)") from None
    kind = run_normalization(spec, weights)
    names = {layer.name for layer in full.layers}
    if "normalize" in names and not _same_normalization(full.get_layer("normalize"), kind):
        raise _unavailable(f"run {record.run_id}'s normalize layer does not compute {kind!r} normalisation, as its "
                           f"config says it should; it cannot be reused safely")
    source_size = int(backbone.input_shape[1])
    if source_size != image_size:
        try:
            backbone = _resized(backbone, image_size)
        except Exception as error:
            raise _unavailable(f"run {record.run_id}'s backbone takes {source_size} px images and could not be "
                               f"rebuilt for {image_size} px ({type(error).__name__}: {error}); set "
                               f"backbone.image_size to {source_size}") from error
    return backbone

"""Boundary cache: fine-tune on the stored output of the frozen blocks instead of recomputing it every step.

When fine-tuning leaves the first ``frozen_depth`` blocks frozen and no augmentation is on, what those blocks
output for an image never changes: their weights are fixed and their BatchNorm layers run in inference mode
(``model.freeze_to``). So the frozen part runs once over the train and val rows, its output (the *boundary*
activations) is stored on disk in float16, and only the unfrozen blocks and the head train on it. For the last
two MobileNetV2 blocks at 96 px that is a 3x3x160 tensor per image, and an epoch costs a small fraction of one
through the whole network (``benchmarks/boundary_cache.py``).

The boundary is the one tensor that carries everything the trainable part needs. A residual connection that
crosses a block border would need a second tensor, so the cut moves towards the input until a single tensor
crosses it (in MobileNetV2 every block border is already one: each block's skip connection ends inside it).
The trainable model is built from the *same layer objects* as the full model, so once it has trained, the full
model holds the new weights and export, prediction and Grad-CAM see no difference.

Files are keyed like the feature cache: the rows (content hashes and labels, in order), the backbone, image
size, normalisation, frozen depth and boundary layer, plus a digest of the frozen part's actual weights (a
reloaded run whose lower blocks were fine-tuned before never reads a file made from the pretrained ones).
They are written atomically (``core/base/atomic.py``). float16 halves the disk and memory; it rounds each
activation to about 3 significant digits, which is why a cached run is close to, not bitwise equal to, a
recomputed one (``tests/test_boundary_cache.py`` states the tolerance).

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> from lepton_widgets.core.tasks.image.model import build_transfer_model
    >>> cfg = RunConfig.from_dict({"backbone": {"name": "small_cnn", "weights": "none", "image_size": 32,
    ...                                         "frozen_depth": 2}})
    >>> tm = build_transfer_model(cfg, num_classes=3)
    >>> split = split_at_boundary(tm)
    >>> split.layer, split.frozen_blocks, tuple(split.shape)
    ('block_3_conv', 2, (8, 8, 32))
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from lepton_widgets.core.base.atomic import atomic_write
from lepton_widgets.core.base.events import Event
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.core.data import SampleTable
from lepton_widgets.core.tasks.image.feature_cache import extract_features, feature_key, forward_function, rows_hash
from lepton_widgets.i18n import _

#: Above this many bytes of float16 activations (train + val) the boundary is not cached: images stream
#: through the whole network as before. 4 GiB is all of Fashion-MNIST's 60,000 images at 96 px cut before
#: MobileNetV2's block_6 (12x12x32); deeper cuts are far smaller.
MAX_CACHE_BYTES = 4 << 30
CACHE_DTYPE = np.float16
#: Activations up to this size are held in memory while training (``boundary_batches``); larger ones are read
#: from the memory-mapped file batch by batch.
IN_MEMORY_BYTES = 512 << 20


@dataclass
class TrainingNote(Event):
    """Says in plain words how fine-tuning feeds its images: from the boundary cache or through the whole
    network (``boundary_cache`` tells which), and why. Goes to the run's ``events.jsonl`` like every event."""

    message: str = ""
    boundary_cache: bool = False
    kind = "training_note"


@dataclass
class BoundarySplit:
    """The full model cut at the frozen boundary, sharing its layer objects.

    ``lower`` maps raw pixels to the boundary activations (normalisation and the frozen blocks);
    ``upper`` maps boundary activations to class probabilities (the unfrozen blocks and the head). Training
    ``upper`` trains the full model's own layers.
    """

    lower: keras.Model
    upper: keras.Model
    layer: str  # the first backbone layer above the boundary
    frozen_blocks: int
    shape: tuple[int, ...]

    def weights_digest(self) -> str:
        """sha256 of the lower part's weights: what the cached activations are a function of."""
        digest = hashlib.sha256()
        for weight in self.lower.weights:
            value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight.value))
            digest.update(f"{weight.path}:{value.dtype}:{value.shape}\n".encode())
            digest.update(value.tobytes())
        return digest.hexdigest()


def split_at_boundary(tm) -> Optional[BoundarySplit]:
    """Cut ``tm`` (a ``TransferModel``) just below its first unfrozen block, or lower where a residual
    connection crosses that border. ``None`` when nothing is frozen, everything is, or no single tensor
    separates the frozen layers from the others."""
    if not 0 < tm.frozen_depth < tm.n_blocks:
        return None
    backbone = tm.backbone
    layers = backbone.layers
    position = {layer.name: i for i, layer in enumerate(layers)}
    first_trainable = list(tm.blocks.values())[tm.frozen_depth][0]
    cut = _single_tensor_cut(layers, position[first_trainable], backbone.outputs)
    if cut is None:
        return None
    index, tensor = cut
    # The outer model feeds the backbone from its normalisation layer, and the head reads its output. Keras 3
    # builds a functional model between any two tensors of a graph, reusing the layers on the way.
    node = backbone._inbound_nodes[0]
    feed, backbone_out = node.input_tensors[0], node.output_tensors[0]
    pixels = keras.Input(tm.model.inputs[0].shape[1:], name="image")
    prefix = keras.Model(tm.model.inputs[0], feed, name="prefix")
    lower = keras.Model(pixels, keras.Model(backbone.inputs[0], tensor, name="frozen_blocks")(prefix(pixels)),
                        name="lower")
    boundary = keras.Input(tensor.shape[1:], name="boundary")
    # Single tensors in and out (not one-element lists), so calling one on the other matches its structure.
    upper_blocks = keras.Model(tensor, backbone.outputs[0], name="unfrozen_blocks")
    head = keras.Model(backbone_out, tm.model.outputs[0], name="head")
    upper = keras.Model(boundary, head(upper_blocks(boundary)), name="upper")
    return BoundarySplit(lower=lower, upper=upper, layer=layers[index].name, frozen_blocks=tm.frozen_depth,
                         shape=tuple(int(d) for d in tensor.shape[1:]))


def _single_tensor_cut(layers, start: int, outputs) -> Optional[tuple[int, object]]:
    """The highest cut at or below layer ``start`` (in the graph's layer order) that only one tensor crosses:
    ``(index of the first layer above it, that tensor)``. A layer below the cut whose output a layer above
    reads is a crossing; so is one that is a model output."""
    producer = {}
    for i, layer in enumerate(layers):
        for tensor in layer._inbound_nodes[0].output_tensors:
            producer[id(tensor)] = i
    reads = [[id(t) for t in layer._inbound_nodes[0].input_tensors] for layer in layers]
    out_ids = {id(t) for t in outputs}
    for cut in range(start, 1, -1):  # cut 1 would leave the input layer alone below: nothing to cache
        crossing = {t for above in reads[cut:] for t in above if producer.get(t, cut) < cut}
        crossing |= {t for t in out_ids if producer.get(t, cut) < cut}
        if len(crossing) == 1:
            (tensor_id,) = crossing
            tensor = next(t for t in layers[producer[tensor_id]]._inbound_nodes[0].output_tensors
                          if id(t) == tensor_id)
            return cut, tensor
    return None


@dataclass
class BoundaryData:
    """What ``_fit_full_model`` trains on when the boundary is cached: ``model`` (the upper part), batches
    of (activations, labels) for train (shuffled like ``make_dataset``) and val (``None`` when empty), and
    whether every activation came from the cache (``hit``)."""

    model: keras.Model
    train: tf.data.Dataset
    val: Optional[tf.data.Dataset]
    hit: bool
    #: Keras ``steps_per_execution`` for ``model``: a step on boundary activations is small enough that
    #: Keras' per-call overhead counts (measured 1.5x per epoch for MobileNetV2's last two blocks at 96 px).
    steps_per_execution: int = 8


def boundary_cache_allowed(cfg) -> bool:
    """The config allows fine-tuning on the boundary cache, by the feature cache's rule
    (``training.uses_feature_cache``): the cache is not switched off, no augmentation (each epoch would show
    new pixels), no adversarial training (attacks need gradients down to the pixels), and pretrained weights
    (random ones are a function of the seed; a network from scratch rarely freezes blocks)."""
    return (cfg.train.feature_cache == "auto" and not cfg.augment.active and cfg.train.adversarial == "none"
            and cfg.backbone.weights != "none")


def boundary_training_data(tm, data, cfg, job: Optional[Job] = None) -> Optional[BoundaryData]:
    """Boundary-cached train/val batches and the model to fit on them, or ``None``: stream the images through
    ``tm.model`` as usual. Either way, when some blocks are frozen, a :class:`TrainingNote` says which and why.
    """
    job = job or Job()
    if not 0 < tm.frozen_depth < tm.n_blocks:
        return None  # nothing frozen to skip (or nothing to train: the head phase has its own cache)
    if cfg.augment.active:
        job.emit(TrainingNote(run_id=job.run_id, message=_(
            "Augmentation is on, so every training picture goes through the whole network at every step, "
            "frozen blocks included: each epoch shows new variations of the pictures, so their output cannot "
            "be stored once.")))
        return None
    if not boundary_cache_allowed(cfg):
        return None
    try:
        split = split_at_boundary(tm)
    except ValueError:  # Keras could not build a model between these tensors: stream, as without the cache
        split = None
    if split is None:
        return None
    tables = {name: data.split(name) for name in ("train", "val") if len(data.split(name))}
    needed = sum(len(t) for t in tables.values()) * int(np.prod(split.shape)) * np.dtype(CACHE_DTYPE).itemsize
    folder = cache_dir("boundary")
    if needed > min(MAX_CACHE_BYTES, shutil.disk_usage(folder).free // 2):
        job.emit(TrainingNote(run_id=job.run_id, message=_(
            "The output of the frozen blocks would take {size} MB on disk, too much to store: every training "
            "picture goes through the whole network at every step.").format(size=f"{needed / 1e6:,.0f}")))
        return None
    activations, hit = cached_boundary_activations(split, tables, cfg, job)
    if hit:
        message = _("Fine-tuning on the stored output of the {frozen} frozen blocks, saved by an earlier run: "
                    "they do not run again, only the blocks that learn do.")
    else:
        message = _("Fine-tuning on the stored output of the {frozen} frozen blocks: they ran once over "
                    "{count} pictures, and from now on only the blocks that learn run at every step.")
    job.emit(TrainingNote(run_id=job.run_id, boundary_cache=True, message=message.format(
        frozen=split.frozen_blocks, count=sum(len(t) for t in tables.values()))))
    labels = {name: table.label_indices().astype("int32") for name, table in tables.items()}
    batch = cfg.train.batch_size
    train = boundary_batches(activations["train"], labels["train"], batch, shuffle_seed=cfg.seed)
    val = boundary_batches(activations["val"], labels["val"], batch) if "val" in tables else None
    return BoundaryData(model=split.upper, train=train, val=val, hit=hit)


def cached_boundary_activations(split: BoundarySplit, tables: dict[str, SampleTable], cfg,
                                job: Optional[Job] = None) -> tuple[dict[str, np.ndarray], bool]:
    """Each table's boundary activations (float16 read-only memory maps), from the cache or computed now
    through ``split.lower`` and stored atomically. Returns ``({name: activations}, every one was cached)``."""
    from lepton_widgets.core.backbones import get_backbone

    size = cfg.backbone.image_size
    digest = split.weights_digest()
    spec = get_backbone(cfg.backbone.name)
    found, forward = {}, None
    for name, table in tables.items():
        key = feature_key(kind="boundary", rows=rows_hash(table), backbone=cfg.backbone.name, image_size=size,
                          normalization=spec.normalization_for(cfg.backbone.weights),
                          frozen_depth=split.frozen_blocks, boundary=split.layer, weights=digest,
                          dtype=np.dtype(CACHE_DTYPE).name)
        path = cache_dir("boundary") / f"{key}.npy"
        found[name] = _load_valid(path, (len(table), *split.shape))
        if found[name] is None:
            forward = forward or forward_function(split.lower, size)
            atomic_write(path, lambda out, table=table, name=name: extract_features(
                split.lower, table, size, cfg.train.batch_size, job, task=f"extract features ({name})", out=out,
                forward=forward, dtype=CACHE_DTYPE), suffix=".npy")
            found[name] = np.load(path, mmap_mode="r")
    return found, forward is None




def _load_valid(path: Path, shape: tuple[int, ...]) -> Optional[np.ndarray]:
    """The cached array at ``path`` when it exists with this shape and dtype; ``None`` otherwise (a damaged or
    stale file is then recomputed and atomically replaced)."""
    if not path.exists():
        return None
    try:
        values = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return values if values.shape == shape and values.dtype == CACHE_DTYPE else None


def boundary_batches(activations: np.ndarray, labels: np.ndarray, batch: int,
                     shuffle_seed: Optional[int] = None) -> tf.data.Dataset:
    """Batches of (float32 activations, labels), gathered by row index.

    The row indices are shuffled exactly as ``make_dataset(shuffle=True, seed=...)`` shuffles its
    ``(index, label)`` pairs (same structure, size and seed), so a cached run sees the same batches in the
    same order as a run that streams the images. Up to ``IN_MEMORY_BYTES`` the float16 array is held as one
    tensor and gathered inside the graph (a Python call per batch costs more than the small batch itself);
    above it, rows are read from the memory map per batch, so memory stays bounded.
    """
    rows = tf.data.Dataset.from_tensor_slices((np.arange(len(labels), dtype=np.int64), labels))
    if shuffle_seed is not None:
        rows = rows.shuffle(len(labels), seed=shuffle_seed, reshuffle_each_iteration=True)
    shape = activations.shape[1:]
    if activations.nbytes <= IN_MEMORY_BYTES:
        table = tf.constant(np.asarray(activations))

        def gather(index, label):
            return tf.cast(tf.gather(table, index), tf.float32), label
    else:
        def gather(index, label):
            x = tf.numpy_function(lambda i: activations[i].astype(np.float32), [index], tf.float32)
            x.set_shape((None, *shape))
            return x, label

    return rows.batch(batch).map(gather).prefetch(tf.data.AUTOTUNE)

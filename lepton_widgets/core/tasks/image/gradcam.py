"""Grad-CAM for our transfer models: where in the image did the backbone see the evidence for a class?

The full model is a chain: image (0..255) -> [augmentation] -> normalisation -> ``backbone`` (a nested
functional model with a 4-D feature map out) -> ``pool`` -> ``head_dropout`` -> ``classifier``. Grad-CAM
weights each channel of the backbone's feature map by the mean gradient of the class score over that
channel, sums the channels and keeps the positive part (Selvaraju et al., 2017).

Why not ``keras.Model(model.inputs, [model.get_layer("backbone").output, model.output])``: in Keras 3
(3.15 checked) a nested model's ``.output`` belongs to its own inner graph, so that raises "Output ... is
not connected to inputs". Instead the chain is run layer by layer under the tape, calling the very same
layer objects (same weights, no new graph nodes), in inference mode.

The class score is the classifier's *logit*, not its softmax output: a confident softmax saturates
(gradients near 0) and gives flat or noisy maps, which is exactly the case for the examples people click.

Example:
    >>> import numpy as np
    >>> from lepton_widgets.config import RunConfig
    >>> from lepton_widgets.core.tasks.image.model import build_transfer_model
    >>> cfg = RunConfig.from_dict({"backbone": {"name": "small_cnn", "weights": "none", "image_size": 32}})
    >>> model = build_transfer_model(cfg, num_classes=3).model
    >>> images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    >>> result = gradcam(model, images)
    >>> result.heatmaps.shape, result.probabilities.shape
    ((2, 32, 32), (2, 3))
    >>> overlay(images[0].astype("uint8"), result.heatmaps[0]).dtype.name
    'uint8'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from lepton_widgets.core.backbones.registry import BACKBONE_LAYER
from lepton_widgets.core.tasks.image.model import CLASSIFIER_LAYER


@dataclass
class GradCamResult:
    """Heatmaps (N, H, W) in [0, 1] at the images' size, the explained class of each image, and the
    model's probabilities (N, classes) from the same forward pass."""

    heatmaps: np.ndarray
    class_indices: np.ndarray
    probabilities: np.ndarray


def gradcam(model: keras.Model, images: np.ndarray, class_index: Optional[int | Sequence[int]] = None
            ) -> GradCamResult:
    """Grad-CAM heatmaps for ``images`` (N, H, W, 3), float or uint8 in [0, 255].

    ``class_index``: the class to explain, one for all images or one per image; by default each image's
    predicted class ("why did it say that?"). Images of another size than the model input are resized to
    it (bilinear, like the data pipeline); heatmaps come back at the images' own size.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[np.newaxis]
    height, width = images.shape[1:3]
    size = model.input_shape[1:3]
    batch = tf.convert_to_tensor(images)
    if (height, width) != tuple(size):
        batch = tf.image.resize(batch, size, antialias=True)

    with tf.GradientTape() as tape:
        features, logits = _forward(model, batch, tape)
        probabilities = tf.nn.softmax(logits)
        chosen = tf.argmax(logits, axis=1, output_type=tf.int32) if class_index is None else \
            tf.constant(np.broadcast_to(np.asarray(class_index, np.int32), (len(images),)))
        scores = tf.gather(logits, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(scores, features)  # images are independent, so one gradient call serves the batch

    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)            # (N, 1, 1, C)
    cams = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., tf.newaxis]
    cams = tf.image.resize(cams, (height, width), method="bilinear")[..., 0].numpy()
    peak = cams.reshape(len(cams), -1).max(axis=1)
    # A map with no positive evidence stays all zero rather than being blown up from rounding noise.
    cams = np.where(peak[:, None, None] > 1e-12, cams / np.maximum(peak, 1e-12)[:, None, None], 0.0)
    return GradCamResult(heatmaps=np.clip(cams, 0.0, 1.0).astype(np.float32),
                         class_indices=chosen.numpy(), probabilities=probabilities.numpy())


def _forward(model: keras.Model, batch: tf.Tensor, tape: tf.GradientTape) -> tuple[tf.Tensor, tf.Tensor]:
    """Run the model's layer chain in inference mode; return the backbone's feature map and the logits."""
    names = [layer.name for layer in model.layers]
    if BACKBONE_LAYER not in names or names[-1] != CLASSIFIER_LAYER:
        raise ValueError(f"Grad-CAM needs a lepton transfer model (layers {BACKBONE_LAYER!r} ... "
                         f"{CLASSIFIER_LAYER!r}); got layers {names}")
    x, features = batch, None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer.name == CLASSIFIER_LAYER:
            logits = tf.matmul(x, layer.kernel)
            return features, logits + layer.bias if layer.use_bias else logits
        x = layer(x, training=False)
        if layer.name == BACKBONE_LAYER:
            if len(x.shape) != 4:
                raise ValueError(f"the backbone must output a 4-D feature map, got shape {x.shape}")
            tape.watch(x)
            features = x
    raise AssertionError("unreachable: the classifier is the last layer")


def colormap(values: np.ndarray) -> np.ndarray:
    """A jet-like colour map: values in [0, 1] -> uint8 RGB (blue = cold, red = hot), no matplotlib."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)[..., np.newaxis]
    rgb = np.clip(1.5 - np.abs(4.0 * v - np.array([3.0, 2.0, 1.0], np.float32)), 0.0, 1.0)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a heatmap (H, W) in [0, 1] over an image (H', W', 3 or H', W') into uint8 RGB at the image's size.

    The heatmap's opacity grows with its value, so cold regions keep the original pixels visible.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., np.newaxis], 3, axis=-1)
    image = image[..., :3].astype(np.float32)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != image.shape[:2]:
        heat = tf.image.resize(heat[..., np.newaxis], image.shape[:2], method="bilinear")[..., 0].numpy()
    heat = np.clip(heat, 0.0, 1.0)
    opacity = (alpha * heat)[..., np.newaxis]
    blended = image * (1.0 - opacity) + colormap(heat).astype(np.float32) * opacity
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)

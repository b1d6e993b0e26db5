"""What export and model cards need from a picture (or sound) run: its check batch, the model without its
augmentation layers, and the card's words for pixels.

:mod:`lepton_widgets.core.export.verify` writes, reloads and compares every run the same way; the picture
task answers its :meth:`~lepton_widgets.core.tasks.base.Task.export_inputs` and card hooks from here.
Sounds are picture runs on spectrograms, so the sound task answers the same way.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> card = {"image_size": 64, "backbone": {"name": "small_cnn", "weights": "none", "frozen_depth": 0,
    ...                                        "head_units": 32, "image_size": 64}}
    >>> task_named("image").card_model_line(card)
    '- Backbone: `small_cnn`, weights `none`, frozen depth 0, head units 32, 64 px'
    >>> card_size_note(card)
    'Trained at 64x64 px; larger images are downscaled to that size.'
"""

from __future__ import annotations

import numpy as np

NOT_VALIDATED = ("images of other classes (it will still pick one of its classes), other cameras, lighting or "
                 "domains than the training data, deliberately altered images")
INPUT = "float32 RGB pixels in [0, 255], shape (N, S, S, 3)"


def export_inputs(record, n: int, rng):
    """``n`` seeded test images (and training images for int8) at the run's size, through its pipeline."""
    from lepton_widgets.core.data import make_dataset, prepare_data
    from lepton_widgets.core.tasks.exporting import REPRESENTATIVE_ROWS, ReferenceInputs, data_info, rows, sample

    cfg = record.config
    prepared = prepare_data(cfg.data, cfg.seed)
    size = cfg.backbone.image_size
    test, train = prepared.split("test"), prepared.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split; pass images to export_model instead")
    test = rows(test, sample(len(test), n, rng))
    train = rows(train, sample(len(train), REPRESENTATIVE_ROWS, rng))
    images = _pixels(make_dataset(test, size, 64, with_labels=False))
    calibration = _pixels(make_dataset(train, size, 64, with_labels=False)) if len(train) else None
    # "image" also for sound runs: their exported model is the picture model, fed spectrograms
    meta = {"modality": "image", "image_size": size, "input": INPUT}
    return ReferenceInputs("image", images, test.label_indices(), calibration, data_info(record, prepared),
                           image_size=size, meta=meta)


def _pixels(dataset) -> np.ndarray:
    return np.concatenate([np.asarray(batch) for batch in dataset], axis=0)


def inference_model(model):
    """lepton's linear picture chain (input -> [augmentation] -> normalise -> backbone -> head) rebuilt
    without its augmentation layers, every other layer shared; ``model`` itself when it has none. A model
    that is no picture chain (the registry's default for a model no task owns) only gets its Normalization
    layers as constants."""
    import keras

    from lepton_widgets.core.tasks.exporting import constant_normalization, is_augmentation, normalization_as_constants

    if isinstance(model.input, (dict, list, tuple)) or len(model.input.shape) != 4:
        return normalization_as_constants(model)

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    kept = [constant_normalization(layer) for layer in layers if not is_augmentation(layer)]
    if kept == layers:
        return model
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for layer in kept:
        x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def card_trained_at(card: dict) -> str:
    size = card["image_size"]
    return f" at {size}x{size} px; larger images are downscaled to that size and fine detail is lost."


def card_size_note(card: dict) -> str:
    size = card["image_size"]
    return f"Trained at {size}x{size} px; larger images are downscaled to that size."


def card_model_line(card: dict) -> str:
    backbone = card["backbone"]
    return (f"- Backbone: `{backbone['name']}`, weights `{backbone['weights']}`, frozen depth "
            f"{backbone['frozen_depth']}, head units {backbone['head_units']}, {backbone['image_size']} px")

"""The tf.data pipeline: stream a :class:`SampleTable` as batches of RGB float images in [0, 255].

Nothing is materialised at model resolution. File rows are read and decoded one by one in parallel;
array rows stay ``uint8`` at their stored size (28x28 for Fashion-MNIST, about 47 MB for all 60,000) and
are resized a batch at a time, which is much faster than per image. Shuffling permutes row indices (cheap,
so the buffer holds every row) before anything is decoded. Images are resized to a square without keeping
the aspect ratio, like ``keras.utils.image_dataset_from_directory``.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data
    >>> prepared = prepare_data(DataConfig(dataset="digits", max_per_class=10), seed=0)
    >>> images, labels = next(iter(make_dataset(prepared.split("train"), image_size=32, batch_size=4)))
    >>> images.shape, images.dtype.name, labels.dtype.name
    (TensorShape([4, 32, 32, 3]), 'float32', 'int32')
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from lepton_widgets.core.data.table import SampleTable


def make_dataset(table: SampleTable, image_size: int, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 with_labels: bool = True) -> tf.data.Dataset:
    """Batches of ``(images, labels)`` (or ``images`` only when ``with_labels=False``).

    Images are float32 RGB in [0, 255], shape (B, image_size, image_size, 3); labels are int32 indices into
    ``table.class_names``. With ``shuffle=False`` the order is the table's row order; with ``shuffle=True`` the
    rows are reshuffled every epoch from ``seed``.
    """
    if len(table) == 0:
        raise ValueError("make_dataset needs at least one row")
    # Unlabelled rows (files to predict) have no class index: only look labels up when they are wanted.
    labels = table.label_indices().astype(np.int32) if with_labels else np.zeros(len(table), np.int32)
    array_rows = table.frame["array_index"].to_numpy(dtype=np.int64) >= 0
    if array_rows.all() and table.arrays is not None:
        return _array_dataset(table, labels, image_size, batch_size, shuffle, seed, with_labels)
    if not array_rows.any():
        return _file_dataset(table, labels, image_size, batch_size, shuffle, seed, with_labels)
    raise ValueError("a table must hold either file rows or array rows, not both")


def _shuffled(ds: tf.data.Dataset, n: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    return ds.shuffle(n, seed=seed, reshuffle_each_iteration=True) if shuffle else ds


def _array_dataset(table, labels, image_size, batch_size, shuffle, seed, with_labels) -> tf.data.Dataset:
    # Only this table's rows, still uint8 at stored size: memory is bounded by the source, not image_size.
    pixels = table.arrays[table.frame["array_index"].to_numpy(dtype=np.int64)]
    if pixels.ndim == 3:
        pixels = pixels[..., np.newaxis]
    if pixels.dtype != np.uint8:
        raise ValueError(f"table.arrays must be uint8, got {pixels.dtype}")
    pixels = tf.constant(pixels)
    channels = pixels.shape[-1]
    size = (image_size, image_size)

    def load(index, label):
        batch = tf.image.resize(tf.cast(tf.gather(pixels, index), tf.float32), size, antialias=True)
        batch = tf.image.grayscale_to_rgb(batch) if channels == 1 else batch[..., :3]
        return (batch, label) if with_labels else batch

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(labels), dtype=np.int64), labels))
    ds = _shuffled(ds, len(labels), shuffle, seed).batch(batch_size)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _file_dataset(table, labels, image_size, batch_size, shuffle, seed, with_labels) -> tf.data.Dataset:
    # Bytes, not str: any file name the OS accepts (unicode or not) reaches tf.io.read_file unchanged.
    paths = np.array([os.fsencode(p) for p in table.frame["path"]], dtype=object)
    size = (image_size, image_size)

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(tf.cast(image, tf.float32), size, antialias=True)
        image.set_shape((image_size, image_size, 3))
        return (image, label) if with_labels else image

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = _shuffled(ds, len(labels), shuffle, seed)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)

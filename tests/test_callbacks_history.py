"""The chance-aware callbacks keep Keras' history rectangular: every epoch has every column."""

from __future__ import annotations

import numpy as np

import keras

from lepton_widgets.core.base.callbacks import PlateauAfterLearning


def test_plateau_skipped_at_chance_still_records_the_learning_rate_of_every_epoch():
    # A chance of 1.0 puts every epoch "at chance", so the plateau logic is skipped on each one; the
    # tuner then reads history row by row and needs 'learning_rate' for every epoch (it failed with
    # IndexError when the skipped epochs had none).
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    plateau = PlateauAfterLearning(chance=1.0, monitor="val_loss", patience=0, factor=0.5)
    history = model.fit(x, y, validation_split=0.25, epochs=3, verbose=0, callbacks=[plateau])
    assert plateau.skipped_at_chance == 3
    lengths = {key: len(values) for key, values in history.history.items()}
    assert lengths.get("learning_rate") == 3, lengths
    assert set(lengths.values()) == {3}, lengths
    assert np.allclose(history.history["learning_rate"], 1e-3)

"""A fresh process (``lepton eval``, the Predict app) must know Lepton's own Keras layers before loading a model.

``core/custom_layers.py`` sits at the bottom of the layers, so it cannot name the task modules that define the
layers; the picture and sound task packages add their loaders when ``lepton_widgets`` is imported."""

import subprocess
import sys

CODE = """
import keras
from lepton_widgets.core.custom_layers import register_custom_layers
names = ("lepton>RandomGain", "lepton>RandomTimeMask", "lepton>CaffePreprocess")
before = [keras.saving.get_registered_object(n) is not None for n in names]
register_custom_layers()
after = [getattr(keras.saving.get_registered_object(n), "__name__", None) for n in names]
print(before, after)
"""


def test_a_fresh_process_knows_sound_and_picture_layers_after_register_custom_layers():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # Not known before (importing lepton_widgets stays light), known after: the loaders did it.
    assert out.stdout.strip().splitlines()[-1] == (
        "[False, False, False] ['RandomGain', 'RandomTimeMask', 'CaffePreprocess']")

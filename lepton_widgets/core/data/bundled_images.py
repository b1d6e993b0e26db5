"""scikit-image's bundled pictures (they load offline) and seeded random patches cut from them.

The scenario packs (``medical_demo``, ``defects_synthetic``, ``traffic_signs_synthetic``) build their
images from these real photos, so what a model sees has real texture even where the task is made up.
Only images that ship inside the scikit-image wheel are used; the others need ``pooch`` and a network.

Example:
    >>> import numpy as np
    >>> brick = bundled_image("brick")
    >>> brick.shape, brick.dtype.name, brick.flags.writeable
    ((512, 512), 'uint8', False)
    >>> patch = random_patch(np.random.default_rng(0), brick, size=32, scale=(1.0, 2.0))
    >>> patch.shape, patch.dtype.name
    ((32, 32), 'uint8')
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from lepton_widgets.i18n import N_

#: Names in ``skimage.data`` that load from the installed package itself (checked on scikit-image 0.26).
OFFLINE_IMAGES = ("retina", "immunohistochemistry", "cell", "brick", "grass", "gravel", "coffee", "chelsea",
                  "astronaut", "rocket", "camera", "coins", "moon", "hubble_deep_field")
SKIMAGE_LICENCE = N_("scikit-image bundled data (public domain / CC0 / CC BY; see skimage/data/README.txt)")


@functools.lru_cache(maxsize=None)
def bundled_image(name: str) -> np.ndarray:
    """``skimage.data.<name>()`` as a read-only ``uint8`` array (cached: the retina takes 0.5 s to decode)."""
    if name not in OFFLINE_IMAGES:
        raise ValueError(f"{name!r} is not one of the offline scikit-image pictures {OFFLINE_IMAGES}")
    import skimage.data  # deferred: importing scikit-image costs about a second

    image = np.ascontiguousarray(getattr(skimage.data, name)(), dtype=np.uint8)
    image.setflags(write=False)  # shared by every caller through the cache
    return image


def random_patch(rng: np.random.Generator, image: np.ndarray, size: int,
                 scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """A ``size`` x ``size`` patch: a square of ``size * s`` pixels (``s`` drawn from ``scale``, capped by the
    image) at a random place in ``image``, resized to ``size``."""
    height, width = image.shape[:2]
    side = max(2, min(round(size * rng.uniform(*scale)), height, width))
    y = int(rng.integers(0, height - side + 1))
    x = int(rng.integers(0, width - side + 1))
    crop = image[y:y + side, x:x + side]
    if side == size:
        return np.array(crop)
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BILINEAR))

"""``medical_demo``: an offline stand-in for a medical image task, cut from scikit-image's real pictures.

There is no real medical classification dataset offline (see /work/shared/DATA.md). scikit-image ships
three real biomedical pictures, so this demo asks an honest question about them: *which picture did this
patch come from?* The classes are the source images, not diagnoses:

* ``retina``: a colour fundus photograph (``skimage.data.retina``, 1411x1411),
* ``immunohistochemistry``: a stained tissue section (``skimage.data.immunohistochemistry``, 512x512),
* ``cell``: a cell in saline under a microscope (``skimage.data.cell``, 660x550, grey).

Patches are seeded random squares at random scales, flips, quarter turns, gamma, contrast and brightness,
turned grey (``cell`` is grey, so colour alone would give the answer away and the model would learn
nothing about texture); the ``cell`` picture is mostly saline around one cell, so most of its patches
show that background, as a real microscope slide would. Every class comes from ONE image, so train and
test patches can overlap: test accuracy here says the pipeline works, not that a model would generalise
to new patients. Use ``medmnist`` with a downloaded MedMNIST file for real medical data.

Example:
    >>> images, labels = make_medical_patches(per_class=4, size=32, seed=0)
    >>> images.shape, images.dtype.name, labels.tolist()
    ((12, 32, 32), 'uint8', [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    >>> bool((make_medical_patches(per_class=4, size=32, seed=0)[0] == images).all())
    True
"""

from __future__ import annotations


import numpy as np
from PIL import Image

from lepton_widgets.core.data.bundled_images import SKIMAGE_LICENCE, bundled_image, random_patch
from lepton_widgets.core.data.generated import generated_loader
from lepton_widgets.core.data.registry import DatasetSpec, register_dataset
from lepton_widgets.i18n import N_

CLASS_NAMES = ("retina", "immunohistochemistry", "cell")
#: Patches per class and their side in pixels for the registered dataset (a fixed seed: the same data each run).
PER_CLASS, SIZE, SEED = 200, 64, 0
#: The fundus photo is a disc on black: a patch with more dark pixels than this share is drawn again.
_MAX_DARK_SHARE = 0.05


def _grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else np.asarray(Image.fromarray(image).convert("L"))


def _patch(rng: np.random.Generator, source: np.ndarray, size: int) -> np.ndarray:
    for _ in range(50):
        patch = random_patch(rng, source, size, scale=(0.75, 2.5))
        if (patch < 20).mean() <= _MAX_DARK_SHARE:
            break
    patch = np.rot90(patch, int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    # Gamma, contrast and brightness jitter: the cell picture is much darker than the others, and exposure
    # must not be what tells the classes apart.
    values = (patch.astype(np.float32) / 255.0) ** rng.uniform(0.7, 1.4)
    values = (values - values.mean()) * rng.uniform(0.8, 1.25) + rng.uniform(0.3, 0.7)
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def make_medical_patches(per_class: int = PER_CLASS, size: int = SIZE, seed: int = SEED
                         ) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` grey ``size`` x ``size`` patches of each of :data:`CLASS_NAMES`, labels 0, 1, 2 in blocks.

    Deterministic given ``seed``; each class has its own generator, so changing ``per_class`` does not
    change the other classes' first patches.
    """
    images = np.empty((per_class * len(CLASS_NAMES), size, size), np.uint8)
    for label, name in enumerate(CLASS_NAMES):
        rng = np.random.default_rng([seed, label])
        source = _grey(bundled_image(name))
        for i in range(per_class):
            images[label * per_class + i] = _patch(rng, source, size)
    labels = np.repeat(np.arange(len(CLASS_NAMES), dtype=np.int64), per_class)
    return images, labels


load_medical_demo = generated_loader("medical_demo", make_medical_patches, CLASS_NAMES, PER_CLASS, note=N_(
    "Synthetic substitute: {per_class} seeded {size}x{size} grey patches per class cut from scikit-image's "
    "real retina, immunohistochemistry and cell pictures; the class is the source picture, not a "
    "diagnosis. Patches of one class come from one picture and may overlap between splits."), note_fields=dict(per_class=PER_CLASS, size=SIZE))


register_dataset(DatasetSpec(
    name="medical_demo", modality="image", origin="synthetic/substitute", loader=load_medical_demo,
    description=N_("Synthetic substitute (offline demo, not a diagnosis dataset): 600 grey patches from three real "
                "scikit-image pictures (retina fundus, immunohistochemistry tissue, cell); the class says which "
                "picture a patch came from. For real medical data use 'medmnist' with a downloaded file."),
    licence=SKIMAGE_LICENCE, class_names=CLASS_NAMES,
))

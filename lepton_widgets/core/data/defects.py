"""``defects_synthetic``: seeded surface-defect images drawn on scikit-image's real textures.

There is no real manufacturing-defect dataset offline (see /work/shared/DATA.md), so this generator
stands in for one like NEU-DET or MVTec AD: patches of the real ``brick``, ``grass`` and ``gravel``
textures (random place, scale, flip, quarter turn, exposure and uneven lighting), with one kind of defect
drawn on each with ``skimage.draw`` at a random position, size, angle, polarity (dark or bright) and
contrast:

* ``ok``: no defect (lighting and noise only),
* ``scratch``: one or two thin straight anti-aliased lines (1-3 px),
* ``spot``: one to three small sharp-edged dots,
* ``crack``: a jagged 2 px random walk, sometimes with a branch,
* ``stain``: a large soft blotch (a blurred ellipse), low contrast.

Deterministic given the seed; 150 images per class at 64 px take about a second, so nothing is cached on
disk. A real defect dataset in folder form (one subfolder per class, as NEU-CLS ships or as MVTec AD's
``test/<defect>/`` folders are laid out) loads with the existing ``folder`` dataset:
``DataConfig(dataset="folder", path="NEU-CLS")``.

Example:
    >>> images, labels = make_defects(per_class=2, size=32, seed=0)
    >>> images.shape, images.dtype.name, labels.tolist()
    ((10, 32, 32), 'uint8', [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    >>> bool((make_defects(per_class=2, size=32, seed=0)[0] == images).all())
    True
"""

from __future__ import annotations


import numpy as np

from lepton_widgets.core.data.bundled_images import bundled_image, random_patch
from lepton_widgets.core.data.generated import generated_loader
from lepton_widgets.core.data.registry import DatasetSpec, register_dataset
from lepton_widgets.i18n import N_

CLASS_NAMES = ("ok", "scratch", "spot", "crack", "stain")
TEXTURES = ("brick", "grass", "gravel")
#: Images per class, their side in pixels and the seed of the registered dataset (the same data every run).
PER_CLASS, SIZE, SEED = 150, 64, 0


def _surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """A texture patch as float in [0, 1], with exposure, contrast and a lighting gradient varied."""
    texture = bundled_image(TEXTURES[int(rng.integers(len(TEXTURES)))])
    # Zoomed in (scale < 1) the textures are calmer, as a close-up inspection camera sees a surface.
    patch = np.rot90(random_patch(rng, texture, size, scale=(0.4, 1.0)), int(rng.integers(4)))
    values = patch.astype(np.float32) / 255.0
    values = (values - values.mean()) * rng.uniform(0.4, 0.9) + rng.uniform(0.35, 0.65)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    return values + rng.uniform(0.0, 0.2) * (np.cos(angle) * xx + np.sin(angle) * yy - 0.5)


def _blend(values: np.ndarray, mask: np.ndarray, rng: np.random.Generator, contrast: tuple[float, float]) -> None:
    """Pull the masked pixels towards black or white (a random polarity), in place."""
    target = 0.0 if rng.random() < 0.6 else 1.0  # dark defects are commoner on real surfaces
    weight = np.clip(mask, 0.0, 1.0) * rng.uniform(*contrast)
    values += (target - values) * weight


def _line_mask(size: int, r0: float, c0: float, r1: float, c1: float, width: int) -> np.ndarray:
    from skimage import draw  # deferred (like every scikit-image/scipy import here): only generation needs them

    mask = np.zeros((size, size), np.float32)
    for offset in range(width):  # a wider line is parallel anti-aliased lines side by side
        rr, cc, val = draw.line_aa(int(r0) + offset, int(c0), int(r1) + offset, int(c1))
        keep = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
        np.maximum.at(mask, (rr[keep], cc[keep]), val[keep].astype(np.float32))
    return mask


def _scratch(rng, values, size):
    for _ in range(int(rng.integers(1, 3))):
        length = size * rng.uniform(0.4, 0.9)
        angle = rng.uniform(0, np.pi)
        r, c = rng.uniform(0.25, 0.75, 2) * size
        dr, dc = np.sin(angle) * length / 2, np.cos(angle) * length / 2
        _blend(values, _line_mask(size, r - dr, c - dc, r + dr, c + dc, int(rng.integers(1, 4))), rng, (0.6, 0.95))


def _spot(rng, values, size):
    from skimage import draw

    mask = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        radius = size * rng.uniform(0.04, 0.08)
        r, c = rng.uniform(0.15, 0.85, 2) * size
        rr, cc = draw.ellipse(r, c, radius, radius * rng.uniform(0.7, 1.3), shape=mask.shape)
        mask[rr, cc] = 1.0
    _blend(values, mask, rng, (0.65, 0.95))


def _crack(rng, values, size):
    mask = np.zeros((size, size), np.float32)
    walks = [(rng.uniform(0.2, 0.8, 2) * size, rng.uniform(0, 2 * np.pi), int(rng.integers(18, 32)))]
    while walks:
        (r, c), heading, steps = walks.pop()
        for _ in range(steps):
            heading += rng.normal(0, 0.45)  # the jaggedness is what tells a crack from a scratch
            step = size * rng.uniform(0.025, 0.05)
            r1, c1 = r + np.sin(heading) * step, c + np.cos(heading) * step
            np.maximum(mask, _line_mask(size, r, c, r1, c1, 2), out=mask)
            if len(walks) == 0 and rng.random() < 0.04:  # at most one branch
                walks.append(((r1, c1), heading + rng.choice([-1, 1]) * rng.uniform(0.5, 1.2), steps // 2))
            r, c = r1, c1
    _blend(values, mask, rng, (0.6, 0.95))


def _stain(rng, values, size):
    from scipy.ndimage import gaussian_filter
    from skimage import draw

    mask = np.zeros((size, size), np.float32)
    r, c = rng.uniform(0.25, 0.75, 2) * size
    radii = size * rng.uniform(0.12, 0.3, 2)
    rr, cc = draw.ellipse(r, c, radii[0], radii[1], shape=mask.shape, rotation=rng.uniform(-np.pi, np.pi))
    mask[rr, cc] = 1.0
    mask = gaussian_filter(mask, sigma=size * rng.uniform(0.04, 0.08))
    _blend(values, mask / max(float(mask.max()), 1e-6), rng, (0.45, 0.7))


_DRAWERS = {"ok": None, "scratch": _scratch, "spot": _spot, "crack": _crack, "stain": _stain}


def make_defects(per_class: int = PER_CLASS, size: int = SIZE, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` grey ``size`` x ``size`` images of each of :data:`CLASS_NAMES`, labels in blocks.

    Deterministic given ``seed``; each class has its own generator (see ``medical_demo``).
    """
    images = np.empty((per_class * len(CLASS_NAMES), size, size), np.uint8)
    for label, name in enumerate(CLASS_NAMES):
        rng = np.random.default_rng([seed, label])
        for i in range(per_class):
            values = _surface(rng, size)
            if _DRAWERS[name] is not None:
                _DRAWERS[name](rng, values, size)
            values += rng.normal(0, rng.uniform(0.005, 0.03), values.shape)  # sensor noise
            images[label * per_class + i] = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    return images, np.repeat(np.arange(len(CLASS_NAMES), dtype=np.int64), per_class)


load_defects_synthetic = generated_loader("defects_synthetic", make_defects, CLASS_NAMES, PER_CLASS, note=N_(
    "Synthetic substitute: {per_class} seeded {size}x{size} defect images per class drawn on scikit-image's "
    "real brick, grass and gravel textures. For a real defect set (NEU, MVTec AD) use the 'folder' "
    "dataset with one subfolder per class."), note_fields=dict(per_class=PER_CLASS, size=SIZE))


register_dataset(DatasetSpec(
    name="defects_synthetic", modality="image", origin="synthetic/substitute", loader=load_defects_synthetic,
    description=N_("Synthetic substitute: 750 grey 64x64 surface images (ok, scratch, spot, crack, stain) drawn "
                "on real scikit-image textures; no real defect data. Real NEU/MVTec-style folders load with "
                "the 'folder' dataset."),
    licence=N_("scikit-image bundled data (public domain / CC0 / CC BY; see skimage/data/README.txt); "
               "generated images: same terms"), class_names=CLASS_NAMES,
))

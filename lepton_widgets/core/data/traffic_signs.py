"""``traffic_signs_synthetic``: seeded renderings of road-sign-like images, an offline stand-in for GTSRB.

There is no real traffic-sign dataset offline (see /work/shared/DATA.md; the real GTSRB loads with the
``gtsrb`` dataset, :mod:`lepton_widgets.core.data.gtsrb`). Each image is drawn with Pillow: a sign of one
of ten classes, in the shapes and colours European signs use, then a random perspective tilt and turn,
size and position, lighting (brightness, colour cast, gamma, a shadow edge), blur and noise, over a
background cut from one of scikit-image's real photos or a cluttered gradient.

=================  ========================================  ==================
class              shape and colours                         pictogram
=================  ========================================  ==================
speed_limit_30     circle, red rim on white                  "30"
speed_limit_50     circle, red rim on white                  "50"
speed_limit_80     circle, red rim on white                  "80"
no_entry           red circle                                white bar
stop               red octagon                               "STOP"
yield              triangle point down, red rim on white     none
danger             triangle point up, red rim on white       "!"
priority_road      diamond, yellow with a white border       none
ahead_only         blue circle                               white arrow up
parking            blue square                               "P"
=================  ========================================  ==================

The three speed limits differ only in their digits, as in GTSRB, where they are the classes models
confuse most. Deterministic given the seed; 150 images per class at 64 px take a few seconds, so nothing
is cached on disk.

Example:
    >>> images, labels = make_traffic_signs(per_class=2, size=32, seed=0)
    >>> images.shape, images.dtype.name, labels[::2].tolist()
    ((20, 32, 32, 3), 'uint8', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> bool((make_traffic_signs(per_class=2, size=32, seed=0)[0] == images).all())
    True
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from lepton_widgets.core.data.bundled_images import bundled_image, random_patch
from lepton_widgets.core.data.generated import generated_loader
from lepton_widgets.core.data.registry import DatasetSpec, register_dataset
from lepton_widgets.i18n import N_

RED, WHITE, BLACK = (200, 16, 30), (245, 245, 240), (20, 20, 20)
BLUE, YELLOW = (20, 70, 170), (250, 200, 20)
#: class name -> (shape, rim colour, fill colour, pictogram). Pictograms: text, "bar", "arrow" or "".
SIGNS = {
    "speed_limit_30": ("circle", RED, WHITE, "30"),
    "speed_limit_50": ("circle", RED, WHITE, "50"),
    "speed_limit_80": ("circle", RED, WHITE, "80"),
    "no_entry": ("circle", RED, RED, "bar"),
    "stop": ("octagon", WHITE, RED, "STOP"),
    "yield": ("triangle_down", RED, WHITE, ""),
    "danger": ("triangle_up", RED, WHITE, "!"),
    "priority_road": ("diamond", WHITE, YELLOW, ""),
    "ahead_only": ("circle", WHITE, BLUE, "arrow"),
    "parking": ("square", WHITE, BLUE, "P"),
}
CLASS_NAMES = tuple(SIGNS)
#: Real photos the backgrounds are cut from (all bundled with scikit-image).
BACKGROUNDS = ("coffee", "chelsea", "astronaut", "rocket", "camera", "coins", "moon", "brick", "grass", "gravel")
#: Images per class, their side in pixels and the seed of the registered dataset (the same data every run).
PER_CLASS, SIZE, SEED = 150, 64, 0
_SUPERSAMPLE = 2  # drawn at 2x and shrunk: smooth edges without per-shape anti-aliasing


def _outline(shape: str, c: float, r: float) -> list[tuple[float, float]]:
    """Polygon corners of ``shape`` centred at (c, c) with circumradius ``r`` (a circle is a 64-gon)."""
    sides, turn = {"circle": (64, 0.0), "octagon": (8, math.pi / 8), "triangle_up": (3, -math.pi / 2),
                   "triangle_down": (3, math.pi / 2), "diamond": (4, 0.0), "square": (4, math.pi / 4)}[shape]
    return [(c + r * math.cos(turn + 2 * math.pi * k / sides), c + r * math.sin(turn + 2 * math.pi * k / sides))
            for k in range(sides)]


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled font: no system fonts needed


def _pictogram(draw: ImageDraw.ImageDraw, kind: str, c: float, r: float, colour) -> None:
    if kind == "bar":
        draw.rectangle((c - 0.65 * r, c - 0.16 * r, c + 0.65 * r, c + 0.16 * r), fill=WHITE)
    elif kind == "arrow":
        w = 0.14 * r
        draw.rectangle((c - w, c - 0.1 * r, c + w, c + 0.6 * r), fill=WHITE)
        draw.polygon([(c, c - 0.65 * r), (c - 0.42 * r, c - 0.05 * r), (c + 0.42 * r, c - 0.05 * r)], fill=WHITE)
    elif kind:
        font_size = {1: 1.1, 2: 0.95}.get(len(kind), 0.5) * r
        font = _font(max(8, int(font_size)))
        cy = c + (0.12 * r if kind == "!" else 0.0)  # the exclamation mark sits low in the triangle
        draw.text((c, cy), kind, fill=colour, font=font, anchor="mm", stroke_width=max(1, int(r * 0.04)),
                  stroke_fill=colour)


@functools.lru_cache(maxsize=64)
def render_sign(name: str, side: int) -> Image.Image:
    """The sign ``name`` drawn face-on on a transparent ``side`` x ``side`` RGBA canvas (cached: treat the
    result as read-only; every scene warps it into a new image)."""
    shape, rim, fill, picto = SIGNS[name]
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    c, r = side / 2, side * 0.48
    if shape.startswith("triangle"):
        r *= 1.1  # a triangle inscribed in the same circle looks much smaller than a circle
    draw.polygon(_outline(shape, c, r), fill=rim)
    if rim != fill:
        inner = 0.93 if rim == WHITE else 0.78  # a thin white border, or a thick red rim
        draw.polygon(_outline(shape, c, r * inner), fill=fill)
    text_colour = WHITE if fill in (RED, BLUE) else BLACK
    _pictogram(draw, picto, c, r * 0.7 if shape.startswith("triangle") else r, text_colour)
    return canvas


def _perspective(image: Image.Image, rng: np.random.Generator, side: int, strength: float,
                 degrees: float) -> Image.Image:
    """``image`` scaled to ``side``, each corner moved by up to ``strength`` of the side (the sign seen from
    off its axis) and turned by up to ``degrees``: one resampling for all three, as they compose into one
    perspective map."""
    src = np.array([(0, 0), (1, 0), (1, 1), (0, 1)], np.float64)
    dst = (src + rng.uniform(-strength, strength, src.shape)) * side
    src = src * image.width
    angle = math.radians(rng.uniform(-degrees, degrees))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = (dst - side / 2) @ turn.T + side / 2
    # PIL maps each output pixel back to the input: solve the 8 coefficients from dst (output) to src.
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    coeffs = np.linalg.solve(np.array(rows), np.array(rhs))
    return image.transform((side, side), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BILINEAR)


def _background(rng: np.random.Generator, side: int) -> Image.Image:
    if rng.random() < 0.75:
        photo = bundled_image(BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))])
        patch = random_patch(rng, photo, side, scale=(0.3, 1.0))
        return Image.fromarray(patch).convert("RGB")
    # A cluttered gradient: sky-to-ground colours with random boxes, poles and blobs.
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, side)[:, None, None]
    pixels = (top * (1 - ramp) + bottom * ramp).repeat(side, axis=1).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 7))):
        x0, y0 = rng.integers(-side // 4, side, 2)
        w, h = rng.integers(side // 10, side // 2, 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)((x0, y0, x0 + w, y0 + h), fill=colour)
    return image


def _light(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, colour cast, gamma and sometimes a straight shadow edge across the whole picture."""
    values = pixels.astype(np.float32) / 255.0
    values = values * rng.uniform(0.55, 1.25) * rng.uniform(0.85, 1.15, 3)
    values = np.clip(values, 0, 1) ** rng.uniform(0.75, 1.35)
    if rng.random() < 0.3:
        side = pixels.shape[0]
        yy, xx = np.mgrid[0:side, 0:side]
        angle = rng.uniform(0, 2 * math.pi)
        edge = (xx - side / 2) * math.cos(angle) + (yy - side / 2) * math.sin(angle) > rng.uniform(-0.3, 0.3) * side
        values[edge] *= rng.uniform(0.45, 0.75)
    return values


def render_scene(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """One ``size`` x ``size`` RGB ``uint8`` picture of the sign ``name`` in a random scene."""
    big = size * _SUPERSAMPLE
    scene = _background(rng, big)
    sign_side = int(big * rng.uniform(0.55, 0.9))
    sign = _perspective(render_sign(name, int(big * 0.9)), rng, sign_side, strength=0.1, degrees=12)
    slack = big - sign_side
    scene.paste(sign, (int(rng.integers(0, slack + 1)), int(rng.integers(0, slack + 1))), sign)
    scene = scene.resize((size, size), Image.Resampling.BOX)
    radius = rng.uniform(0.0, 1.0) if rng.random() < 0.6 else 0.0
    if radius > 0.1:
        scene = scene.filter(ImageFilter.GaussianBlur(radius))
    values = _light(np.asarray(scene), rng)
    values += rng.normal(0, rng.uniform(0.0, 0.03), values.shape)
    return np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)


def make_traffic_signs(per_class: int = PER_CLASS, size: int = SIZE, seed: int = SEED
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` RGB ``size`` x ``size`` pictures of each of :data:`CLASS_NAMES`, labels in blocks.

    Deterministic given ``seed``; each class has its own generator (see ``medical_demo``).
    """
    images = np.empty((per_class * len(CLASS_NAMES), size, size, 3), np.uint8)
    for label, name in enumerate(CLASS_NAMES):
        rng = np.random.default_rng([seed, label])
        for i in range(per_class):
            images[label * per_class + i] = render_scene(name, rng, size)
    return images, np.repeat(np.arange(len(CLASS_NAMES), dtype=np.int64), per_class)


load_traffic_signs_synthetic = generated_loader("traffic_signs_synthetic", make_traffic_signs, CLASS_NAMES, PER_CLASS, note=N_(
    "Synthetic substitute: {per_class} seeded {size}x{size} rendered sign pictures per class over "
    "backgrounds cut from scikit-image's photos. For the real GTSRB use the 'gtsrb' dataset."), note_fields=dict(per_class=PER_CLASS, size=SIZE))


register_dataset(DatasetSpec(
    name="traffic_signs_synthetic", modality="image", origin="synthetic/substitute",
    loader=load_traffic_signs_synthetic,
    description=N_("Synthetic substitute: 1,500 rendered 64x64 road-sign pictures in 10 classes (speed limits 30/50/80, "
                "stop, yield, danger, no entry, priority road, ahead only, parking) with perspective, lighting, "
                "blur and clutter; not real photos. The real GTSRB loads with the 'gtsrb' dataset."),
    licence=N_("scikit-image bundled data (public domain / CC0 / CC BY; see skimage/data/README.txt) "
               "(backgrounds); generated images: same terms"), class_names=CLASS_NAMES,
))

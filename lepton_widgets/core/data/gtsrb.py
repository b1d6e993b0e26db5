"""The German Traffic Sign Recognition Benchmark (GTSRB) training set, for users who downloaded it.

Layout (``GTSRB_Final_Training_Images.zip`` unpacked): ``Final_Training/Images/<5-digit class>/`` holds
``.ppm`` pictures and ``GT-<class>.csv``, semicolon separated with the header
``Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId``. ``data.path`` may name the ``Images``
folder or any folder above it down to which ``Final_Training/Images`` is found.

Every picture is checked the way :mod:`~lepton_widgets.core.data.validate` checks files (size limits,
header, full decode, decompression bombs), with PPM allowed since GTSRB ships it, then cropped to its
ROI, the box around the sign (pixels ``X1 <= x < X2``, ``Y1 <= y < Y2``). The crop is written once as an
8-bit RGB PNG to ``cache_dir("gtsrb")``, named by the picture's content hash and its ROI, so later runs only
re-read and re-hash. Nothing is dropped silently: a missing or unreadable picture, a picture the CSV does
not list, a class folder without its CSV, a ClassId that disagrees with the folder or an ROI outside the
picture each gets a ``skipped`` row in the data report saying so. The user's files are only read.

GTSRB groups 30 pictures of one physical sign into a track (the file name's first part); the workbench's
random split spreads a track over train, val and test, which flatters test accuracy. The report says so.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> folder = os.path.join(tempfile.mkdtemp(), "Final_Training", "Images", "00014")
    >>> os.makedirs(folder)
    >>> Image.new("RGB", (30, 32), "red").save(os.path.join(folder, "00000_00000.ppm"))
    >>> with open(os.path.join(folder, "GT-00014.csv"), "w") as out:
    ...     _ = out.write("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\\n"
    ...                   "00000_00000.ppm;30;32;5;5;25;40;14\\n")
    >>> loaded = load_gtsrb_folder(folder.rsplit(os.sep, 3)[0])
    >>> loaded.class_names, loaded.records.loc[0, "reason"]
    (['Stop'], 'ROI (5, 5)-(25, 40) lies outside the 30 x 32 picture')
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import warnings
from pathlib import Path
from typing import Optional, Union

import pandas as pd
from PIL import Image, UnidentifiedImageError

from lepton_widgets.core.base.atomic import atomic_write
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.data.registry import RECORD_COLUMNS, DatasetSpec, LoadedData, register_dataset
from lepton_widgets.core.data.table import STATUS_OK, STATUS_SKIPPED, DataError
from lepton_widgets.core.data.validate import MAX_FILE_BYTES, PILLOW_FORMATS, PIXEL_LIMIT
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.i18n import N_, _

#: Columns the loader needs in every ``GT-<class>.csv`` (Width and Height are read from the picture itself).
GT_COLUMNS = ("Filename", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")
#: The official names of the 43 classes, by ClassId.
SIGN_NAMES = (
    "Speed limit (20km/h)", "Speed limit (30km/h)", "Speed limit (50km/h)", "Speed limit (60km/h)",
    "Speed limit (70km/h)", "Speed limit (80km/h)", "End of speed limit (80km/h)", "Speed limit (100km/h)",
    "Speed limit (120km/h)", "No passing", "No passing for vehicles over 3.5 metric tons",
    "Right-of-way at the next intersection", "Priority road", "Yield", "Stop", "No vehicles",
    "Vehicles over 3.5 metric tons prohibited", "No entry", "General caution", "Dangerous curve to the left",
    "Dangerous curve to the right", "Double curve", "Bumpy road", "Slippery road", "Road narrows on the right",
    "Road work", "Traffic signals", "Pedestrians", "Children crossing", "Bicycles crossing",
    "Beware of ice/snow", "Wild animals crossing", "End of all speed and passing limits", "Turn right ahead",
    "Turn left ahead", "Ahead only", "Go straight or right", "Go straight or left", "Keep right", "Keep left",
    "Roundabout mandatory", "End of no passing", "End of no passing by vehicles over 3.5 metric tons",
)
HOMEPAGE = "https://benchmark.ini.rub.de/gtsrb_dataset.html"
CITATION = ("Stallkamp et al., Man vs. computer: Benchmarking machine learning algorithms for traffic sign "
            "recognition, Neural Networks 32, 2012")
_CLASS_FOLDER = re.compile(r"^\d{5}$")
_NOTHING = (None,) * 5  # width, height, mode, sha256 and path of a record with no usable picture


def class_name(class_id: int) -> str:
    """The sign's name for a ClassId (``Stop`` for 14); ``class 00043`` beyond the official 43."""
    return SIGN_NAMES[class_id] if 0 <= class_id < len(SIGN_NAMES) else f"class {class_id:05d}"


def find_images_folder(path: Union[str, Path]) -> Path:
    """The folder holding the 5-digit class folders: ``path`` itself or its ``[..]/Final_Training/Images``."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"GTSRB folder not found: {path}")
    for candidate in (path, path / "Images", path / "Final_Training" / "Images",
                      path / "GTSRB" / "Final_Training" / "Images"):
        if candidate.is_dir() and any(e.is_dir() and _CLASS_FOLDER.match(e.name) for e in candidate.iterdir()):
            return candidate
    raise DataError(f"no GTSRB class folders (00000, 00001, ...) in {path} or its Final_Training/Images; "
                    "point data.path at the unpacked GTSRB training set")


def read_gt_csv(csv_path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a ``GT-<class>.csv``; :class:`DataError` naming missing columns otherwise."""
    try:
        text = csv_path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{csv_path} is not text (byte {exc.start}); expected GTSRB's semicolon-separated "
                        "annotation file") from None
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = [h.strip() for h in rows[0]] if rows else []
    missing = [c for c in GT_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{csv_path.name} needs the semicolon-separated columns {';'.join(GT_COLUMNS)}; "
                        f"missing: {', '.join(missing)} (found: {';'.join(header) or 'an empty file'})")
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in row):
            found.append((line, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}))
    return found


def decode_picture(data: bytes) -> tuple[Optional[Image.Image], str]:
    """(RGB picture, "") or (None, why not), with ``validate``'s limits; PPM allowed as well."""
    if not data:
        return None, "empty file (0 bytes)"
    if len(data) > MAX_FILE_BYTES:
        return None, f"file too large ({len(data):,} bytes; limit {MAX_FILE_BYTES:,})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=("PPM",) + PILLOW_FORMATS)
        except Image.DecompressionBombError:
            return None, "decompression bomb (more pixels than Pillow allows)"
        except UnidentifiedImageError:
            return None, "not an image (not PPM, JPEG, PNG, BMP, GIF or WEBP data)"
        except Exception as exc:  # noqa: BLE001 - any failure to parse the header means unreadable
            return None, f"unreadable image header: {exc}"
        fmt = image.format or "image"
        if image.width * image.height > PIXEL_LIMIT:
            return None, f"decompression bomb: {image.width} x {image.height} pixels (limit {PIXEL_LIMIT:,})"
        try:
            image.load()  # decode every pixel: truncated and corrupt data fail here
        except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError...
            return None, f"corrupt or truncated {fmt} file: {exc}"
    return image.convert("RGB"), ""


def _roi(row: dict[str, str], width: int, height: int) -> tuple[Optional[tuple[int, int, int, int]], str]:
    try:
        box = tuple(int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
    except ValueError:
        return None, "ROI is not four whole numbers"
    x1, y1, x2, y2 = box
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        return None, f"ROI ({x1}, {y1})-({x2}, {y2}) lies outside the {width} x {height} picture"
    return box, ""


def _whole(text: str) -> Optional[int]:
    try:
        return int(text)
    except ValueError:
        return None


def _crop_record(path: Path, row: dict[str, str]) -> tuple[str, str, tuple]:
    """(status, reason, (width, height, mode, sha256, cached crop path)) of one listed picture."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return STATUS_SKIPPED, f"cannot read file: {exc.strerror or exc}", _NOTHING
    image, problem = decode_picture(data)
    if image is None:
        return STATUS_SKIPPED, problem, _NOTHING
    box, problem = _roi(row, image.width, image.height)
    if box is None:
        return STATUS_SKIPPED, problem, (image.width, image.height, image.mode, None, None)
    sha = hashlib.sha256(data + repr(box).encode()).hexdigest()  # same picture, same box: same sample
    target = cache_dir("gtsrb") / f"{sha}.png"
    crop = image.crop(box)
    if not target.is_file():
        atomic_write(target, lambda out: crop.save(out, format="PNG"))
    return STATUS_OK, "", (crop.width, crop.height, "RGB", sha, str(target))


def _folder_rows(root: Path, folder: Path, progress) -> list[tuple]:
    """Records of one class folder: every listed picture and every other file in it."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    csv_path = folder / f"GT-{folder.name}.csv"
    ref = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    label = class_name(int(folder.name))
    if not csv_path.is_file():
        why = f"no {csv_path.name} in {folder.name}/ (it gives each picture's sign box)"
        return [(ref(p), label, STATUS_SKIPPED, why) + _NOTHING + (-1,) for p in files]
    rows, listed = [], {csv_path.name}
    for line, row in read_gt_csv(csv_path):
        name = row["Filename"]
        listed.add(name)
        path = folder / name
        where = f"{csv_path.name} line {line}"
        if Path(name).name != name or name in ("", ".", ".."):  # the CSV may only name files beside it
            status, reason, found = STATUS_SKIPPED, f"file name {name!r} in {where} is not a plain file name", _NOTHING
        elif not path.is_file():
            status, reason, found = STATUS_SKIPPED, f"file not found (listed in {where})", _NOTHING
        elif _whole(row["ClassId"]) != int(folder.name):
            status, reason, found = STATUS_SKIPPED, (f"ClassId {row['ClassId']!r} in {where} disagrees with its "
                                                     f"folder {folder.name}"), _NOTHING
        else:
            status, reason, found = _crop_record(path, row)
        rows.append((f"{folder.relative_to(root).as_posix()}/{name}", label, status, reason) + found + (-1,))
        progress.step()
    for path in files:
        if path.name not in listed:
            rows.append((ref(path), label, STATUS_SKIPPED, f"not listed in {csv_path.name}") + _NOTHING + (-1,))
    return rows


def load_gtsrb_folder(path: Union[str, Path], job: Optional[Job] = None) -> LoadedData:
    """Records for the GTSRB training set under ``path`` (see the module docstring)."""
    images = find_images_folder(path)
    folders = sorted(e for e in images.iterdir() if e.is_dir() and _CLASS_FOLDER.match(e.name))
    total = sum(1 for folder in folders for p in folder.iterdir() if p.suffix.lower() == ".ppm")
    progress = ProgressReporter(job, total)
    rows = [row for folder in folders for row in _folder_rows(images, folder, progress)]
    progress.finish()
    records = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    for column in ("width", "height", "array_index"):
        records[column] = records[column].astype("Int64")
    notes = [_("GTSRB training set read from {folder}; each picture cropped to its ROI (crops cached in "
               "{cache}).").format(folder=images, cache=cache_dir("gtsrb")),
             _("GTSRB has 30 pictures of each physical sign (a track); the random split spreads tracks over "
               "train, val and test, so test accuracy is optimistic.")]
    return LoadedData(records=records, class_names=[class_name(int(f.name)) for f in folders], modality="image",
                      source=str(images), notes=notes)


def load_gtsrb(data_cfg, job: Job) -> LoadedData:
    if not data_cfg.path:
        raise DataError("data.path is required for dataset 'gtsrb': the unpacked GTSRB training set "
                        "(GTSRB_Final_Training_Images.zip from the benchmark's site)")
    return load_gtsrb_folder(data_cfg.path, job)


register_dataset(DatasetSpec(
    name="gtsrb", modality="image", origin="user", loader=load_gtsrb,
    description=N_("The GTSRB training set you downloaded (Final_Training/Images/<class>/*.ppm with GT-<class>.csv): "
                "real photos of 43 German road signs, each cropped to its sign box. data.path names the folder."),
    licence=N_("GTSRB terms of use (see the benchmark's site)"), homepage=HOMEPAGE,
    citation=CITATION,
))

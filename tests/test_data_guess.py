"""core/tasks/data_guess.py: which kind of data a name or path is, from real files written in tmp_path.

Each kind is also loaded by its own loader (or text/table reader) once guessed, so a guess the engine cannot
read fails here; and the user's files are hashed before and after to show nothing was written to them.
"""

from __future__ import annotations

import hashlib
import wave
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import lepton_widgets  # noqa: F401 - registers every dataset
from lepton_widgets.config import DataConfig
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.registry import get_dataset
from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.tasks.data_guess import data_config_for

REVIEWS = ["the soup was warm and full of flavour", "cold fries and a rude waiter all night",
           "best pancakes I have had in years", "the coffee tasted burnt and bitter today",
           "lovely staff and a quiet table by the window", "we waited an hour for a dry sandwich",
           "fresh bread with every single meal here", "the salad came wilted and far too salty"]


def png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def wav(path: Path, hz: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = (0.3 * 32767 * np.sin(2 * np.pi * hz * np.arange(4000) / 16000)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(tone.tobytes())
    return path


def txt(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        digest.update(str(path.relative_to(root.parent)).encode() + path.read_bytes())
    return digest.hexdigest()


def image_folder(root: Path) -> Path:
    for c, name in enumerate(("cats", "dogs")):
        for i in range(4):
            png(root / name / f"{i}.png", seed=10 * c + i)
    return root


def wav_folder(root: Path) -> Path:
    for c, (name, hz) in enumerate((("low", 300), ("high", 3000))):
        for i in range(3):
            wav(root / name / f"{i}.wav", hz + 20 * i)
    return root


def text_folder(root: Path) -> Path:
    for i, review in enumerate(REVIEWS):
        txt(root / ("good" if i % 2 == 0 else "bad") / f"{i}.txt", review)
    return root


def zipped(folder: Path, archive: Path, top: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                handle.write(path, str(Path(top) / path.relative_to(folder)))
    return archive


def loads(cfg: DataConfig) -> int:
    """Load ``cfg`` with its dataset's own reader; the number of records (files, rows) it read."""
    spec = get_dataset(cfg.dataset)
    reader = spec.extra.get("read_texts") or spec.extra.get("read_table") or spec.loader
    return len(reader(cfg, Job()).records)


def test_builtin_names_keep_dataconfig_defaults():
    cfg = data_config_for("digits")
    assert cfg == DataConfig(dataset="digits")
    assert data_config_for("german_credit").max_per_class == DataConfig().max_per_class
    assert data_config_for("german_credit", target="purpose").target == "purpose"


def test_folders_of_images_sounds_and_texts(tmp_path):
    cases = {"folder": image_folder(tmp_path / "pets"), "wav_folder": wav_folder(tmp_path / "tones"),
             "text_folder": text_folder(tmp_path / "reviews")}
    before = {name: tree_hash(root) for name, root in cases.items()}
    for dataset, root in cases.items():
        cfg = data_config_for(str(root))
        assert (cfg.dataset, cfg.path, cfg.max_per_class) == (dataset, str(root.resolve()), None)
        assert loads(cfg) == sum(1 for p in root.rglob("*") if p.is_file())
        assert tree_hash(root) == before[dataset]  # only read


def test_a_stray_file_does_not_change_the_kind_but_a_mix_is_refused(tmp_path):
    root = image_folder(tmp_path / "pets")
    for i in range(4, 10):
        png(root / "cats" / f"{i}.png", seed=100 + i)
    txt(root / "cats" / "notes.txt", "taken in the garden")  # 1 of 15 files: the loader skips it, says why
    assert data_config_for(root).dataset == "folder"
    for i in range(3):
        wav(root / "dogs" / f"bark{i}.wav", 500 + i)
    with pytest.raises(DataError, match=r"mixes kinds of files: 14 image\(s\), 3 \.wav sound\(s\), 1 \.txt"):
        data_config_for(root)


def test_zips_are_read_by_their_names_without_extracting(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))
    images = zipped(image_folder(tmp_path / "pets"), tmp_path / "pets.zip", top="pets")
    sounds = zipped(wav_folder(tmp_path / "tones"), tmp_path / "tones.zip")
    assert data_config_for(images).dataset == "zip" and data_config_for(sounds).dataset == "wav_zip"
    assert not (tmp_path / "home").exists()  # the guess extracted nothing
    assert loads(data_config_for(images)) == 8 and loads(data_config_for(sounds)) == 6
    texts = zipped(text_folder(tmp_path / "reviews"), tmp_path / "reviews.zip")
    with pytest.raises(DataError, match="Unzip it and give the folder"):
        data_config_for(texts)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK not really a zip")
    with pytest.raises(DataError, match="not a readable zip file"):
        data_config_for(broken)


def test_image_csv(tmp_path):
    for i in range(6):
        png(tmp_path / "imgs" / f"{i}.png", seed=i)
    listing = tmp_path / "images.csv"
    pd.DataFrame({"Path": [f"imgs/{i}.png" for i in range(6)], "Label": ["a", "b"] * 3}).to_csv(listing, index=False)
    before = tree_hash(listing)
    cfg = data_config_for(listing)
    assert (cfg.dataset, cfg.max_per_class) == ("csv", None)
    assert loads(cfg) == 6 and tree_hash(listing) == before


def test_text_csv_and_its_class_column(tmp_path):
    reviews = tmp_path / "reviews.csv"
    pd.DataFrame({"comment": REVIEWS, "stars": [5, 1, 5, 1, 4, 2, 5, 1],
                  "Outcome": ["good", "bad"] * 4}).to_csv(reviews, index=False)
    cfg = data_config_for(reviews)
    assert (cfg.dataset, cfg.target, cfg.max_per_class) == ("text_csv", "Outcome", None)
    assert loads(cfg) == 8


def test_table_csv_and_its_class_column(tmp_path):
    table = tmp_path / "loans.csv"
    rows = 12
    pd.DataFrame({"income": np.arange(rows) * 1000.0, "purpose": ["car", "house", "holiday"] * 4,
                  "housing": ["own", "rent"] * 6, "default": ["yes", "no"] * 6}).to_csv(table, index=False)
    with pytest.raises(DataError, match=r"which column holds the class.*'income', 'purpose', 'housing', 'default'"
                                        r".*--target"):
        data_config_for(table)
    cfg = data_config_for(table, target="default")
    assert (cfg.dataset, cfg.target, cfg.max_per_class) == ("table_csv", "default", None)
    assert loads(cfg) == rows
    with pytest.raises(DataError, match="class column 'defualt' not found.*Did you mean 'default'"):
        data_config_for(table, target="defualt")
    # A column named like a class column is found without --target (any case), and categories are not texts.
    table.write_text(table.read_text().replace("default", "Class"))
    assert (data_config_for(table).dataset, data_config_for(table).target) == ("table_csv", "Class")


def test_what_cannot_be_used_says_what_was_found_and_what_is_expected(tmp_path):
    with pytest.raises(DataError, match="neither a built-in dataset.*Built-in datasets: .*digits"):
        data_config_for("digitz")
    with pytest.raises(DataError, match="was not found"):
        data_config_for(tmp_path / "nowhere" / "pets")
    flat = tmp_path / "flat"
    png(flat / "1.png", 1)
    png(flat / "2.png", 2)
    with pytest.raises(DataError, match=r"no class subfolders \(it holds 2 image\(s\) directly\)"):
        data_config_for(flat)
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "a" / "data.bin").write_bytes(b"\x00\x01")
    with pytest.raises(DataError, match=r"holds no images, \.wav sounds or \.txt texts \(1 file"):
        data_config_for(empty)
    with pytest.raises(DataError, match="single file"):
        data_config_for(png(tmp_path / "one.png", 3))
    model = tmp_path / "model.h5"
    model.write_bytes(b"\x89HDF")
    with pytest.raises(DataError, match=r"files of type \.h5 are not data Auto can read"):
        data_config_for(model)
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(ValueError):
        data_config_for(blank)


def test_a_folder_here_wins_over_a_builtin_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image_folder(tmp_path / "digits")
    cfg = data_config_for("digits")
    assert (cfg.dataset, cfg.path) == ("folder", str((tmp_path / "digits").resolve()))

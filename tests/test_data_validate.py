"""Bring-your-own folders full of bad and unusual files: every file gets a clear report row, usable ones
reach tf.data as RGB, and the user's folder is left byte-identical."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from data_fixtures import lepton_home  # noqa: F401 - a fixture
from data_fixtures import (bomb_png, corrupt_jpeg_bytes, jpeg_bytes, make_class_folders, noise, rgb48_png, save,
                           tree_digest)
from PIL import Image

from lepton_widgets.config import DataConfig
from lepton_widgets.core.data import DataError, files_table, make_dataset, prepare_data
from lepton_widgets.core.data.validate import PIXEL_LIMIT, check_image_file
from lepton_widgets.core.base.events import Cancelled, ListSink
from lepton_widgets.core.base.job import Job

UNICODE_NAME = "café_ü_日本.png"


@pytest.fixture
def messy_folder(tmp_path):
    """Class 'plain' holds ordinary files plus every kind of broken one; 'weird' holds files needing
    conversion; 'empty' has nothing usable."""
    root = tmp_path / "user data"
    plain, odd = root / "plain", root / "weird"
    for i in range(4):
        save(plain / f"ok_{i}.png", Image.fromarray(noise(i)))
    save(plain / UNICODE_NAME, Image.fromarray(noise(50)))
    save(plain / "grey.jpg", Image.fromarray(noise(51, channels=1)), quality=95)
    save(plain / "UPPER.JPEG", Image.fromarray(noise(52)))
    save(plain / "rgb24.bmp", Image.fromarray(noise(53)))
    (plain / "zz_copy_of_ok_0.png").write_bytes((plain / "ok_0.png").read_bytes())
    (plain / "corrupt.jpg").write_bytes(corrupt_jpeg_bytes(1))
    (plain / "truncated.png").write_bytes(_png_bytes(2)[:-200])
    (plain / "zero.png").write_bytes(b"")
    (plain / "text.png").write_text("this is not an image\n")
    (plain / "notes.txt").write_text("labelling notes\n")
    (plain / ".DS_Store").write_bytes(b"\x00\x01hidden")
    (plain / "bomb.png").write_bytes(bomb_png(50_000, 50_000))
    (plain / "big.png").write_bytes(bomb_png(8_000, 8_000))  # over our limit, under Pillow's
    save(odd / "cmyk.jpg", Image.new("CMYK", (10, 10), (0, 255, 255, 0)))  # pure red in CMYK
    save(odd / "grey16.png", Image.fromarray(np.full((10, 12), 65535, np.uint16)))  # 16-bit white
    (odd / "rgb48.png").write_bytes(rgb48_png(6, 5, (65535, 32896, 0)))  # orange, 16 bits per channel
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :5, 3] = 255  # left half opaque red, right half transparent red (-> white)
    save(odd / "rgba.png", Image.fromarray(rgba))
    save(odd / "palette.png", Image.new("RGB", (10, 10), (0, 0, 255)).convert("P"))
    save(odd / "anim.gif", Image.new("RGB", (10, 10), (0, 255, 0)), save_all=True,
         append_images=[Image.new("RGB", (10, 10), (255, 0, 0))])
    save(odd / "photo.webp", Image.fromarray(noise(60)), lossless=True)
    save(odd / "sub" / "deeper" / "onebit.png", Image.fromarray(noise(61, channels=1)).convert("1"))
    save(odd / "la.png", Image.new("LA", (10, 10), (0, 255)))
    (odd / "ok_copy_labelled_weird.png").write_bytes((plain / "ok_1.png").read_bytes())
    (root / "empty").mkdir()
    (root / "empty" / "readme.txt").write_text("nothing here yet")
    (root / "stray.png").write_bytes((plain / "ok_2.png").read_bytes())
    return root


def _png_bytes(seed: int) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(noise(seed, size=(64, 64))).save(buffer, "PNG")
    return buffer.getvalue()


def _rows(prepared_or_report):
    report = getattr(prepared_or_report, "report", prepared_or_report)
    return {row.ref: row for row in report.frame.itertuples()}


def test_every_bad_input_gets_a_clear_report_row(messy_folder, lepton_home):
    before = tree_digest(messy_folder)
    sink = ListSink()
    prepared = prepare_data(DataConfig(dataset="folder", path=str(messy_folder), min_class_size=3), seed=0,
                            job=Job(sink=sink))
    rows = _rows(prepared)

    def expect(ref, status, *words):
        row = rows[ref]
        assert row.status == status, (ref, row.status, row.reason)
        for word in words:
            assert word in row.reason, (ref, row.reason)

    expect("plain/corrupt.jpg", "skipped", "corrupt or truncated JPEG")
    expect("plain/truncated.png", "skipped", "corrupt or truncated PNG", "truncated")
    expect("plain/zero.png", "skipped", "empty file (0 bytes)")
    expect("plain/text.png", "skipped", "not an image")
    expect("plain/notes.txt", "skipped", "unsupported file type .txt")
    expect("plain/bomb.png", "skipped", "decompression bomb: 50000 x 50000 pixels")
    expect("plain/big.png", "skipped", "decompression bomb: 8000 x 8000 pixels", f"{PIXEL_LIMIT:,}")
    expect("empty/readme.txt", "skipped", "unsupported file type .txt")
    expect("stray.png", "skipped", "not inside a class folder")
    expect("plain/zz_copy_of_ok_0.png", "duplicate", "same content as plain/ok_0.png")
    expect("weird/ok_copy_labelled_weird.png", "duplicate", "same content as plain/ok_1.png", "labelled plain")
    for ref in ("plain/ok_0.png", f"plain/{UNICODE_NAME}", "plain/grey.jpg", "plain/UPPER.JPEG",
                "plain/rgb24.bmp"):
        expect(ref, "ok")
    expect("weird/cmyk.jpg", "converted", "JPEG CMYK")
    expect("weird/grey16.png", "converted", "16-bit")
    expect("weird/rgb48.png", "converted", "PNG RGB 16-bit")
    expect("weird/rgba.png", "converted", "RGBA", "composited on white")
    expect("weird/palette.png", "converted", "PNG P")
    expect("weird/anim.gif", "converted", "GIF", "first frame of 2")
    expect("weird/photo.webp", "converted", "WEBP")
    expect("weird/sub/deeper/onebit.png", "converted", "PNG 1")
    expect("weird/la.png", "converted", "LA")
    assert rows["plain/grey.jpg"].mode == "L" and rows["weird/grey16.png"].mode.startswith("I")
    assert (rows["plain/ok_0.png"].width, rows["plain/ok_0.png"].height) == (12, 10)
    assert not any(".DS_Store" in ref for ref in rows)  # hidden files are ignored, not reported

    warnings = "\n".join(prepared.report.warnings)
    assert "class empty has no usable images; left out" in warnings
    assert "same content as a file with another label" in warnings and "ok_copy_labelled_weird.png (weird)" in warnings
    assert prepared.class_names == ["plain", "weird"]
    assert prepared.report.class_counts == {"plain": 8, "weird": 9}

    progress = sink.of_kind("progress")
    assert {e.task for e in progress} == {"validate"}
    assert progress[-1].done == progress[-1].total == len(prepared.report.frame)

    # Every usable file comes through tf.data as RGB; the converted ones decode to the right colours.
    table = prepared.table
    images, labels = _all_batches(table)
    assert images.shape == (17, 24, 24, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 255.0
    assert labels.tolist() == table.label_indices().tolist()
    by_ref = {ref: images[i] for i, ref in enumerate(table.frame["ref"])}
    np.testing.assert_allclose(by_ref["weird/rgba.png"][:, :8], [[[255, 0, 0]] * 8] * 24, atol=1)
    np.testing.assert_allclose(by_ref["weird/rgba.png"][:, -8:], 255.0, atol=1)  # transparent -> white
    np.testing.assert_allclose(by_ref["weird/grey16.png"], 255.0, atol=1)
    np.testing.assert_allclose(by_ref["weird/rgb48.png"].mean(axis=(0, 1)), [255, 128, 0], atol=1)
    np.testing.assert_allclose(by_ref["weird/palette.png"].mean(axis=(0, 1)), [0, 0, 255], atol=2)
    np.testing.assert_allclose(by_ref["weird/anim.gif"].mean(axis=(0, 1)), [0, 255, 0], atol=2)
    red, green, _ = by_ref["weird/cmyk.jpg"].mean(axis=(0, 1))
    assert red > 200 and green < 60  # CMYK (0, 255, 255, 0) is red
    for ref, image in by_ref.items():  # grey sources become three equal channels
        if ref in ("plain/grey.jpg", "weird/grey16.png", "weird/sub/deeper/onebit.png", "weird/la.png"):
            np.testing.assert_allclose(image[..., 0], image[..., 2], atol=1e-3)

    converted = table.frame.set_index("ref")["path"]
    assert str(lepton_home) in converted["weird/cmyk.jpg"] and converted["weird/cmyk.jpg"].endswith(".png")
    assert converted[f"plain/{UNICODE_NAME}"] == str(messy_folder / "plain" / UNICODE_NAME)
    assert tree_digest(messy_folder) == before  # the user's files are untouched


def _all_batches(table):
    images, labels = [], []
    for x, y in make_dataset(table, image_size=24, batch_size=5):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_conversion_happens_once_and_revalidation_is_stable(messy_folder, lepton_home):
    cfg = DataConfig(dataset="folder", path=str(messy_folder), min_class_size=3)
    first = prepare_data(cfg, seed=3)
    converted = sorted((lepton_home / "converted").glob("*.png"))
    stamps = {p: p.stat().st_mtime_ns for p in converted}
    second = prepare_data(cfg, seed=3)
    assert len(converted) == 9
    assert {p: p.stat().st_mtime_ns for p in converted} == stamps  # not rewritten
    assert first.table.frame.equals(second.table.frame)
    assert not list((lepton_home / "converted").glob(".tmp-*"))


def test_unicode_names_end_to_end(tmp_path, lepton_home):
    root = make_class_folders(tmp_path / "données", {"chat_é": 3, "犬": 3})
    shutil.move(root / "犬" / "img_000.png", root / "犬" / UNICODE_NAME)
    prepared = prepare_data(DataConfig(dataset="folder", path=str(root)), seed=0)
    assert prepared.class_names == ["chat_é", "犬"]
    assert f"犬/{UNICODE_NAME}" in set(prepared.table.frame["ref"])
    images, labels = _all_batches(prepared.table)
    assert len(images) == 6 and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]


def test_one_class_is_a_data_error_with_the_report(tmp_path, lepton_home):
    root = make_class_folders(tmp_path / "one", {"only": 5, "broken": 0})
    (root / "broken" / "x.png").write_text("not an image")
    with pytest.raises(DataError, match="at least 2 classes.*only 'only'") as info:
        prepare_data(DataConfig(dataset="folder", path=str(root)), seed=0)
    report = info.value.report
    assert report is not None and "class broken has no usable images; left out" in report.warnings
    assert report.frame.set_index("ref").loc["broken/x.png", "status"] == "skipped"


def test_class_too_small_to_split_names_the_class(tmp_path, lepton_home):
    root = make_class_folders(tmp_path / "small", {"big": 6, "tiny": 2})
    with pytest.raises(DataError, match=r"at least 3 usable samples.*'tiny' has 2"):
        prepare_data(DataConfig(dataset="folder", path=str(root)), seed=0)


def test_tiny_and_imbalanced_classes_are_warned_about(tmp_path, lepton_home):
    root = make_class_folders(tmp_path / "imb", {"many": 13, "few": 4})
    prepared = prepare_data(DataConfig(dataset="folder", path=str(root), max_per_class=None, min_class_size=5),
                            seed=0)
    warnings = "\n".join(prepared.report.warnings)
    assert "class few is tiny: 4 usable samples" in warnings
    assert "imbalanced: many has 13 samples, few 4 (3.2x)" in warnings


def test_stop_event_cancels_validation(tmp_path, lepton_home):
    root = make_class_folders(tmp_path / "stop", {"a": 3, "b": 3})
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        prepare_data(DataConfig(dataset="folder", path=str(root)), seed=0, job=Job(stop_event=stop))
    assert not (lepton_home / "converted").exists() or not any((lepton_home / "converted").iterdir())


def test_check_image_file_reports_size_mode_and_hash(tmp_path, lepton_home):
    path = save(tmp_path / "x.png", Image.fromarray(noise(9, size=(7, 5))))
    check = check_image_file(path)
    assert (check.status, check.width, check.height, check.mode) == ("ok", 7, 5, "RGB")
    assert check.path == str(path) and len(check.sha256) == 64
    (tmp_path / "y.jpg").write_bytes(jpeg_bytes(4))
    assert check_image_file(tmp_path / "y.jpg").status == "ok"
    # Only the decoders a dataset needs are allowed: TIFF content behind a .png name is not an image here.
    Image.new("RGB", (4, 4)).save(tmp_path / "tiff.png", format="TIFF")
    tiff = check_image_file(tmp_path / "tiff.png")
    assert tiff.status == "skipped" and tiff.reason.startswith("not an image")


def test_files_table_for_prediction_keeps_order_and_reports_bad_files(tmp_path, lepton_home):
    tmp_path = tmp_path / "to predict"
    good = save(tmp_path / UNICODE_NAME, Image.new("RGB", (8, 8), (10, 20, 30)))
    cmyk = save(tmp_path / "c.jpg", Image.new("CMYK", (8, 8), (0, 0, 0, 0)))
    text = tmp_path / "t.png"
    text.write_text("nope")
    before = tree_digest(tmp_path)
    table, report = files_table([good, tmp_path / "missing.png", cmyk, text, good], ["a", "b"])
    assert table.frame["ref"].tolist() == [str(good), str(cmyk), str(good)]
    assert report.frame["status"].tolist() == ["ok", "skipped", "converted", "skipped", "ok"]
    assert report.frame.loc[1, "reason"] == "file not found" and "not an image" in report.frame.loc[3, "reason"]
    images = np.concatenate([x.numpy() for x in make_dataset(table, 8, 2, with_labels=False)])
    np.testing.assert_allclose(images[0].mean(axis=(0, 1)), [10, 20, 30], atol=1)
    np.testing.assert_allclose(images[1], 255.0, atol=1)  # CMYK (0,0,0,0) is white
    assert tree_digest(tmp_path) == before

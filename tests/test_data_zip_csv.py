"""Zip and CSV inputs: the good case works; hostile zips are refused before anything is written; CSV
problems are clear errors or reported rows."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from data_fixtures import lepton_home, make_class_folders, noise, tree_digest  # noqa: F401
from PIL import Image

from lepton_widgets.config import DataConfig
from lepton_widgets.core.data import DataError, make_dataset, prepare_data
from lepton_widgets.core.data.safe_zip import ZipLimits, extract_zip


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(noise(seed)).save(buffer, "PNG")
    return buffer.getvalue()


def _good_entries(top: str = "") -> dict[str, bytes]:
    return {f"{top}{cls}/{i}.png": _png(c * 10 + i) for c, cls in enumerate(("cats", "dogs")) for i in range(3)}


def _write_zip(path, entries: dict[str, bytes], extra=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if extra:
            extra(zf)
    return path


def test_zip_with_a_top_folder_works_and_extracts_once(tmp_path, lepton_home):
    entries = _good_entries("my photos/")
    entries["__MACOSX/my photos/._0.png"] = b"resource fork"
    archive = _write_zip(tmp_path / "photos.zip", entries)
    before = tree_digest(tmp_path)
    prepared = prepare_data(DataConfig(dataset="zip", path=str(archive)), seed=0)
    assert prepared.class_names == ["cats", "dogs"] and len(prepared.table) == 6
    assert set(prepared.report.frame["ref"]) == {f"{c}/{i}.png" for c in ("cats", "dogs") for i in range(3)}
    images, labels = next(iter(make_dataset(prepared.table, 16, 6)))
    assert images.shape == (6, 16, 16, 3) and sorted(labels.numpy().tolist()) == [0, 0, 0, 1, 1, 1]

    extracted = list((lepton_home / "extracted").iterdir())
    assert len(extracted) == 1 and (extracted[0] / ".lepton-complete").is_file()
    assert not (extracted[0] / "__MACOSX").exists()
    marker_time = (extracted[0] / ".lepton-complete").stat().st_mtime_ns
    assert extract_zip(archive) == extracted[0]  # idempotent: found, not redone
    assert (extracted[0] / ".lepton-complete").stat().st_mtime_ns == marker_time
    inside = f"lepton-home/extracted/{extracted[0].name}/"
    after = {k: v for k, v in tree_digest(tmp_path).items() if not k.startswith(inside)}
    assert after == before  # the zip is untouched and nothing was written beside the extraction folder
    assert not [p for p in (lepton_home / "extracted").iterdir() if p.name.startswith(".tmp-")]


def test_damaged_zip_entry_is_a_clear_error_and_leaves_nothing(tmp_path, lepton_home):
    entries = _good_entries()
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    raw = bytearray(archive.read_bytes())
    at = raw.index(entries["dogs/2.png"]) + 100
    raw[at] ^= 0xFF  # the stored bytes no longer match their CRC
    archive.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="'dogs/2.png' is damaged"):
        prepare_data(DataConfig(dataset="zip", path=str(archive)), seed=0)
    assert not list((lepton_home / "extracted").iterdir())


def _symlink(zf: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("cats/link.png")
    info.create_system = 3  # unix, so the mode bits count
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, "/etc/passwd")


@pytest.mark.parametrize("name, extra, message", [
    ("traversal", lambda zf: zf.writestr("../evil.png", _png(99)), r"'\.\./evil\.png' points outside.*traversal"),
    ("nested_traversal", lambda zf: zf.writestr("cats/../../evil.png", _png(99)), "path traversal"),
    ("absolute", lambda zf: zf.writestr("/tmp/evil.png", _png(99)), "'/tmp/evil.png' is an absolute path"),
    ("drive", lambda zf: zf.writestr("C:\\evil.png", _png(99)), "is an absolute path"),
    ("symlink", _symlink, "'cats/link.png' is a symbolic link"),
    ("bomb", lambda zf: zf.writestr("cats/bomb.png", b"\0" * (3 << 20)), r"compressed \d+:1 .*zip bomb"),
])
def test_hostile_zips_are_refused_and_nothing_is_written(tmp_path, lepton_home, name, extra, message):
    archive = _write_zip(tmp_path / f"{name}.zip", _good_entries(), extra)
    before = tree_digest(tmp_path)
    with pytest.raises(DataError, match=message):
        prepare_data(DataConfig(dataset="zip", path=str(archive)), seed=0)
    assert tree_digest(tmp_path) == before  # nothing new anywhere, LEPTON_HOME included
    assert not list((lepton_home / "extracted").iterdir())
    assert not list(tmp_path.parent.glob("evil.png")) and not list(tmp_path.rglob("evil.png"))


def test_zip_limits_on_entries_and_total_size(tmp_path, lepton_home):
    archive = _write_zip(tmp_path / "many.zip", _good_entries())
    with pytest.raises(DataError, match="6 entries is more than the limit of 5"):
        extract_zip(archive, ZipLimits(max_entries=5))
    with pytest.raises(DataError, match="unpacks to more than 1,000 bytes"):
        extract_zip(archive, ZipLimits(max_total_bytes=1000))
    with pytest.raises(DataError, match="not a readable zip"):
        extract_zip(_not_a_zip(tmp_path))


def _not_a_zip(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_text("hello")
    return path


def test_good_csv_with_problem_rows(tmp_path, lepton_home):
    root = make_class_folders(tmp_path / "imgs", {"cats": 4, "dogs": 4})
    absolute = root / "dogs" / "img_003.png"
    lines = ["\ufeff Path , Label ,note"]  # Excel's BOM, odd spacing and case, an extra column
    lines += [f"imgs/cats/img_{i:03d}.png,cats,x" for i in range(4)]
    lines += [f"imgs/dogs/img_{i:03d}.png,dogs," for i in range(3)]
    lines += [f"{absolute},dogs,", "imgs/cats/missing.png,cats,", "imgs/dogs/img_000.png,,", "", ",dogs,"]
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = tree_digest(tmp_path)
    prepared = prepare_data(DataConfig(dataset="csv", path=str(csv_path), min_class_size=3), seed=0)
    assert prepared.report.class_counts == {"cats": 4, "dogs": 4}
    rows = prepared.report.frame.set_index("ref")
    assert rows.loc["imgs/cats/missing.png", "status"] == "skipped"
    assert "file not found" in rows.loc["imgs/cats/missing.png", "reason"]
    problems = prepared.report.problems()
    assert "empty label (line 11)" in set(problems["reason"])
    assert "empty path (line 13)" in set(problems["reason"])
    assert rows.loc[str(absolute), "status"] == "ok"
    assert tree_digest(tmp_path) == before


def test_csv_with_wrong_columns_names_them(tmp_path, lepton_home):
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("filename,class\na.png,cats\n")
    with pytest.raises(DataError, match=r"needs the columns path, label; found columns: 'filename', 'class'; "
                                        r"missing: path, label"):
        prepare_data(DataConfig(dataset="csv", path=str(csv_path)), seed=0)


def test_non_utf8_csv_is_a_clear_error(tmp_path, lepton_home):
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes("path,label\ncafé.png,cats\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8 text .*byte 0xe9"):
        prepare_data(DataConfig(dataset="csv", path=str(csv_path)), seed=0)


def test_missing_inputs_are_clear_errors(tmp_path, lepton_home):
    with pytest.raises(DataError, match="folder not found"):
        prepare_data(DataConfig(dataset="folder", path=str(tmp_path / "nope")), seed=0)
    with pytest.raises(DataError, match="zip file not found"):
        prepare_data(DataConfig(dataset="zip", path=str(tmp_path / "nope.zip")), seed=0)
    with pytest.raises(DataError, match="data.path is required"):
        prepare_data(DataConfig(dataset="csv"), seed=0)
    with pytest.raises(DataError, match="unknown dataset 'mnist'; known: .*fashion_mnist"):
        prepare_data(DataConfig(dataset="mnist"), seed=0)

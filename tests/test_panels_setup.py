"""Dataset, Backbone, Freeze and Augment panels with real widgets, real data and real (tiny) models; no mocks.

Controls are driven the way ipywidgets' own tests do it (``.value = ...``, ``button.click()``); work that
the panels send to the Runner's worker thread or to a background redraw is awaited with ``runner.wait``
or the panel's ``wait``. Everything uses digits and small_cnn at 32 px, so the module takes well under a
minute.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import threading
import zipfile

import ipywidgets as w
import numpy as np
import pytest
from PIL import Image

from lepton_widgets.config import RunConfig
from lepton_widgets.core.backbones import availability, get_backbone, load_backbone
from lepton_widgets.core.tasks.image.model import build_transfer_model
from lepton_widgets.panels.augment import AugmentPanel
from lepton_widgets.panels.backbone import BackbonePanel
from lepton_widgets.panels.dataset import DatasetPanel
from lepton_widgets.panels.freeze import FreezePanel
from lepton_widgets.state import Runner, Session

TINY = dict(dataset="digits", backbone="small_cnn", weights="none", image_size=32, max_per_class=20)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Private caches (uploads, extracted zips, converted images) and an empty Keras cache (no ImageNet)."""
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "lepton-home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("LEPTON_MAX_UPLOAD_MB", raising=False)
    return tmp_path / "lepton-home"


def setup(tmp_path, **settings):
    session = Session(**{**TINY, **settings})
    return session, Runner(session, runs_dir=tmp_path / "runs")


def write_class_folders(root, classes=("cats", "dogs"), per_class=3, seed=0):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.random.default_rng(seed + 100 * c + i).integers(0, 256, (12, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def upload_entry(name: str, content: bytes, size: int | None = None) -> dict:
    return {"name": name, "type": "application/zip", "size": len(content) if size is None else size,
            "content": memoryview(content), "last_modified": dt.datetime.now(dt.timezone.utc)}


def png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def shown_trainable(panel: FreezePanel) -> int:
    match = re.search(r"lepton-trainable-number'>([\d,]+)<", panel.count.value)
    assert match, panel.count.value
    return int(match.group(1).replace(",", ""))


# --- Dataset panel ------------------------------------------------------------------------------------

def test_dataset_controls_and_session_stay_in_step(home, tmp_path, monkeypatch):
    session, runner = setup(tmp_path, dataset="fashion_mnist")
    panel = DatasetPanel(session, runner)
    assert panel.dataset_select.value == "fashion_mnist"
    panel.dataset_select.value = "digits"
    assert session.dataset == "digits"
    assert "CC BY 4.0" in panel.dataset_info.value and "real data" in panel.dataset_info.value
    assert panel.path.layout.display == "none"          # built-in data needs no path

    session.dataset = "folder"
    assert panel.dataset_select.value == "folder" and panel.path.layout.display == ""
    panel.path.value = " /data/pets "
    assert session.data_path == "/data/pets"
    panel.max_per_class.value = 0
    assert session.max_per_class is None                 # 0 in the box means "all"
    session.max_per_class = 7
    assert panel.max_per_class.value == 7

    assert "100 MB" in panel.upload_limit.value          # the default limit is stated
    monkeypatch.setenv("LEPTON_MAX_UPLOAD_MB", "5")
    assert "5 MB" in DatasetPanel(session, runner).upload_limit.value
    assert "lepton-dataset-select" in panel.dataset_select._dom_classes
    assert "lepton-check-data" in panel.check_button._dom_classes


def test_check_data_on_digits_runs_in_the_worker_and_fills_the_report(home, tmp_path):
    session, runner = setup(tmp_path)
    panel = DatasetPanel(session, runner)
    threads = []
    session.observe(lambda change: threads.append(threading.current_thread().name), "data_report")

    panel.check_button.click()
    assert runner.wait(120)
    assert session.status == "finished", session.last_error
    assert threads == ["lepton-prepare data"]            # drawn from the Runner's worker, not the click

    report = session.data_report
    assert html.escape(report.summary().splitlines()[0]) in panel.summary.value
    bars = panel.counts_figure.data[0]
    assert list(bars.x) == [str(d) for d in range(10)] and list(bars.y) == [20] * 10
    assert len(panel.sample_rows.children) == 10
    for row in panel.sample_rows.children:
        thumbs = row.children[1:]
        assert len(thumbs) == DatasetPanel.SAMPLES_PER_CLASS
        assert all(t.value[:4] == b"\x89PNG" for t in thumbs)
    assert "every file or sample was used" in panel.problems.value
    assert panel.progress.value == panel.progress.max == 1797 and panel.progress.bar_style == "success"
    assert not panel.check_button.disabled


def write_tone_folder(root, per_class=4, rate=16_000):
    """Two classes of one-second tones (low and high) as 16-bit mono WAVs."""
    import wave

    for name, hz in (("low", 300.0), ("high", 3000.0)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            t = np.arange(rate) / rate
            samples = np.rint(0.5 * 32767 * np.sin(2 * np.pi * (hz + 25 * i) * t)).astype("<i2")
            with wave.open(str(root / name / f"{i}.wav"), "wb") as out:
                out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate)
                out.writeframes(samples.tobytes())
    return root


def test_audio_data_shows_spectrograms_with_players_of_the_users_files(home, tmp_path):
    root = write_tone_folder(tmp_path / "sounds")
    session, runner = setup(tmp_path)
    panel = DatasetPanel(session, runner)
    listed = {value for _, value in panel.dataset_select.options}
    assert {"spoken_keywords", "wav_folder", "defects_synthetic", "traffic_signs_synthetic", "medical_demo",
            "medmnist", "gtsrb"} <= listed
    panel.dataset_select.value = "wav_folder"
    assert panel.path.layout.display == ""             # a user kind: the path box shows
    panel.path.value = str(root)
    assert session.data_path == str(root)

    panel.check_button.click()
    assert runner.wait(120)
    assert session.status == "finished", session.last_error
    assert len(panel.sample_rows.children) == 2
    for row in panel.sample_rows.children:
        name = row.children[0].value
        samples = row.children[1:]
        assert len(samples) == 4
        for sample in samples:
            spectrogram, player = sample.children
            assert spectrogram.value[:4] == b"\x89PNG"
            assert isinstance(player, w.Audio) and player.autoplay is False
            # the player plays one of this class's own files, byte for byte
            played = bytes(player.value)
            assert any(played == f.read_bytes() for f in (root / ("low" if "low" in name else "high")).iterdir())


def test_a_corrupt_file_is_listed_in_the_problems_table(home, tmp_path):
    root = write_class_folders(tmp_path / "pets")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    session, runner = setup(tmp_path, dataset="folder", data_path=str(root))
    panel = DatasetPanel(session, runner)

    panel.check_button.click()
    assert runner.wait(60)
    assert session.status == "finished", session.last_error
    table = panel.problems.value
    assert "<td>cats/broken.png</td><td>skipped</td>" in table
    assert "cats/0.png" not in table                      # usable files are not problems
    assert len(panel.sample_rows.children) == 2


def test_unusable_data_shows_the_error_and_the_skipped_files(home, tmp_path):
    root = write_class_folders(tmp_path / "one-class", classes=("cats",))
    (root / "cats" / "notes.txt").write_text("not an image")
    session, runner = setup(tmp_path, dataset="folder", data_path=str(root))
    panel = DatasetPanel(session, runner)

    panel.check_button.click()
    assert runner.wait(60)
    assert session.status == "failed"
    assert "at least 2 classes" in panel.error.value and "DataError" not in panel.error.value
    assert "<td>cats/notes.txt</td><td>skipped</td><td>unsupported file type .txt</td>" in panel.problems.value
    assert panel.progress.bar_style == "danger"
    assert panel.sample_rows.children == ()


def test_uploads_are_saved_or_explained(home, tmp_path, monkeypatch):
    session, runner = setup(tmp_path)
    panel = DatasetPanel(session, runner)
    uploads = home / "uploads"

    panel.upload.value = (upload_entry("empty.zip", b""),)
    assert "empty.zip arrived empty" in panel.upload_message.value
    assert session.dataset == "digits" and not any(uploads.glob("*.zip"))

    panel.upload.value = (upload_entry("notes.zip", b"hello"),)
    assert "not a zip file" in panel.upload_message.value

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(write_class_folders(tmp_path / "zipped").rglob("*.png")):
            zf.write(path, f"pets/{path.parent.name}/{path.name}")
    data = buffer.getvalue()
    panel.upload.value = (upload_entry("../pets.zip", data, size=len(data) + 10),)
    assert "arrived incomplete" in panel.upload_message.value

    monkeypatch.setenv("LEPTON_MAX_UPLOAD_MB", str(len(data) / 2**20 / 2))
    panel.upload.value = (upload_entry("pets.zip", data),)
    assert "more than the upload limit" in panel.upload_message.value and session.dataset == "digits"
    monkeypatch.delenv("LEPTON_MAX_UPLOAD_MB")

    panel.upload.value = (upload_entry("../pets.zip", data),)
    assert session.dataset == "zip" and panel.dataset_select.value == "zip"
    saved = session.data_path
    assert saved.startswith(str(uploads)) and saved.endswith("-pets.zip")
    assert open(saved, "rb").read() == data
    assert "Check data" in panel.upload_message.value and upload_button_text(panel) == "Upload zip (1)"
    assert all(len(entry["content"]) == 0 for entry in panel.upload.value)  # the bytes are freed

    panel.check_button.click()
    assert runner.wait(60)
    assert session.status == "finished", session.last_error
    assert [row.children[0].value for row in panel.sample_rows.children] == ["<b>cats</b>", "<b>dogs</b>"]


def upload_button_text(panel: DatasetPanel) -> str:
    """What the browser shows on the upload button: ipywidgets 8 draws ``f"{description} ({len(value)})"``."""
    return f"{panel.upload.description} ({len(panel.upload.get_state()['value'])})"


def browser_upload(panel: DatasetPanel, name: str, content: bytes) -> None:
    """A file chosen in the browser: the front-end's message, through the widget's own set_state."""
    panel.upload.set_state({"value": [{"name": name, "type": "application/zip", "size": len(content),
                                       "content": memoryview(content), "last_modified": 1.7e12}]})


def test_upload_button_counts_the_held_upload_and_a_zip_without_class_folders_is_explained_once(home, tmp_path):
    session, runner = setup(tmp_path)
    panel = DatasetPanel(session, runner)
    panel.check_button.click()                     # a first, good check (digits)
    assert runner.wait(60) and session.status == "finished"
    assert upload_button_text(panel) == "Upload zip (0)"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:        # pictures at the top level: no class folders
        for path in sorted(write_class_folders(tmp_path / "flat").rglob("*.png")):
            zf.write(path, f"{path.parent.name}-{path.name}")
    browser_upload(panel, "flat.zip", buffer.getvalue())
    assert session.dataset == "zip" and "flat.zip" in panel.upload_message.value
    # The button says the upload was taken (it read "Upload zip (0)", as if nothing had arrived).
    assert upload_button_text(panel) == "Upload zip (1)"
    assert all(len(entry["content"]) == 0 for entry in panel.upload.value)

    panel.check_button.click()
    assert runner.wait(60) and session.status == "failed"
    shown = html.unescape(re.sub(r"<[^>]+>", " ", panel.error.value))
    assert shown.count("class") >= 1 and shown.count("not inside a class folder") == 1, shown
    assert "found none" in shown and shown.count("found none") == 1, shown      # the error, once
    assert "report.problems" not in shown and "problems()" not in panel.summary.value, shown
    assert panel.stale.value == "", panel.stale.value   # no "settings changed since this check" left over
    assert "not inside a class folder" in panel.problems.value   # the files themselves are listed

    # The same file again is taken again.
    browser_upload(panel, "flat.zip", buffer.getvalue())
    assert upload_button_text(panel) == "Upload zip (1)" and "flat.zip" in panel.upload_message.value


def test_the_data_step_takes_a_test_folder_and_holds_nothing_out_of_the_training_data(home, tmp_path):
    train = write_class_folders(tmp_path / "train", per_class=5)
    test = write_class_folders(tmp_path / "test", per_class=3, seed=10_000)
    session, runner = setup(tmp_path, dataset="folder", data_path=str(train))
    panel = DatasetPanel(session, runner)
    assert panel.test_path.layout.display == ""               # shown for your own pictures, under the path
    panel.test_path.value = f"  {test}  "
    assert session.data_test_path == str(test) and session.to_config().data.test_path == str(test)
    panel.check_button.click()
    assert runner.wait(60) and session.status == "finished", session.last_error
    splits = session.prepared.table.frame.groupby("split").size().to_dict()
    assert splits == {"train": 8, "val": 2, "test": 6}, splits   # 5 per class: 4 train, 1 val; 3 per class test
    assert "6 test samples" in panel.summary.value
    session.dataset = "digits"
    assert panel.test_path.layout.display == ""               # still set: stays visible until emptied
    panel.test_path.value = ""
    assert session.data_test_path is None and panel.test_path.layout.display == "none"


# --- Backbone panel -----------------------------------------------------------------------------------

def test_backbone_controls_bind_and_describe_the_backbone(home, tmp_path):
    session, runner = setup(tmp_path, image_size=16)
    panel = BackbonePanel(session, runner)
    assert (panel.image_size.min, panel.image_size.max, panel.image_size.value) == (16, 512, 16)
    assert panel.wait(60)
    expected = load_backbone(get_backbone("small_cnn"), "none", 32).count_params()
    assert f">{expected:,}</span>" in panel.param_count.value

    panel.backbone_select.value = "mobilenet_v2"
    assert session.backbone == "mobilenet_v2"
    assert (panel.image_size.min, panel.image_size.max) == (32, 512)
    assert session.image_size == 32 and "set to 32" in panel.note.value   # 16 is below its minimum
    assert "1280 per image" in panel.info.value
    session.image_size = 64
    assert panel.image_size.value == 64
    panel.image_size.value = 96
    assert session.image_size == 96
    panel.weights_select.value = "none"
    assert session.weights == "none" and panel.notice.layout.display == "none"
    panel.weights_select.value = "file"
    panel.weights_path.value = "/models/mine.weights.h5"
    assert session.weights == "/models/mine.weights.h5"
    assert "does not exist" in panel.notice.value


def test_imagenet_offline_is_listed_as_unavailable_with_the_reason(home, tmp_path):
    session, runner = setup(tmp_path, backbone="mobilenet_v2", weights="offline", image_size=96)
    panel = BackbonePanel(session, runner)
    labels = dict((value, label) for label, value in panel.weights_select.options)
    assert "unavailable here" in labels["imagenet"] and "unavailable" not in labels["offline"]
    ok, reason = availability(get_backbone("mobilenet_v2"), "imagenet", 96)
    assert not ok and html.escape(reason) in panel.sources.value     # shown, not hidden

    panel.weights_select.value = "imagenet"
    assert session.weights == "imagenet"                             # the choice is kept...
    assert panel.notice.layout.display != "none"                     # ...and the reason is prominent
    assert html.escape(reason) in panel.notice.value and "cannot be used here" in panel.notice.value

    panel.backbone_select.value = "small_cnn"
    labels = dict((value, label) for label, value in panel.weights_select.options)
    assert "not offered by small_cnn" in labels["imagenet"]
    assert "does not offer" in panel.notice.value


# --- Freeze panel -------------------------------------------------------------------------------------

def test_frozen_depth_slider_shows_the_models_trainable_count(home, tmp_path):
    session, runner = setup(tmp_path)
    panel = FreezePanel(session, runner)
    assert panel.wait(60)
    tm = build_transfer_model(RunConfig.from_dict({"backbone": {"name": "small_cnn", "weights": "none",
                                                                "image_size": 32}}), num_classes=10)
    n = tm.n_blocks
    # Random weights (TINY): every block trains by default (issue 12: a frozen random backbone learns nothing).
    assert (panel.slider.max, panel.slider.value, panel.slider.disabled) == (n, 0, False)
    assert shown_trainable(panel) == tm.trainable_params_at(0)

    figure = panel.figure
    shown = []
    for depth in range(n + 1):
        panel.slider.value = depth
        shown.append(shown_trainable(panel))
        assert shown[-1] == tm.trainable_params_at(depth)
        assert session.frozen_depth == (None if depth == n else depth)
        frozen, trainable = panel.figure.data
        assert len(frozen.x) == depth and len(trainable.x) == n - depth + 1     # + the new head
    assert all(a > b for a, b in zip(shown, shown[1:]))                          # fewer as more freeze
    assert panel.figure is figure                                                # slider moves: in place

    session.frozen_depth = 1
    assert panel.slider.value == 1 and shown_trainable(panel) == tm.trainable_params_at(1)
    assert panel.figure is not figure and len(panel.figure.data[0].x) == 1      # code changes: rebuilt
    session.frozen_depth = None
    assert panel.slider.value == n
    session.frozen_depth = n + 5
    assert session.frozen_depth is None and "set to all frozen" in panel.note.value


def test_freeze_panel_says_why_there_is_no_model(home, tmp_path):
    session, runner = setup(tmp_path, backbone="mobilenet_v2", weights="imagenet", image_size=96)
    panel = FreezePanel(session, runner)
    assert panel.slider.disabled and panel.figure is None
    assert "ImageNet weights not in the Keras cache" in panel.status.value

    with session.hold_trait_notifications():
        session.backbone, session.weights, session.image_size = "small_cnn", "none", 32
    assert panel.wait(60)
    assert not panel.slider.disabled and panel.status.value == "" and panel.figure is not None


# --- Augment panel ------------------------------------------------------------------------------------

def test_augment_preview_changes_pixels_when_rotation_is_on(home, tmp_path):
    session, runner = setup(tmp_path)
    panel = AugmentPanel(session, runner)
    assert panel.wait(60)
    assert "digits" in panel.caption.value and "No augmentation" in panel.message.value
    for original, copies in zip(panel.originals, panel.copies):
        assert all(copy.value == original.value for copy in copies)

    panel.controls["rotation"].value = 0.25
    assert session.rotation == 0.25
    assert panel.wait(60) and panel.message.value == ""
    changed = [np.abs(png_pixels(copy.value) - png_pixels(original.value)).mean()
               for original, copies in zip(panel.originals, panel.copies) for copy in copies]
    assert min(changed) > 1.0                       # every copy is visibly rotated

    session.zoom = 0.3
    assert panel.controls["zoom"].value == 0.3
    panel.controls["flip"].value = "horizontal"
    assert session.flip == "horizontal"
    assert "lepton-augment-preview" in panel.grid._dom_classes


def test_sound_augmentations_show_for_audio_and_reach_the_config_and_preview(home, tmp_path):
    from lepton_widgets.core.data import prepare_data

    root = write_tone_folder(tmp_path / "sounds")
    session, runner = setup(tmp_path)
    panel = AugmentPanel(session, runner)
    assert panel.sound_box.layout.display == "none"          # digits: images, no sound controls
    session.dataset, session.data_path = "wav_folder", str(root)
    assert panel.sound_box.layout.display == ""
    session.prepared = prepare_data(session.to_config().data, session.seed)
    assert panel.wait(60) and "checked data" in panel.caption.value
    for original, copies in zip(panel.originals, panel.copies):
        assert all(copy.value == original.value for copy in copies)

    panel.controls["gain_db"].value = 12.0
    panel.controls["time_mask"].value = 0.3
    assert (session.gain_db, session.time_mask) == (12.0, 0.3)
    augment = session.to_config().augment
    assert (augment.gain_db, augment.time_mask) == (12.0, 0.3)
    assert panel.wait(60) and panel.message.value == ""
    changed = [np.abs(png_pixels(copy.value) - png_pixels(original.value)).mean()
               for original, copies in zip(panel.originals, panel.copies) for copy in copies]
    assert min(changed) > 1.0                                # every copy is visibly louder/quieter or masked


def test_a_users_table_is_checked_with_its_class_column_and_shows_rows_per_class(home, tmp_path):
    import hashlib

    rng = np.random.default_rng(0)
    csv = tmp_path / "loans.csv"
    lines = ["amount,purpose,outcome"] + [f"{rng.integers(100, 9000)},{rng.choice(['car', 'tv', 'home'])},"
                                           f"{'good' if i % 3 else 'bad'}" for i in range(60)]
    csv.write_text("\n".join(lines) + "\n")
    before = hashlib.sha256(csv.read_bytes()).hexdigest()
    session, runner = setup(tmp_path)
    panel = DatasetPanel(session, runner)
    assert panel.target.layout.display == "none"           # images have no class column
    panel.dataset_select.value = "table_csv"
    assert panel.target.layout.display == "" and panel.path.layout.display == ""
    panel.path.value = str(csv)
    panel.target.value = "outcom"                         # a typo: the check names the close match
    panel.check_button.click()
    assert runner.wait(60)
    assert session.status == "failed" and "outcome" in panel.error.value

    panel.target.value = "outcome"
    assert session.to_config().data.target == "outcome"
    panel.check_button.click()
    assert runner.wait(60)
    assert session.status == "finished", session.last_error
    assert session.prepared is None                       # tables are not image previews
    assert session.data_report.class_counts == {"bad": 20, "good": 20}  # 40 good, capped at max_per_class
    shown = panel.sample_rows.children[0].value
    assert shown.count("<tr>") == 1 + 2 * DatasetPanel.SAMPLES_PER_CLASS
    assert "amount<br><small>numeric" in shown and "purpose<br><small>categorical" in shown
    assert hashlib.sha256(csv.read_bytes()).hexdigest() == before


def test_augment_panel_says_tables_have_no_augmentation(home, tmp_path):
    session, runner = setup(tmp_path)
    panel = AugmentPanel(session, runner)
    assert panel.wait(60)
    session.dataset = "german_credit"
    assert "Tables train without augmentation" in panel.message.value
    assert panel.sound_box.layout.display == "none"


def test_a_text_folder_is_checked_and_shows_texts_per_class(home, tmp_path):
    root = tmp_path / "notes"
    for name, words in (("praise", "lovely tasty fresh"), ("complaint", "stale broken late")):
        (root / name).mkdir(parents=True)
        for i in range(5):
            (root / name / f"{i}.txt").write_text(f"note {i}: {words} {i}", encoding="utf-8")
    (root / "praise" / "latin.txt").write_bytes("caf\xe9 cr\xe8me tasty".encode("latin-1"))
    session, runner = setup(tmp_path)
    panel = DatasetPanel(session, runner)
    panel.dataset_select.value = "text_folder"
    assert panel.path.layout.display == "" and panel.target.layout.display == "none"
    panel.path.value = str(root)
    panel.check_button.click()
    assert runner.wait(60)
    assert session.status == "finished", session.last_error
    assert session.prepared is None and session.data_report.class_counts == {"complaint": 5, "praise": 6}
    shown = panel.sample_rows.children[0].value
    assert shown.count("<tr>") == 1 + 2 * DatasetPanel.SAMPLES_PER_CLASS
    assert "stale broken late" in shown and "lovely tasty fresh" in shown
    assert "latin.txt" in panel.problems.value                  # read as Latin-1, and reported


def test_text_augmentation_controls_preview_example_sentences(home, tmp_path):
    from lepton_widgets.panels.augment import EXAMPLE_TEXTS

    session, runner = setup(tmp_path)
    panel = AugmentPanel(session, runner)
    assert panel.text_box.layout.display == "none"
    session.dataset = "text_csv"
    assert panel.text_box.layout.display == "" and panel.grid.layout.display == "none"
    assert panel.text_preview.value.count(html.escape(EXAMPLE_TEXTS[0])) == 3   # no augmentation: copies equal
    panel.controls["word_dropout"].value = 0.5
    assert session.to_config().augment.word_dropout == 0.5
    shown = panel.text_preview.value
    assert shown.count(html.escape(EXAMPLE_TEXTS[0])) == 1                     # the copies lost words
    assert shown.count("<tr>") == 1 + len(EXAMPLE_TEXTS)

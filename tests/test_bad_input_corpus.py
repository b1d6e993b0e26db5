"""Our own bad-input corpus (issue 13): over 100 bad inputs, made here in ``tmp_path``, through the user's view.

Categories: images, zips, CSVs of images, tables, texts, WAVs, configs, models, run ids and runs folders.
Each case runs through the real CLI (``lepton_widgets.cli.main``: argument parsing, error reporting and exit
code, exactly what ``lepton`` runs) or the API (``prepare_data``: what a run or the Data step sees of the
files), several cases per subprocess so the corpus stays fast. Every case asserts:

* the message names the problem (a regex per case);
* no traceback reaches the user;
* the user's input files are byte-identical afterwards (sha256 of every file before and after);
* no half-written run looks complete (no run folder with a final record unless it truly finished);
* peak memory stays bounded (``ru_maxrss`` of each subprocess, via ``RUSAGE_CHILDREN`` and its own report).

The resource cases (a 50 MB cell, a 1 Hz WAV, a "billion laughs" config, a 17 MB text file) run in their own
subprocess, so their peak is measured alone. One real ``lepton train`` on a folder full of damaged files
checks that the terminal says what was skipped and converted, and where the full report is.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import traceback
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import yaml
from PIL import Image

#: Peak resident memory a batch of cases may reach (TensorFlow's import alone is several hundred MB; the
#: failures this guards against passed 2-3 GB).
MAX_RSS_BYTES = 1800 << 20
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".*\", line \d+", re.M)


@dataclass
class Case:
    """One bad input: how to run it (``argv`` for the CLI, or ``data`` for ``prepare_data``), what the user
    must read (``expect``, a regex), and whether it is refused (non-zero exit / DataError) or accepted with
    a report (``accepted``)."""

    name: str
    category: str
    expect: str
    argv: Optional[list] = None
    data: Optional[dict] = None
    accepted: bool = False
    heavy: bool = False


@dataclass
class Outcome:
    name: str
    rc: Optional[int]
    output: str
    seconds: float
    raised: bool = False


# ----------------------------------------------------------------------------------------------- the driver

def drive(cases_file: str) -> None:
    """Run the cases in ``cases_file`` in this process, one after another; print one JSON line of outcomes."""
    import lepton_widgets.core.data.audio.loaders  # noqa: F401  (registers wav_folder, wav_zip)
    import lepton_widgets.core.tasks.tabular.data  # noqa: F401  (registers table_csv)
    import lepton_widgets.core.tasks.text.data  # noqa: F401  (registers text_csv, text_folder)
    from lepton_widgets.cli import main

    cases = [Case(**c) for c in json.loads(Path(cases_file).read_text())]
    outcomes = []
    for case in cases:
        out, started, raised, rc = io.StringIO(), time.monotonic(), False, None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                rc = main(case.argv) if case.argv is not None else _prepare(case.data)
            except SystemExit as exit_:  # argparse refusals exit like the real command does
                rc = exit_.code if isinstance(exit_.code, int) else 2
            except BaseException:  # what would reach the user as a traceback
                raised, rc = True, None
                out.write(traceback.format_exc())
        outcomes.append(asdict(Outcome(case.name, rc, out.getvalue(), time.monotonic() - started, raised)))
    # VmHWM, not ru_maxrss: Linux carries the parent's resident size at fork into the child's ru_maxrss, so
    # in a full test session (pytest at 2.5 GB) every batch would "peak" at pytest's size.
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())[1]) * 1024
    print("CORPUS-RESULT " + json.dumps({"outcomes": outcomes, "peak_rss": peak}))


def _prepare(data: dict) -> int:
    """The API's view of a dataset: validate and report it (what a run or the Data step does first)."""
    from lepton_widgets.config import DataConfig
    from lepton_widgets.core.data import prepare_data
    from lepton_widgets.core.tasks import task_for_dataset
    from lepton_widgets.core.data.table import DataError
    from lepton_widgets.core.tasks.tabular.data import prepare_table
    from lepton_widgets.core.tasks.text.data import prepare_texts

    prepare = {"tabular": prepare_table, "text": prepare_texts}.get(task_for_dataset(data["dataset"]).name,
                                                                         prepare_data)
    try:
        prepared = prepare(DataConfig(**data), seed=1)
    except DataError as error:
        print(f"DataError: {error}")
        return 2
    report = getattr(prepared, "prepared", prepared).report  # tables and texts wrap a PreparedData
    for row in report.frame.itertuples():
        print(f"{row.ref}: {row.status}: {row.reason}")
    for text in report.warnings + report.notes:
        print(f"warning: {text}")
    return 0


def _run_batch(cases: list[Case], work: Path, label: str) -> tuple[dict[str, dict], int]:
    """Run ``cases`` in one fresh Python process; outcomes by name and the process's peak RSS in bytes."""
    cases_file = work / f"cases-{label}.json"
    cases_file.write_text(json.dumps([asdict(c) for c in cases]))
    tests = Path(__file__).parent
    code = f"import sys; sys.path.insert(0, {str(tests)!r}); import test_bad_input_corpus as t; t.drive(sys.argv[1])"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "LEPTON_RUNS": str(work / "default-runs")}
    proc = subprocess.run([sys.executable, "-c", code, str(cases_file)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=work)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CORPUS-RESULT ")), None)
    assert line is not None, f"batch {label} died (rc {proc.returncode}): {proc.stderr[-3000:]}"
    result = json.loads(line.removeprefix("CORPUS-RESULT "))
    return {o["name"]: o for o in result["outcomes"]}, result["peak_rss"]


# ------------------------------------------------------------------------------------------ making inputs

def _png(path: Path, size=(12, 12), mode="RGB", color=0, fmt="PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32 + color)
    if mode in ("RGB", "RGBA", "CMYK"):
        pixels = rng.integers(0, 255, (*size[::-1], len(mode)), dtype=np.uint8)
        Image.fromarray(pixels[..., :3] if mode == "RGB" else pixels, mode if mode != "CMYK" else None).convert(
            mode).save(path, fmt)
    elif mode == "I;16":
        Image.fromarray(rng.integers(0, 65535, size[::-1], dtype=np.uint16)).save(path, fmt)
    elif mode == "P":
        Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).convert("P").save(path, fmt)
    else:
        Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8), mode).save(path, fmt)
    return path


def _class_folder(root: Path, classes=("cat", "dog"), per_class=4) -> Path:
    for c, name in enumerate(classes):
        for i in range(per_class):
            _png(root / name / f"{name}{i}.png", color=c * 50 + i)
    return root


def _wav(path: Path, rate=16000, channels=1, bits=16, frames=1600, fmt_tag=1, data: Optional[bytes] = None,
         fmt_size=16, declared_data: Optional[int] = None, block: Optional[int] = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = channels * bits // 8 if block is None else block
    body = data if data is not None else (np.sin(np.arange(frames * channels) / 5) * 3000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)[:fmt_size]
    fmt = fmt.ljust(fmt_size, b"\0")
    chunks = b"fmt " + struct.pack("<I", fmt_size) + fmt
    chunks += b"data" + struct.pack("<I", len(body) if declared_data is None else declared_data) + body
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    return path


def _wav_folder(root: Path, per_class=4) -> Path:
    for c, name in enumerate(("yes", "no")):
        for i in range(per_class):
            _wav(root / name / f"{name}{i}.wav", frames=1600 + 37 * i + 400 * c)
    return root


def _config(path: Path, data: Optional[dict] = None, **sections) -> Path:
    raw = {"name": "corpus", "seed": 1,
           "data": {"dataset": "digits", "max_per_class": 5, **(data or {})},
           "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32, "frozen_depth": 0},
           "train": {"epochs": 1, "fine_tune_epochs": 0, "batch_size": 8}}
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def _fake_run(runs: Path, run_id: str, files: dict[str, str]) -> Path:
    folder = runs / run_id
    folder.mkdir(parents=True)
    base = {"run.json": json.dumps({"run_id": run_id, "status": "finished", "started": 0, "finished": 1}),
            "config.json": json.dumps({"name": "x", "data": {"dataset": "digits"}}),
            "metrics.json": json.dumps({"accuracy": 0.5})}
    for name, text in {**base, **files}.items():
        (folder / name).write_text(text)
    return folder


def build_cases(root: Path) -> list[Case]:
    """Write every bad input under ``root/inputs`` and return the cases that use them."""
    inp = root / "inputs"
    runs = root / "runs"
    cases: list[Case] = []

    def train(name, category, expect, data=None, argv_extra=(), accepted=False, heavy=False, config=None, **sect):
        cfg = config or _config(inp / "configs" / f"{name}.yaml", data, **sect)
        cases.append(Case(name, category, expect, ["--runs-dir", str(runs), "train", str(cfg), *argv_extra],
                          accepted=accepted, heavy=heavy))

    def data(name, category, expect, accepted=True, heavy=False, **cfg):
        cases.append(Case(name, category, expect, data={"max_per_class": None, **cfg}, accepted=accepted,
                          heavy=heavy))

    def cli(name, category, expect, *argv, accepted=False, runs_dir=runs):
        cases.append(Case(name, category, expect, ["--runs-dir", str(runs_dir), *argv], accepted=accepted))

    # ---- images: a folder of class folders holding one bad file each (accepted: the file is reported)
    def image_case(name, writer, expect, accepted=True):
        folder = _class_folder(inp / "images" / name)
        writer(folder / "cat")
        data(f"image-{name}", "images", expect, accepted=accepted, dataset="folder", path=str(folder))

    image_case("random-bytes", lambda d: (d / "bad.png").write_bytes(_noise(300)),
               r"bad\.png: skipped: not an image")
    image_case("truncated", lambda d: (d / "cut.png").write_bytes(_png(d / "whole.png", (64, 64)).read_bytes()[:200]),
               r"cut\.png: skipped: corrupt or truncated")
    image_case("empty-file", lambda d: (d / "empty.png").write_bytes(b""), r"empty\.png: skipped: .*empty")
    image_case("text-as-jpg", lambda d: (d / "notes.jpg").write_text("hello, I am text"),
               r"notes\.jpg: skipped: not an image")
    image_case("gif", lambda d: _png(d / "anim.gif", mode="P", fmt="GIF"), r"anim\.gif: converted: converted from GIF")
    image_case("cmyk-jpeg", lambda d: _png(d / "print.jpg", mode="CMYK", fmt="JPEG"), r"print\.jpg: converted: .*CMYK")
    image_case("16-bit", lambda d: _png(d / "deep.png", mode="I;16"), r"deep\.png: converted: .*16-bit")
    image_case("alpha", lambda d: _png(d / "clear.png", mode="RGBA"), r"clear\.png: converted: .*transparency")
    image_case("palette", lambda d: _png(d / "pal.png", mode="P"), r"pal\.png: converted: converted from PNG P ")
    image_case("one-pixel", lambda d: _png(d / "dot.png", size=(1, 1)), r"dot\.png: (skipped: .*small|ok|converted)")
    image_case("symlink-outside", lambda d: (d / "link.png").symlink_to(_png(inp / "outside" / "o.png")),
               r"link\.png: (ok|skipped)")  # a link to a readable picture is read like the picture
    image_case("dangling-symlink", lambda d: (d / "gone.png").symlink_to(inp / "nowhere.png"),
               r"gone\.png: skipped: cannot read file: No such file")
    image_case("not-an-image-ext", lambda d: (d / "readme.txt").write_text("notes"),
               r"readme\.txt: skipped: unsupported file type \.txt")
    image_case("hidden-file", lambda d: (d / ".DS_Store").write_bytes(b"\0\0\0\1Bud1"),
               r"cat0\.png: ok")  # hidden files are not data: ignored, the rest used
    image_case("bomb", lambda d: Image.new("1", (12000, 12000)).save(d / "bomb.png"),
               r"bomb\.png: skipped: decompression bomb")
    image_case("duplicate-other-label",
               lambda d: (d / "copy.png").write_bytes((d.parent / "dog" / "dog0.png").read_bytes()),
               r"same content as .*dog0\.png")
    image_case("empty-class", lambda d: (d.parent / "bird").mkdir(), r"class bird has no usable images")

    def corrupt_class(d: Path) -> None:
        (d.parent / "fish").mkdir()
        for i in range(3):
            (d.parent / "fish" / f"f{i}.png").write_bytes(b"x" * 50)

    image_case("class-of-corrupt-files", corrupt_class, r"class fish has no usable images")
    image_case("class-of-two", lambda d: [_png(d.parent / "owl" / f"o{i}.png", color=90 + i) for i in range(2)],
               r"'owl' has 2", accepted=False)
    image_case("png-named-jpg", lambda d: _png(d / "mislabelled.jpg"), r"mislabelled\.jpg: (ok|converted)")
    image_case("huge-name", lambda d: _png(d / ("n" * 200 + ".png")), r"n{200}\.png: (ok|converted)")
    image_case("unicode-name", lambda d: _png(d / "café ☕.png"), r"café ☕\.png: (ok|converted)")
    image_case("zero-height-header", lambda d: (d / "zero.png").write_bytes(
        _png(d / "z.png").read_bytes()[:16] + struct.pack(">II", 0, 0) + b"\x08\x02\0\0\0" + b"\0" * 40),
        r"zero\.png: skipped")
    # refusals of the whole image folder
    only_one = inp / "images" / "one-class"
    [_png(only_one / "cat" / f"c{i}.png", color=i) for i in range(4)]
    data("image-one-class", "images", r"at least 2 classes", accepted=False, dataset="folder", path=str(only_one))
    all_bad = inp / "images" / "all-bad"
    for c in ("a", "b"):
        for i in range(3):
            (all_bad / c).mkdir(parents=True, exist_ok=True)
            (all_bad / c / f"{i}.png").write_bytes(b"junk" * i)
    data("image-all-bad", "images", r"not usable", accepted=False, dataset="folder", path=str(all_bad))
    (inp / "images" / "empty").mkdir(parents=True)
    data("image-empty-folder", "images", r"No files or samples were found", accepted=False, dataset="folder",
         path=str(inp / "images" / "empty"))
    flat = inp / "images" / "flat"
    [_png(flat / f"{i}.png", color=i) for i in range(6)]
    data("image-no-class-folders", "images", r"not inside a class folder", accepted=False, dataset="folder",
         path=str(flat))
    train("image-folder-missing", "images", r"folder not found: .*nope",
          data={"dataset": "folder", "path": str(inp / "images" / "nope")})
    train("image-folder-is-a-file", "images", r"folder not found: .*single\.png",
          data={"dataset": "folder", "path": str(_png(inp / "images" / "single.png"))})

    # ---- zips
    def zip_case(name, entries, expect, accepted=False, raw: Optional[bytes] = None):
        path = inp / "zips" / f"{name}.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        if raw is not None:
            path.write_bytes(raw)
        else:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for arcname, payload in entries:
                    if isinstance(payload, zipfile.ZipInfo):
                        zf.writestr(payload, b"../../etc/passwd")
                    else:
                        zf.writestr(arcname, payload)
        data(f"zip-{name}", "zips", expect, accepted=accepted, dataset="zip", path=str(path))

    good = [(f"{c}/{c}{i}.png", _png(inp / "zips" / "src" / c / f"{c}{i}.png", color=i + 9 * k).read_bytes())
            for k, c in enumerate(("cat", "dog")) for i in range(4)]
    zip_case("text-not-zip", None, r"is not a readable zip file", raw=b"this is not a zip at all")
    zip_case("empty-bytes", None, r"is not a readable zip file", raw=b"")
    zip_case("empty-zip", [], r"No files or samples were found")
    zip_case("truncated", None, r"truncated\.zip is not a readable zip file",
             raw=(lambda b: b[: len(b) // 2])(_zip_bytes(good)))
    zip_case("traversal", good + [("../../evil.png", good[0][1])], r"refused to extract .*travers")
    zip_case("absolute-path", good + [("/tmp/abs.png", good[0][1])], r"refused to extract .*absolute path")
    link = zipfile.ZipInfo("cat/link.png")
    link.external_attr = (0o120777 << 16)
    zip_case("symlink-entry", good + [("cat/link.png", link)], r"refused to extract .*symbolic link")
    zip_case("bomb", good + [("cat/zeros.png", b"\0" * (60 << 20))], r"refused to extract .*zip bomb")
    zip_case("nested-zip", good + [("cat/inner.zip", _zip_bytes(good[:2]))], r"inner\.zip: skipped", accepted=True)
    zip_case("bad-crc", None, r"damaged .*CRC",
             raw=_corrupt_crc(_zip_bytes(good, stored=True)))
    zip_case("one-class", good[:4], r"at least 2 classes")
    zip_case("macos-junk", good + [("__MACOSX/cat/._cat0.png", b"\0\5\26\7junk")], r"cat0\.png: ok", accepted=True)
    train("zip-missing", "zips", r"zip file not found: .*gone\.zip",
          data={"dataset": "zip", "path": str(inp / "zips" / "gone.zip")})

    # ---- CSVs of images (path,label)
    imgs = _class_folder(inp / "csv-images")

    def csv_case(name, text, expect, accepted=False, binary: Optional[bytes] = None):
        path = inp / "csvs" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(binary if binary is not None else text.encode("utf-8"))
        data(f"csv-{name}", "csvs", expect, accepted=accepted, dataset="csv", path=str(path))

    rows = "".join(f"{imgs / c / f'{c}{i}.png'},{c}\n" for c in ("cat", "dog") for i in range(4))
    csv_case("empty", "", r"needs the columns path, label; found columns: none \(empty file\)")
    csv_case("header-only", "path,label\n", r"No files or samples were found")
    csv_case("no-label-column", "path,kind\n" + rows, r"missing: label")
    csv_case("no-path-column", "file,label\n" + rows, r"missing: path")
    csv_case("missing-files", "path,label\n" + rows + "/no/such/file.png,cat\n", r"file\.png: skipped: file not found",
             accepted=True)
    csv_case("relative-escape", "path,label\n" + rows + "../" * 30 + "etc/hostname,cat\n",
             r"etc/hostname: skipped: (unsupported file type|file not found)", accepted=True)
    csv_case("binary", "", r"binary\.csv is not UTF-8 text", binary=_noise(400) + b"\0" * 10)
    csv_case("nul-bytes", "path,label\n" + rows.replace(",cat\n", ",c\0at\n", 1), r"(NUL|null|\\x00|binary)")
    csv_case("latin-1", "", r"not UTF-8 text .*save it as UTF-8",
             binary=("path,label\n" + rows + f"{imgs / 'cat' / 'cat0.png'},caf\xe9\n").encode("latin-1"))
    csv_case("empty-labels", "path,label\n" + rows + f"{imgs / 'cat' / 'cat1.png'},\n",
             r"cat1\.png: skipped: empty label",
             accepted=True)
    csv_case("formula-labels", "path,label\n" + rows.replace(",cat\n", ",=HYPERLINK(\"http://x\")\n"),
             r"class =HYPERLINK", accepted=True)
    csv_case("ragged", "path,label\n" + rows + "a,b,c,d\n", r"a: skipped: file not found", accepted=True)
    csv_case("semicolons", "path;label\n" + rows.replace(",", ";"), r"found columns: 'path;label'")
    csv_case("directory-as-path", "path,label\n" + rows + f"{imgs / 'cat'},cat\n", r"cat: skipped: file not found",
             accepted=True)

    # ---- tables (table_csv)
    def table_case(name, text, expect, target="outcome", accepted=False, binary=None, heavy=False):
        path = inp / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(binary if binary is not None else text.encode("utf-8"))
        data(f"table-{name}", "tables", expect, accepted=accepted, heavy=heavy, dataset="table_csv", path=str(path),
             target=target)

    body = "".join(f"{i},{i % 7 * 1.5},{'red' if i % 3 else 'blue'},{'good' if i % 2 else 'bad'}\n" for i in range(40))
    table = "id,amount,colour,outcome\n" + body
    table_case("target-missing", table, r"target column 'result' not found", target="result")
    table_case("empty", "", r"empty\.csv is empty")
    table_case("header-only", "id,amount,colour,outcome\n", r"has a header .* but no rows")
    table_case("one-class", table.replace("bad", "good"), r"at least 2 classes")
    table_case("all-features-empty", "id,amount,colour,outcome\n" + "".join(f",,,{'a' if i % 2 else 'b'}\n"
                                                                               for i in range(20)),
               r"no usable feature column besides the target 'outcome' \(id: empty")
    table_case("binary", "", r"binary\.csv contains NUL bytes", binary=b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + _noise(500))
    table_case("duplicate-columns",
               "id,id,outcome\n" + "".join(f"{i},{i},{'a' if i % 2 else 'b'}\n" for i in range(30)),
               r"line 2: ok", accepted=True)  # read as columns id and id.1 (pandas renames); nothing breaks
    table_case("ragged", table + "1,2,3,4,5,6,7\n", r"not a well-formed CSV file: .*Expected 4 fields in line 42")
    table_case("latin-1", "", r"read as Latin-1", accepted=True,
               binary=("id,amount,colour,outcome\n" + body + "99,1.0,ros\xe9,good\n").encode("latin-1"))
    table_case("formula-cells", "id,amount,colour,outcome\n" + body.replace("red", "=1+2"), r"line 2: ok",
               accepted=True)
    table_case("only-target", "outcome\n" + "".join(f"{'a' if i % 2 else 'b'}\n" for i in range(20)),
               r"(no (feature|other|input) columns?|only the (target|class))")
    table_case("huge-cell", "", r"cell on line 42 is longer than 100,000 characters", heavy=True,
               binary=(table + "41,1.0," + "x" * (50 << 20) + ",good\n").encode())
    table_case("too-many-rows", "", r"more than 2,000,000 rows", heavy=True,
               binary=("a,outcome\n" + "1,x\n2,y\n" * 1_100_000).encode())
    table_case("nul-bytes", table.replace("red", "r\0ed", 1), r"contains NUL bytes")
    table_case("missing-file", "", r"missing-file\.csv' not found", binary=b"")
    (inp / "tables" / "missing-file.csv").unlink()  # written then removed: the path names nothing

    # ---- texts
    def text_csv(name, text, expect, accepted=False, binary=None, target=None):
        path = inp / "texts" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(binary if binary is not None else text.encode("utf-8"))
        data(f"text-{name}", "texts", expect, accepted=accepted, dataset="text_csv", path=str(path), target=target)

    lines = "".join(f"\"review number {i} says {'great' if i % 2 else 'poor'} things\",{'pos' if i % 2 else 'neg'}\n"
                    for i in range(20))
    text_csv("no-label", "text,mood\n" + lines, r"label column 'label' not found")
    text_csv("two-text-columns",
             "title,body,label\n" + "".join(f"t {i},b {i},{'x' if i % 2 else 'y'}\n" for i in range(20)),
             r"several text columns .*rename the one with the texts to 'text'")
    text_csv("empty-texts", "text,label\n" + lines + "\"   \",pos\n", r"skipped: empty text", accepted=True)
    text_csv("nul-early", "", r"contains NUL bytes",
             binary=("text,label\n" + lines).encode().replace(b"review", b"re\0view", 1))
    text_csv("nul-after-8k", "", r"contains NUL bytes \(the first on line 602\)",
             binary=("text,label\n" + lines * 30).encode() + b"\"late \0 bytes\",pos\n")
    text_csv("latin-1", "", r"read as Latin-1", accepted=True,
             binary=("text,label\n" + lines + "\"caf\xe9 au lait\",pos\n").encode("latin-1"))
    text_csv("one-class", "text,label\n" + lines.replace(",neg", ",pos"), r"at least 2 classes")
    text_csv("empty", "", r"empty\.csv is empty")
    text_csv("formula-texts", "text,label\n" + lines.replace("\"review", "\"=cmd|' /C calc'!A0 review"),
             r"line 2: ok", accepted=True)
    text_folder = inp / "texts" / "folder"
    for c in ("pos", "neg"):
        for i in range(4):
            (text_folder / c).mkdir(parents=True, exist_ok=True)
            (text_folder / c / f"{i}.txt").write_text(f"{c} text number {i}")
    (text_folder / "pos" / "report.txt").write_bytes(b"%PDF-1.4\n\0\0\xff\xfe binary")
    (text_folder / "pos" / "notes.md").write_text("markdown is not a .txt")
    (text_folder / "neg" / "empty.txt").write_text("  \n")
    for name, expect in (("report", r"report\.txt: skipped: binary file"),
                         ("notes", r"notes\.md: skipped: not a \.txt file"),
                         ("empty", r"empty\.txt: skipped: empty text")):
        data(f"text-folder-{name}", "texts", expect, dataset="text_folder", path=str(text_folder))
    big = inp / "texts" / "big"
    for c in ("a", "b"):
        for i in range(3):
            (big / c).mkdir(parents=True, exist_ok=True)
            (big / c / f"{i}.txt").write_text(f"{c} {i}")
    (big / "a" / "huge.txt").write_bytes(b"word " * ((17 << 20) // 5 + 1))
    data("text-folder-huge-file", "texts", r"huge\.txt: skipped: file too large", heavy=True,
         dataset="text_folder", path=str(big))

    # ---- WAVs
    def wav_case(name, writer, expect, accepted=True, heavy=False):
        folder = _wav_folder(inp / "wavs" / name)
        writer(folder / "yes")
        data(f"wav-{name}", "wavs", expect, accepted=accepted, heavy=heavy, dataset="wav_folder", path=str(folder))

    wav_case("text-as-wav", lambda d: (d / "fake.wav").write_text("not a sound"), r"fake\.wav: skipped: not a WAV file")
    wav_case("empty", lambda d: (d / "empty.wav").write_bytes(b""), r"empty\.wav: skipped: .*empty")
    wav_case("truncated-header", lambda d: (d / "cut.wav").write_bytes(_wav(d / "whole.wav").read_bytes()[:30]),
             r"cut\.wav: skipped: damaged WAV header")
    wav_case("damaged-fmt", lambda d: _wav(d / "badfmt.wav", fmt_tag=0, channels=0, bits=0),
             r"badfmt\.wav: skipped: damaged WAV header")
    wav_case("adpcm", lambda d: _wav(d / "adpcm.wav", fmt_tag=2, bits=4, block=256),
             r"adpcm\.wav: skipped: unsupported WAV compression: Microsoft ADPCM")
    wav_case("one-hertz", lambda d: _wav(d / "slow.wav", rate=1, frames=16000),
             r"slow\.wav: skipped: sample rate 1 Hz is outside",
             heavy=True)
    wav_case("megahertz", lambda d: _wav(d / "fast.wav", rate=10_000_000, frames=1600),
             r"fast\.wav: skipped: sample rate 10,000,000 Hz is outside")
    wav_case("zero-channels", lambda d: _wav(d / "nochan.wav", channels=0),
             r"nochan\.wav: skipped: damaged WAV header: .*0 channels")
    wav_case("no-samples", lambda d: _wav(d / "silent.wav", data=b""), r"silent\.wav: skipped: zero-length audio")
    wav_case("lying-data-size", lambda d: _wav(d / "liar.wav", declared_data=0x7FFFFFF0),
             r"liar\.wav: skipped: truncated WAV")
    wav_case("long-declared", lambda d: _wav(d / "hour.wav", rate=4000, frames=4000 * 601),
             r"hour\.wav: skipped: 601\.0 s of audio, longer than",
             heavy=True)
    wav_case("8-bit", lambda d: _wav(d / "byte.wav", bits=8, data=bytes(range(256)) * 10), r"byte\.wav: (ok|converted)")
    wav_case("stereo", lambda d: _wav(d / "two.wav", channels=2), r"two\.wav: converted: mixed 2 channels to mono")
    wav_case("riff-of-avi", lambda d: (d / "movie.wav").write_bytes(b"RIFF\x10\0\0\0AVI LIST\0\0\0\0"),
             r"movie\.wav: skipped: not a WAV file")
    wav_case("odd-bits", lambda d: _wav(d / "odd.wav", bits=12, block=2),
             r"odd\.wav: (ok|converted|skipped: .*(bit|depth|unsupported))")
    train("wav-folder-missing", "wavs", r"folder not found: .*nope",
          data={"dataset": "wav_folder", "path": str(inp / "wavs" / "nope")})

    # ---- configs (lepton train <config>)
    def config_text(name, text: str | bytes, expect, extra=()):
        path = inp / "configs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        train(f"config-{name}", "configs", expect, config=path, argv_extra=extra)

    base = yaml.safe_load(_config(inp / "configs" / "base.yaml").read_text())
    ok_cfg = str(inp / "configs" / "base.yaml")

    def variant(name, expect, section, key, value):
        raw = json.loads(json.dumps(base))
        raw[section][key] = value
        config_text(f"{name}.yaml", yaml.safe_dump(raw), expect)

    variant("epochs-text", r"train\.epochs.*three", "train", "epochs", "three")
    variant("epochs-fraction", r"train\.epochs.*1\.5", "train", "epochs", 1.5)
    variant("epochs-zero", r"train\.epochs", "train", "epochs", 0)
    variant("lr-negative", r"learning_rate", "train", "learning_rate", -1)
    variant("batch-negative", r"batch_size", "train", "batch_size", -4)
    variant("unknown-dataset", r"unknown dataset 'nosuch'", "data", "dataset", "nosuch")
    variant("unknown-backbone", r"unknown backbone 'nosuch'", "backbone", "name", "nosuch")
    variant("image-size-zero", r"image_size", "backbone", "image_size", 0)
    variant("frozen-depth-text", r"frozen_depth", "backbone", "frozen_depth", "lots")
    variant("unknown-field", r"unknown field train\.colour", "train", "colour", "blue")
    config_text("name-number.yaml", yaml.safe_dump({**base, "name": 12345}), r"name must be text, got 12345")
    config_text("python-tag.yaml", "name: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
                r"the tag !!python/object/apply:os\.system is not allowed")
    config_text("syntax-error.yaml", "data: {dataset: digits\ntrain: [\n", r"line \d+")
    config_text("list.yaml", "- a: 1\n- b: 2\n", r"a config must be a mapping of sections .*got a list")
    config_text("string.yaml", "just some words\n", r"a config must be a mapping of sections .*got a text")
    config_text("unknown-section.yaml", yaml.safe_dump({**base, "optimizer": {"name": "sgd"}}),
                r"unknown field optimizer")
    config_text("section-null.yaml", yaml.safe_dump({**base, "train": None}),
                r"train must be a mapping of its fields .*got a null")
    config_text("section-list.yaml", yaml.safe_dump({**base, "train": [1, 2]}),
                r"train must be a mapping of its fields .*got a list")
    config_text("binary.yaml", _noise(200) + b"\0\xff", r"binary\.yaml is not UTF-8 text")
    config_text("billion-laughs.yaml", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
                r"YAML anchors and aliases .* are not allowed")
    config_text("oversized.yaml", "# " + "x" * (2 << 20) + "\nname: big\n",
                r"over 1,048,576 bytes, the most a config may be")
    config_text("json-broken.json", '{"name": "x", "train": {"epochs": 2', r"line \d+")
    config_text("empty-sections.yaml", "data:\n  dataset: folder\n", r"data\.path")
    cases.append(Case("config-missing-file", "configs", r"config file .*absent\.yaml' not found",
                      ["--runs-dir", str(runs), "train", str(inp / "configs" / "absent.yaml")]))
    cases.append(Case("config-is-a-folder", "configs", r"configs' is a folder; expected a YAML or JSON file",
                      ["--runs-dir", str(runs), "train", str(inp / "configs")]))
    train("config-set-malformed", "configs", r"section\.field=value", config=Path(ok_cfg),
          argv_extra=["--set", "epochs5"])
    train("config-set-unknown", "configs", r"nosuch", config=Path(ok_cfg), argv_extra=["--set", "train.nosuch=1"])
    train("config-name-slash", "configs", r"--name", config=Path(ok_cfg), argv_extra=["--name", "../../evil"])
    train("config-name-long", "configs", r"--name.*at most 40", config=Path(ok_cfg), argv_extra=["--name", "n" * 80])
    (inp / "a-file").write_text("I am a file")
    cases.append(Case("config-runs-dir-is-a-file", "configs", r"--runs-dir .*a-file' is a file, not a folder",
                      ["--runs-dir", str(inp / "a-file"), "train", ok_cfg]))

    # ---- models (lepton predict <model> <input>)
    picture = str(_png(inp / "models" / "input.png"))

    def model_case(name, make, expect):
        target = make(inp / "models" / name)
        cli(f"model-{name}", "models", expect, "predict", str(target), picture)

    model_case("garbage.keras", lambda p: (p.write_bytes(_noise(500)), p)[1],
               r"garbage\.keras: not a \.keras model")
    model_case("empty.keras", lambda p: (p.write_bytes(b""), p)[1], r"empty\.keras: not a \.keras model")
    model_case("zip-without-model.keras", lambda p: (p.write_bytes(_zip_bytes([("hello.txt", b"hi")])), p)[1],
               r"a zip without config\.json is not a \.keras model")
    model_case("lambda.keras", lambda p: (p.write_bytes(_zip_bytes([
        ("config.json", json.dumps({"class_name": "Lambda", "config": {"function": "os.system"}}).encode()),
        ("metadata.json", b"{}"), ("model.weights.h5", b"")])), p)[1], r"refused because it contains a Lambda layer")
    model_case("garbage.tflite", lambda p: (p.write_bytes(_noise(300)), p)[1],
               r"garbage\.tflite: not opened\. .*only when they are its own verified exports")
    model_case("garbage.onnx", lambda p: (p.write_bytes(_noise(300)), p)[1],
               r"garbage\.onnx: not opened\. .*only when they are its own verified exports")

    def savedmodel(p: Path) -> Path:
        p.mkdir(parents=True)
        (p / "saved_model.pb").write_bytes(_noise(100))
        (p / "variables").mkdir()
        return p

    model_case("savedmodel-folder", savedmodel,
               r"savedmodel-folder: not opened\. .*SavedModel models only when they are its own verified")
    model_case("weights.h5", lambda p: (p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100), p)[1],
               r"weights\.h5 is not a run folder nor a model file")
    model_case("pickle.pkl", lambda p: (p.write_bytes(b"\x80\x04\x95cos\nsystem\n."), p)[1],
               r"pickle\.pkl is not a run folder nor a model file")
    cli("model-missing", "models", r"gone\.keras' is not a run id nor a run folder", "predict",
        str(inp / "models" / "gone.keras"),
        picture)

    # ---- run ids and run folders given to eval / predict
    _fake_run(runs, "20260101-000000-good-aaaaaa", {})
    _fake_run(runs, "20260101-000001-listrun-bbbbbb", {"run.json": "[1, 2]"})
    _fake_run(runs, "20260101-000002-nullmetrics-cccccc", {"metrics.json": "null"})
    _fake_run(runs, "20260101-000003-strconfig-dddddd", {"config.json": '"a string"'})
    _fake_run(runs, "20260101-000004-cutconfig-eeeeee", {"config.json": '{"name": "x", "da'})
    (runs / "20260101-000005-cut-ffffff.partial").mkdir()
    (runs / "20260101-000005-cut-ffffff.partial" / "config.json").write_text("{}")
    (runs / "stray-folder").mkdir()
    (runs / "stray-file.txt").write_text("not a run")
    for name, target, expect in (
            ("etc", "/etc", r"/etc is not a run folder"),
            ("dotdot", "..", r"not a run folder"),
            ("dotdot-id", "../runs/20260101-000000-good-aaaaaa", r"not a run (id|folder)"),
            ("empty-id", "", r"not a run id"),
            ("unknown-id", "20991231", r"no run matching"),
            ("ambiguous-prefix", "2026", r"\d+ runs matching"),
            ("list-run-json", "20260101-000001", r"damaged run record: run\.json holds a list"),
            ("null-metrics", "20260101-000002", r"damaged run record: metrics\.json holds null"),
            ("string-config", "20260101-000003", r"damaged run record: config\.json holds a text"),
            ("cut-config", "20260101-000004", r"damaged run record: config\.json is not valid JSON"),
            ("partial-by-path", str(runs / "20260101-000005-cut-ffffff.partial"), r"never finished"),
            ("stray-folder", str(runs / "stray-folder"), r"not a run folder"),
            ("no-model", "20260101-000000-good", r"no saved model"),
            ("nul-in-id", "2026\x00", r"not a run id")):
        cli(f"run-id-eval-{name}", "run ids", expect, "eval", target)
    cli("run-id-predict-damaged", "run ids", r"run 20260101-000001-listrun-bbbbbb has a damaged run record: run\.json holds a list",
        "predict", "20260101-000001",
        picture)
    cli("run-id-predict-etc", "run ids", r"not a run folder", "predict", "/etc", picture)
    cli("run-id-predict-partial", "run ids", r"is interrupted and has no model to predict with", "predict",
        "20260101-000005", picture)

    # ---- runs folders (lepton runs --runs-dir ...)
    cli("runs-folder-damaged-runs", "runs folders",
        r"(?s)20260101-000000-good-aaaaaa.*damaged run 20260101-000001-listrun-bbbbbb: run\.json holds a list",
        "runs", accepted=True)
    cli("runs-folder-missing", "runs folders", r"no runs yet", "runs", accepted=True, runs_dir=inp / "no-runs-here")
    cli("runs-folder-is-a-file", "runs folders", r"--runs-dir .*a-file' is a file, not a folder", "runs",
        runs_dir=inp / "a-file")
    only_junk = inp / "junk-runs"
    (only_junk / "holiday-photos").mkdir(parents=True)
    (only_junk / "holiday-photos" / "run.txt").write_text("x")
    cli("runs-folder-without-runs", "runs folders", r"no runs yet", "runs", accepted=True, runs_dir=only_junk)
    weird = inp / "weird-runs"
    _fake_run(weird, "20260101-000000-bin-aaaaaa", {"run.json": "\xff\xfe garbage"})
    (weird / "20260101-000000-bin-aaaaaa" / "run.json").write_bytes(b"\xff\xfe\0garbage")
    _fake_run(weird, "20260101-000001-nostatus-bbbbbb", {"run.json": "{}"})
    cli("runs-folder-binary-record", "runs folders", r"damaged run 20260101-000000-bin-aaaaaa: run\.json is not",
        "runs", accepted=True, runs_dir=weird)
    cli("runs-folder-no-status", "runs folders", r"damaged run 20260101-000001-nostatus-bbbbbb: run\.json has no valid "
        r"status", "runs", accepted=True, runs_dir=weird)
    return cases


def _noise(n: int) -> bytes:
    """``n`` bytes of fixed noise (the same on every run, so each case meets the same bytes)."""
    return np.random.default_rng(n).bytes(n)


def _zip_bytes(entries, stored=False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for name, payload in entries:
            zf.writestr(name, payload)
    return buffer.getvalue()


def _corrupt_crc(data: bytes) -> bytes:
    """A stored zip with one byte of the first file's content flipped: its CRC no longer matches."""
    at = data.index(b"\x89PNG") + 40
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _no_half_written_run_looks_complete(runs_dirs: list[Path]) -> list[str]:
    """Run folders that claim to be complete without being so (a final record not matching its files)."""
    bad = []
    for runs in runs_dirs:
        if not runs.is_dir():
            continue
        for folder in runs.iterdir():
            record = folder / "run.json"
            if folder.name.endswith(".partial") or not record.exists() or folder.name.startswith("20260101-00000"):
                continue  # our own damaged fixtures (20260101-00000x-...): their damage is the point
            info = json.loads(record.read_text())
            if info.get("status") == "finished" and not ((folder / "model.keras").exists()
                                                         and (folder / "metrics.json").exists()):
                bad.append(f"{folder.name}: finished without a model and metrics")
            if info.get("status") not in ("finished", "failed", "cancelled"):
                bad.append(f"{folder.name}: status {info.get('status')!r}")
    return bad


# --------------------------------------------------------------------------------------------------- tests

def test_bad_input_corpus(tmp_path):
    cases = build_cases(tmp_path)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)) and len(cases) >= 100, len(cases)
    assert {c.category for c in cases} == {"images", "zips", "csvs", "tables", "texts", "wavs", "configs", "models",
                                            "run ids", "runs folders"}
    inputs = tmp_path / "inputs"
    before = _tree_hashes(inputs)

    outcomes, peaks = {}, {}
    light = [c for c in cases if not c.heavy]
    half = len(light) // 2
    for label, batch in (("light-1", light[:half]), ("light-2", light[half:]),
                         ("heavy", [c for c in cases if c.heavy])):
        found, peaks[label] = _run_batch(batch, tmp_path, label)
        outcomes.update(found)

    failures = []
    for case in cases:
        outcome = outcomes[case.name]
        text = outcome["output"]
        problems = []
        if outcome["raised"] or TRACEBACK.search(text):
            problems.append("a traceback reached the user")
        if case.accepted and outcome["rc"] not in (0, None):
            problems.append(f"refused (rc {outcome['rc']}) but should be accepted with a report")
        if not case.accepted and outcome["rc"] == 0:
            problems.append("accepted but should be refused")
        if not re.search(case.expect, text):
            problems.append(f"message does not match /{case.expect}/")
        if problems:
            failures.append(f"{case.name} [{case.category}]: {'; '.join(problems)}\n    got: {text.strip()[-400:]!r}")

    after = _tree_hashes(inputs)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    half_written = _no_half_written_run_looks_complete([tmp_path / "inputs" / "no-runs-here", tmp_path / "runs",
                                                         tmp_path / "default-runs"])
    light_seconds = sorted(outcomes[c.name]["seconds"] for c in light)
    report = "\n".join(failures)
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n{report}"
    assert not changed, f"user files changed: {changed}"
    assert not half_written, half_written
    assert all(peak < MAX_RSS_BYTES for peak in peaks.values()), {k: f"{v / 2**20:.0f} MB" for k, v in peaks.items()}
    # Most cases are refused or reported at validation, in well under a second each once started.
    assert light_seconds[int(len(light_seconds) * 0.8)] < 1.0, light_seconds[-10:]


def test_lepton_train_summarises_the_data_report(tmp_path):
    """`lepton train` on a folder with damaged, converted, linked and duplicate files and an empty class says
    what was used, skipped and converted, the reasons, and where data_report.csv is (issue 13, item 10); and
    class names that look like spreadsheet formulas come back escaped in predictions.csv."""
    folder = _class_folder(tmp_path / "photos", classes=("=1+1", "plain"), per_class=4)
    (folder / "plain" / "broken.png").write_bytes(_noise(200))
    (folder / "plain" / "cut.png").write_bytes((folder / "plain" / "plain0.png").read_bytes()[:120])
    _png(folder / "plain" / "clear.png", mode="RGBA")
    (folder / "plain" / "copy.png").write_bytes((folder / "plain" / "plain1.png").read_bytes())
    (folder / "empty-class").mkdir()
    before = _tree_hashes(folder)
    config = _config(tmp_path / "run.yaml", {"dataset": "folder", "path": str(folder), "max_per_class": None,
                                             "cv_below": 0})
    runs = tmp_path / "runs"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs), "train", str(config)],
                          capture_output=True, text=True, timeout=400, env=env)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    run = next(p for p in runs.iterdir() if not p.name.endswith(".partial"))
    assert re.search(r"data: 9 of 12 files/samples used \(1 converted\), 3 not used", out), out
    assert re.search(r"  1 skipped: .*(not an image|cannot|unidentified|corrupt)", out), out
    assert re.search(r"  1 duplicate: same content as", out), out
    assert re.search(r"  1 converted: ", out), out
    assert "warning: class empty-class has no usable images; left out" in out, out
    assert f"full data report: {run / 'data_report.csv'}" in out, out
    assert _tree_hashes(folder) == before
    predictions = (run / "predictions.csv").read_text()
    assert "'=1+1" in predictions and ",=1+1" not in predictions, predictions[:300]


if __name__ == "__main__":  # pragma: no cover - the corpus's driver runs as `python -c ...drive(file)`
    drive(sys.argv[1])

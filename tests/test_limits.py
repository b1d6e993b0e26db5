"""Limits before allocation (core/base/limits.py): CSV cells, rows and size checked while reading, WAV rates and
durations checked from the header, YAML aliases and size refused; each with a clear message, and the peak
memory of a hostile input measured in a fresh subprocess. Also: a damaged WAV ``fmt`` chunk is reported as
damaged, and a NUL byte refuses a CSV or text file wherever it is."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lepton_widgets.core.base import limits
from lepton_widgets.core.data.audio.wav import decode_wav, read_wav
from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.tasks.tabular.read import read_csv_file
from lepton_widgets.core.tasks.text.read import NotText, read_text_file

LEPTON = str(Path(sys.executable).with_name("lepton"))


def peak_mb(code: str, *, env: dict | None = None) -> tuple[str, float]:
    """Run ``code`` in a fresh Python; its stdout and its own peak resident memory in MB.

    The peak is VmHWM from /proc/self/status, not ``ru_maxrss``: Linux carries the parent's resident size at
    fork over into the child's ``ru_maxrss``, so inside a 2.5 GB pytest process every child would report
    2.5 GB and a growth of 0, and the bound could never fail. VmHWM belongs to the new program's memory only.
    """
    wrapper = (textwrap.dedent(code)
               + "\nimport re\nprint('PEAK', re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())[1])\n")
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    return "\n".join(lines[:-1]), int(lines[-1].split()[1]) / 1024


def cli_peak_mb(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run the real ``lepton`` CLI; its result and the peak memory of that one child (a fresh wrapper's
    RUSAGE_CHILDREN holds only it)."""
    code = textwrap.dedent(f"""
        import resource, subprocess, sys
        done = subprocess.run({[LEPTON, *args]!r}, capture_output=True, text=True, timeout=120, cwd={str(cwd)!r})
        sys.stderr.write(done.stderr)
        print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    rc, peak = done.stdout.split()
    return subprocess.CompletedProcess(args, int(rc), "", done.stderr), int(peak) / 1024


# --- CSV: cells, rows, size, NUL bytes -------------------------------------------------------------------

READ_CSV = """
    from lepton_widgets.core.tasks.tabular.read import read_csv_file
    from lepton_widgets.core.data.table import DataError
    try:
        frame = read_csv_file({path!r})[0]
        print('ROWS', len(frame))
    except DataError as error:
        print('ERROR', error)
"""


def test_one_huge_cell_is_refused_while_reading_with_bounded_memory(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("text,label\nfine,a\n")
    huge = tmp_path / "huge.csv"
    with open(huge, "w") as out:
        out.write("text,label\nshort,a\n")
        out.write('"' + "x" * (20 << 20) + '",b\n')  # one 20 MB cell (50 MB grew pandas past 3 GB)
    shown, base = peak_mb(READ_CSV.format(path=str(small)))
    assert shown == "ROWS 1"
    shown, peak = peak_mb(READ_CSV.format(path=str(huge)))
    assert shown.startswith("ERROR huge.csv: the cell on line 3 is longer than 100,000 characters"), shown
    assert "LEPTON_MAX_CELL_CHARS" in shown
    assert peak - base < 200, f"reading grew the process by {peak - base:.0f} MB"


def test_row_and_size_limits(tmp_path, monkeypatch):
    path = tmp_path / "rows.csv"
    path.write_text("x,label\n" + "".join(f"{i},{i % 2}\n" for i in range(100)))
    monkeypatch.setattr(limits, "MAX_TABLE_ROWS", 100)
    assert len(read_csv_file(path)[0]) == 100  # at the limit: fine
    monkeypatch.setattr(limits, "MAX_TABLE_ROWS", 99)
    with pytest.raises(DataError, match=r"rows.csv has more than 99 rows, .*LEPTON_MAX_TABLE_ROWS"):
        read_csv_file(path)
    monkeypatch.setattr(limits, "MAX_TABLE_BYTES", 100)
    with pytest.raises(DataError, match=r"rows.csv is \d[\d,]* bytes; a table may be at most 100 bytes"):
        read_csv_file(path)


def test_cell_limit_applies_to_semicolon_files_and_restores_csv_module_state(tmp_path, monkeypatch):
    import csv

    before = csv.field_size_limit()
    monkeypatch.setattr(limits, "MAX_CELL_CHARS", 50)
    path = tmp_path / "semi.csv"
    path.write_text("name;label\n" + "y" * 60 + ";a\nok;b\n")
    with pytest.raises(DataError, match="line 2 is longer than 50 characters"):
        read_csv_file(path)
    path.write_text("name;label\n" + "y" * 40 + ";a\nok;b\n")
    assert read_csv_file(path)[0].shape == (2, 2)
    assert csv.field_size_limit() == before


@pytest.mark.parametrize("offset", [100, 20_000])
def test_nul_bytes_refuse_a_csv_wherever_they_are(tmp_path, offset):
    rows = "".join(f"text number {i} is here,{'ab'[i % 2]}\n" for i in range(2000))
    raw = ("text,label\n" + rows).encode()
    cut = raw.index(b"\n", offset) + 1
    path = tmp_path / "nul.csv"
    path.write_bytes(raw[:cut] + b"bad\x00row,a\n" + raw[cut:])
    line = raw[:cut].count(b"\n") + 1
    with pytest.raises(DataError, match=rf"nul.csv contains NUL bytes \(the first on line {line}\).*refused"):
        read_csv_file(path)


@pytest.mark.parametrize("offset", [10, 20_000])
def test_nul_bytes_refuse_a_text_file_wherever_they_are(tmp_path, offset):
    path = tmp_path / "review.txt"
    path.write_bytes(b"a" * offset + b"\x00" + b"b" * 100)
    with pytest.raises(NotText, match=f"NUL bytes.*offset {offset}"):
        read_text_file(path)


def test_text_file_size_limit(tmp_path, monkeypatch):
    path = tmp_path / "long.txt"
    path.write_text("word " * 100)
    monkeypatch.setattr(limits, "MAX_TEXT_BYTES", 100)
    with pytest.raises(NotText, match=r"too large \(500 bytes; a text file may be at most 100 bytes"):
        read_text_file(path)


# --- WAV: declared rate and duration, damaged fmt chunk ----------------------------------------------------

def wav_bytes(rate: int, frames: int, *, tag: int = 1, channels: int = 1, bits: int = 16,
              fmt_size: int = 16, data: bytes | None = None) -> bytes:
    block = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)[:fmt_size]
    payload = data if data is not None else bytes(frames * block)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_one_hertz_wav_is_refused_before_resampling_with_bounded_memory(tmp_path):
    path = tmp_path / "slow.wav"
    path.write_bytes(wav_bytes(1, 4000))  # read as is, x16,000: 64 million samples
    clip = read_wav(path)
    assert clip.status == "skipped" and clip.samples is None
    assert clip.reason.startswith("sample rate 1 Hz is outside 4,000-192,000 Hz"), clip.reason
    code = f"""
        from lepton_widgets.core.data.audio.wav import read_wav
        print(read_wav({str(path)!r}).status)
    """
    fine = tmp_path / "fine.wav"
    fine.write_bytes(wav_bytes(16_000, 4000))
    shown, base = peak_mb(code.replace(str(path), str(fine)))
    assert shown == "ok"
    shown, peak = peak_mb(code)
    assert shown == "skipped" and peak - base < 100, f"{peak - base:.0f} MB"


def test_wav_rate_and_duration_limits(tmp_path, monkeypatch):
    assert decode_wav(wav_bytes(400_000, 100)).reason.startswith("sample rate 400,000 Hz is outside")
    assert decode_wav(wav_bytes(4_000, 100)).status == "converted"
    assert decode_wav(wav_bytes(192_000, 1000)).status == "converted"
    monkeypatch.setattr(limits, "MAX_WAV_SECONDS", 1)
    two_seconds = decode_wav(wav_bytes(8_000, 16_000))
    assert two_seconds.status == "skipped"
    assert two_seconds.reason.startswith("2.0 s of audio, longer than the 1 s a clip may be"), two_seconds.reason
    assert decode_wav(wav_bytes(8_000, 8_000)).status == "converted"
    # float WAVs (read by scipy) get the same checks
    assert decode_wav(wav_bytes(2, 10, tag=3, bits=32)).reason.startswith("sample rate 2 Hz")


@pytest.mark.parametrize("make, words", [
    (lambda: wav_bytes(16_000, 100, tag=0), "format tag 0x0000"),
    (lambda: wav_bytes(16_000, 100, channels=0), "0 channels"),
    (lambda: wav_bytes(0, 100), "0 Hz"),
    (lambda: wav_bytes(16_000, 100, fmt_size=8), "'fmt ' chunk holds 8 bytes"),
    (lambda: wav_bytes(16_000, 100)[:30], "'fmt ' chunk"),
])
def test_damaged_fmt_chunk_is_reported_as_damaged(make, words):
    clip = decode_wav(make())
    assert clip.status == "skipped"
    assert clip.reason.startswith("damaged WAV header"), clip.reason
    assert words in clip.reason and "compression" not in clip.reason


def test_real_compression_is_still_named():
    clip = decode_wav(wav_bytes(16_000, 100, tag=0x0011, bits=4))
    assert clip.reason.startswith("unsupported WAV compression: IMA ADPCM (format tag 0x0011)")


def test_good_wav_still_reads():
    samples = (0.5 * 32767 * np.sin(np.arange(8000) / 5)).astype("<i2").tobytes()
    clip = decode_wav(wav_bytes(8_000, 8000, data=samples))
    assert clip.status == "converted" and clip.samples.shape == (16000,)


# --- YAML: aliases ("billion laughs") and size ------------------------------------------------------------

# Nested inside a real field, so the old code got as far as validating it (and repr'd 10**9 strings).
BOMB = "tuner:\n  backbone:\n  - &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  - &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n" for a, b in zip("abcdefgh", "bcdefghi"))


def test_billion_laughs_config_is_refused_at_once_with_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    assert len(BOMB) < 1024
    small = tmp_path / "small.yaml"
    small.write_text("train:\n  epochs: [1\n")
    _, base = cli_peak_mb(["train", str(small)], tmp_path)
    result, peak = cli_peak_mb(["train", str(bomb)], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("lepton: error: bomb.yaml: YAML anchors and aliases (&name, *name) are not "
                                     "allowed in a config: write each value out (line 3, column 5)")
    assert peak - base < 50, f"{peak - base:.0f} MB"


def test_config_size_limit_through_the_cli(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000 + "train:\n  epochs: 1\n")
    result = subprocess.run([LEPTON, "train", str(big)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("lepton: error: big.yaml is over 1,048,576 bytes, the most a config may be")


def test_limits_come_from_the_environment_and_ignore_bad_values():
    code = """
        from lepton_widgets.core.base import limits
        print(limits.MAX_TABLE_ROWS, limits.MAX_CELL_CHARS, limits.MIN_WAV_RATE)
    """
    env = {**__import__("os").environ, "LEPTON_MAX_TABLE_ROWS": "5_000", "LEPTON_MAX_CELL_CHARS": "lots",
           "LEPTON_MIN_WAV_RATE": "-3"}
    shown, _ = peak_mb(code, env=env)
    assert shown == "5000 100000 4000"

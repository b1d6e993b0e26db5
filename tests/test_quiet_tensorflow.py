"""TensorFlow's start-up lines never reach the user (page, notebook, CLI), on any CPU; real stderr lines do.

The lines are the exact ones an AMD EPYC (AVX-512) machine printed twice with TF_CPP_MIN_LOG_LEVEL=3
(tests/tf_noise.py). They go through the real filter on the real file descriptor, and through a real
``import tensorflow`` in a subprocess, the ways the apps, the quickstart notebook and the CLI import it. The
subprocesses write the lines themselves during the import, so the tests mean the same on a CPU that prints
nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tf_noise import CUDA, EPYC_STDERR, GENUINE, INJECT, ONEDNN, STARTUP_LINES, leaked

from lepton_widgets.core.base.quiet_tensorflow import filter_startup_noise, filtered_stderr, is_startup_noise

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("level", ["3", "0", None])
def test_the_exact_lines_are_dropped_and_a_genuine_line_passes_through_the_real_descriptor(capfd, monkeypatch,
                                                                                          level):
    if level is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    capfd.readouterr()
    with filtered_stderr():
        os.write(2, EPYC_STDERR.encode())  # C++ writes to the descriptor, not to sys.stderr
    assert capfd.readouterr().err == GENUINE + "\n"
    assert filter_startup_noise(EPYC_STDERR) == GENUINE + "\n"
    assert all(is_startup_noise(line) for line in STARTUP_LINES)


def test_other_lines_keep_their_order_and_only_lines_below_the_level_are_dropped():
    other_info = "I0000 00:00:1733426400.123456   1234 some_other.cc:12] an info line from elsewhere"
    fatal = "F0000 00:00:1733426400.123456   1234 port.cc:99] Check failed: this must never be hidden"
    traceback = ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>',
                 "ImportError: libcudnn.so.9: cannot open shared object file"]
    text = "\n".join([ONEDNN, other_info, *traceback, CUDA, fatal, "", "tail without newline"])
    assert filter_startup_noise(text, level=3) == "\n".join([*traceback, fatal, "", "tail without newline"])
    assert filter_startup_noise(text, level=0) == "\n".join([other_info, *traceback, fatal, "",
                                                             "tail without newline"])


def test_output_is_written_back_even_when_the_body_raises(capfd):
    capfd.readouterr()
    with pytest.raises(ImportError):
        with filtered_stderr():
            os.write(2, (ONEDNN + "\nthe real reason the import failed\n").encode())
            raise ImportError("boom")
    assert capfd.readouterr().err == "the real reason the import failed\n"


def _python(code: str, tmp_path: Path, level: str | None = "3") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    env["LEPTON_RUNS"] = str(tmp_path / "runs")
    return subprocess.run([sys.executable, "-c", INJECT + code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)


def test_without_the_filter_a_real_import_prints_the_lines(tmp_path):
    """The control: the injected lines do come out of a plain `import tensorflow`, so the tests below can fail."""
    done = _python("import tensorflow", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert leaked(done.stderr) and GENUINE in done.stderr


# The ways users get TensorFlow imported: the Voila apps (Workbench / PredictApp call this first), the
# quickstart notebook (`import lepton_widgets as lw`, then Keras) with and without TF_CPP_MIN_LOG_LEVEL, and
# the `lepton` CLI, whose eval command imports TensorFlow before it finds no such run.
WAYS = {
    "apps": ("from lepton_widgets.apps.workbench import quiet_tensorflow_import\nquiet_tensorflow_import()\n"
             "from lepton_widgets.apps.predict import PredictApp\nimport keras_hub\n", "3", ""),
    "quickstart": ("import lepton_widgets as lw\nimport keras\n", "3", ""),
    "own notebook, level unset": ("import lepton_widgets as lw\nimport keras\n", None, ""),
    "cli": ("import sys\nfrom lepton_widgets.cli import main\nsys.exit(main(['eval', 'no-such-run']))\n", None,
            "lepton: error: no run matching 'no-such-run'"),
}


@pytest.mark.slow
@pytest.mark.parametrize("way", WAYS)
def test_a_real_tensorflow_import_shows_the_user_only_genuine_lines(tmp_path, way):
    code, level, expected_error = WAYS[way]
    # TensorFlow works when imported through the filter. (Its first operation is left out with the level
    # unset: a CPU-only machine then logs "failed call to cuInit", TensorFlow's normal logging at level 0.)
    check = "import sys\nassert sys.modules['tensorflow'].constant(2).numpy() * 3 == 6\n" if level else ""
    done = _python(code + check, tmp_path, level)
    assert leaked(done.stderr) == [], done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert lines[0] == GENUINE, done.stderr[-3000:]
    if expected_error:
        assert done.returncode == 2 and lines[1:] and lines[1].startswith(expected_error), done.stderr[-3000:]
    else:
        assert done.returncode == 0 and lines == [GENUINE], done.stderr[-3000:]

"""TensorFlow's start-up lines exactly as an AMD EPYC (AVX-512) machine printed them, and a way to make any CPU
print them during a real ``import tensorflow``, so the tests never depend on the CPU they run on.

``INJECT`` is Python source for a subprocess or a notebook cell: an audit hook that, when TensorFlow's own
module body imports ``tensorflow.python`` (inside the import, where the real lines come from), writes both copies of
the lines to file descriptor 2, with ``GENUINE`` between them: a line that is not noise and must get through.
"""

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = ("I0000 00:00:1733426400.123456   1234 port.cc:153] oneDNN custom operations are on. You may see slightly "
          "different numerical results due to floating-point round-off errors from different computation orders. "
          "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.")
CUDA = ("I0000 00:00:1733426400.123456   1234 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
        "GPU will not be used.")
STARTUP_LINES = [BANNER, ONEDNN, CUDA]
GENUINE = "lepton-test: a genuine stderr line that must reach the user"
# Both copies, as the machine printed them, with a genuine line between them.
EPYC_STDERR = "\n".join([*STARTUP_LINES, GENUINE, *STARTUP_LINES]) + "\n"

INJECT = f"""
import os as _os, sys as _sys
def _lepton_test_noise(event, args, _done=[]):
    # While TensorFlow's module body runs (it is in sys.modules then): `import tensorflow.python.x` from
    # elsewhere raises the same event before its parent package is even looked up.
    if event == "import" and args[0] == "tensorflow.python" and "tensorflow" in _sys.modules and not _done:
        _done.append(1)
        _os.write(2, {EPYC_STDERR.encode()!r})
_sys.addaudithook(_lepton_test_noise)
"""


def leaked(text: str) -> list[str]:
    """The start-up lines (or any part that identifies them) found in ``text``."""
    marks = ("absl::InitializeLog", "port.cc", "oneDNN", "cudart_stub", "cuda drivers", "cpu_feature_guard",
             "rebuild TensorFlow")
    return [line for line in text.splitlines() if any(mark in line for mark in marks)]


def noisy_copy(notebook, folder):
    """A copy of ``notebook`` in ``folder`` whose first cell is :data:`INJECT`: served or run, its page shows
    what the user would see on a CPU that prints the start-up lines."""
    from pathlib import Path

    import nbformat

    copy = nbformat.read(notebook, as_version=4)
    copy.cells.insert(0, nbformat.v4.new_code_cell(INJECT))
    target = Path(folder) / Path(notebook).name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy, target)
    return target

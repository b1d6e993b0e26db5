"""Keep an uploaded dataset zip: check it arrived whole, then write it once under ``cache_dir("uploads")``.

Why the checks: a browser upload (ipywidgets ``FileUpload``) travels in one websocket message, and a
message over the server's limit is dropped without any error on either side (ipywidgets #2522, voila
#807). The launcher raises that limit to ``LEPTON_MAX_UPLOAD_MB`` (default 100); the UI states it, and
whatever does arrive empty, truncated, too big or not a zip gets a message that says so. Only the bytes
are trusted, never the name: the file is stored as ``<sha256 prefix>-<cleaned name>.zip``, so the same
upload is stored once and a name cannot point outside the folder. Unpacking happens later, safely, in
``core.data.safe_zip``.

Example:
    >>> import io, os, tempfile, zipfile
    >>> os.environ["LEPTON_HOME"] = tempfile.mkdtemp()
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as zf:
    ...     zf.writestr("cats/1.png", b"png bytes")
    >>> path = save_upload("../My Cats.zip", buffer.getvalue())
    >>> path.parent.name, path.name.endswith("-My_Cats.zip")
    ('uploads', True)
    >>> try:
    ...     save_upload("empty.zip", b"")
    ... except DataError as error:
    ...     print(str(error).split(" (")[0])
    empty.zip arrived empty
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Optional

from lepton_widgets.core.base.atomic import atomic_write
from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.i18n import _

MAX_UPLOAD_ENV = "LEPTON_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 100.0


def max_upload_mb() -> float:
    """The upload limit in MiB from ``LEPTON_MAX_UPLOAD_MB`` (the launcher sets Voilà's websocket limit
    from the same variable); the default when it is unset or not a positive number."""
    try:
        value = float(os.environ.get(MAX_UPLOAD_ENV) or DEFAULT_MAX_UPLOAD_MB)
    except ValueError:
        return DEFAULT_MAX_UPLOAD_MB
    return value if value > 0 else DEFAULT_MAX_UPLOAD_MB


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else _("{n} bytes").format(n=f"{n:,}")


def clean_name(name: str) -> str:
    """The last path part of ``name`` with anything but letters, digits, ``.``, ``_``, ``-`` replaced."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload"
    return base if base.lower().endswith(".zip") else base + ".zip"


def save_upload(name: str, data: bytes, declared_size: Optional[int] = None,
                limit_mb: Optional[float] = None) -> Path:
    """Check and store one uploaded zip; :class:`DataError` with a message for people when it is unusable."""
    limit_mb = max_upload_mb() if limit_mb is None else limit_mb
    limit = int(limit_mb * 2**20)
    hint = _("Files over the upload limit of {limit} MB are dropped by the browser connection without an error; "
             "copy a bigger zip to this machine and enter its path instead.").format(limit=f"{limit_mb:g}")
    if not data:
        raise DataError(_("{name} arrived empty (0 bytes). If the file is not empty, it was probably too big.")
                        .format(name=name) + " " + hint)
    if len(data) > limit:
        raise DataError(_("{name} is {size}, more than the upload limit of {limit} MB.").format(
            name=name, size=_size(len(data)), limit=f"{limit_mb:g}") + " " + hint)
    if declared_size is not None and declared_size != len(data):
        raise DataError(_("{name} arrived incomplete: {size} of {declared}. Upload it again.").format(
            name=name, size=_size(len(data)), declared=_size(declared_size)) + " " + hint)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DataError(_("{name} is not a zip file. Zip a folder that has one subfolder of images per class "
                          "and upload that.").format(name=name))
    digest = hashlib.sha256(data).hexdigest()
    folder = cache_dir("uploads")
    target = folder / f"{digest[:16]}-{clean_name(name)}"
    if not target.is_file():
        atomic_write(target, lambda out: out.write(data))  # a reader never sees half a zip
    return target

"""Extract a user's zip safely, once, into ``cache_dir("extracted", <zip sha256>)``.

Everything is checked before a byte is written: entry names that would land outside the folder
(``../``, absolute or drive paths), symlinks and other special entries, encrypted entries, too many
entries, a total uncompressed size over the limit, and entries compressed suspiciously well (archive
bombs). The sizes in a zip's headers can lie, so the copy also counts the bytes it really writes. Files
go to a temporary folder that is renamed into place at the end: a crash never leaves a half-extracted
folder that a later run would trust, and a second call finds the finished folder and does nothing.

Example:
    >>> import os, tempfile, zipfile
    >>> os.environ["LEPTON_HOME"] = tempfile.mkdtemp()
    >>> archive = os.path.join(tempfile.mkdtemp(), "a.zip")
    >>> with zipfile.ZipFile(archive, "w") as zf:
    ...     zf.writestr("cats/1.png", b"png bytes")
    >>> folder = extract_zip(archive)
    >>> sorted(p.name for p in folder.rglob("*"))
    ['.lepton-complete', '1.png', 'cats']
    >>> extract_zip(archive) == folder
    True
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional, Union

from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.i18n import _

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """Limits that make a zip be refused. The ratio limit applies only to entries above ``ratio_min_bytes``
    because tiny entries (a few bytes of text) legitimately compress very well."""

    max_entries: int = 200_000
    max_total_bytes: int = 4 << 30
    max_ratio: float = 100.0
    ratio_min_bytes: int = 1 << 20


DEFAULT_LIMITS = ZipLimits()


def file_sha256(path: Union[str, Path]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_zip(archive: Union[str, Path], limits: ZipLimits = DEFAULT_LIMITS,
                job: Optional[Job] = None) -> Path:
    """Extract ``archive`` (once) and return the folder; :class:`DataError` if the zip is refused.

    ``job``'s stop request is checked between entries; a stop leaves nothing behind.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise DataError(_("zip file not found: {path}").format(path=archive))
    # Named by content: the same zip is extracted once, a changed zip (same name) gets a fresh folder.
    target = cache_dir("extracted") / file_sha256(archive)
    done_marker = target / ".lepton-complete"
    if done_marker.is_file():
        return target
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(_("{name} is not a readable zip file ({error})").format(name=archive.name, error=exc)) from None
    with zf:
        members = _checked_members(zf, archive.name, limits)
        # Temp folder beside the target (same file system), renamed into place when complete.
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
        try:
            _extract_members(zf, members, staging, archive.name, limits, job or Job())
            (staging / done_marker.name).write_text("complete\n")
            _move_into_place(staging, target, done_marker)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _move_into_place(staging: Path, target: Path, done_marker: Path) -> None:
    try:
        os.rmdir(target)  # only an empty leftover can be removed this way
    except FileNotFoundError:
        pass
    except OSError:
        if done_marker.is_file():  # another process finished the same zip meanwhile: keep its copy
            shutil.rmtree(staging)
            return
        shutil.rmtree(target)  # an unfinished copy in our own cache (never the user's files)
    try:
        os.rename(staging, target)
    except OSError:
        if not done_marker.is_file():
            raise
        shutil.rmtree(staging)


def safe_member_path(name: str, archive_name: str = "zip") -> PurePosixPath:
    """The relative path an entry may be written to, or :class:`DataError` when it would escape."""
    where = dict(archive=archive_name, entry=repr(name))
    if "\x00" in name:
        raise DataError(_("refused to extract {archive}: entry {entry} has a NUL byte in its name").format(**where))
    posix = name.replace("\\", "/")  # zips made on Windows may use backslashes
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise DataError(_("refused to extract {archive}: entry {entry} is an absolute path; entries must be "
                          "relative").format(**where))
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DataError(_("refused to extract {archive}: entry {entry} points outside the archive folder (path "
                          "traversal with '..')").format(**where))
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _checked_members(zf: zipfile.ZipFile, archive_name: str, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise DataError(_("refused to extract {archive}: {n} entries is more than the limit of {limit}").format(
            archive=archive_name, n=len(infos), limit=limits.max_entries))
    total = 0
    members = []
    for info in infos:
        path = safe_member_path(info.filename, archive_name)
        where = dict(archive=archive_name, entry=repr(info.filename))
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DataError(_("refused to extract {archive}: entry {entry} is a symbolic link; links are not "
                              "allowed in a dataset zip").format(**where))
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise DataError(_("refused to extract {archive}: entry {entry} is a special file (device, pipe or "
                              "socket)").format(**where))
        if info.flag_bits & 0x1:
            raise DataError(_("refused to extract {archive}: entry {entry} is encrypted; unzip it yourself and "
                              "use the folder").format(**where))
        if path.parts and path.parts[0] == "__MACOSX":
            continue  # macOS resource forks, not data
        total += info.file_size
        if total > limits.max_total_bytes:
            raise DataError(_("refused to extract {archive}: it unpacks to more than {limit} bytes (possible zip "
                              "bomb)").format(archive=archive_name, limit=f"{limits.max_total_bytes:,}"))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            raise DataError(_("refused to extract {archive}: entry {entry} is compressed {ratio}:1 ({size} bytes "
                              "from {compressed}); over {limit}:1 looks like a zip bomb").format(
                **where, ratio=f"{ratio:.0f}", size=f"{info.file_size:,}", compressed=f"{info.compress_size:,}",
                limit=f"{limits.max_ratio:.0f}"))
        members.append(info)
    return members


def _extract_members(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path, archive_name: str,
                     limits: ZipLimits, job: Job) -> None:
    root = staging.resolve()
    written = 0
    for info in members:
        job.check_stop()
        relative = safe_member_path(info.filename, archive_name)
        destination = (staging / relative).resolve()
        if destination != root and root not in destination.parents:  # belt and braces after the name check
            raise DataError(_("refused to extract {archive}: entry {entry} escapes the folder").format(
                archive=archive_name, entry=repr(info.filename)))
        if info.is_dir() or relative == PurePosixPath("."):
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            raise DataError(_("refused to extract {archive}: entry {entry} appears twice").format(
                archive=archive_name, entry=repr(info.filename)))
        entry_bytes = 0
        try:
            with zf.open(info) as source, open(destination, "xb") as sink:
                for chunk in iter(lambda: source.read(_CHUNK), b""):
                    entry_bytes += len(chunk)
                    written += len(chunk)
                    # Headers can understate sizes; count what really comes out.
                    if entry_bytes > info.file_size or written > limits.max_total_bytes:
                        raise DataError(_("refused to extract {archive}: entry {entry} unpacks to more bytes than "
                                          "its header declares (possible zip bomb)").format(
                            archive=archive_name, entry=repr(info.filename)))
                    sink.write(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise DataError(_("{archive}: entry {entry} is damaged or uses an unsupported compression ({error})")
                            .format(archive=archive_name, entry=repr(info.filename), error=exc)) from None

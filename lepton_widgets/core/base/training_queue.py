"""A queue for training across processes: at most N jobs train at once on one machine, the rest wait in line.

In a room, every person has their own Jupyter kernel (a separate process), so a lock inside one process cannot
keep thirty trainings from sharing two cores. The queue lives in a shared folder instead, and uses only file
locks (``fcntl.flock``), which the operating system drops when a process ends, however it ends:

- ``slot-<i>.lock`` for i < N: a training holds an exclusive lock on one of them while it runs.
- ``tickets/<number>-<pid>.ticket``: a job waiting for a slot holds a lock on its own ticket. Tickets are
  numbered in the order they were taken (first come, first served). A ticket whose lock can be taken belongs to
  a process that died while waiting: it is stale, and whoever finds it removes it.
- ``queue.lock``: held for a moment while a ticket is numbered or the line is read, so that two processes never
  draw the same number.

Only the first live ticket in line may take a free slot, so nobody jumps the queue; a job's place in line is
counted afresh each time it looks (every ``poll`` seconds). Waiting can be cancelled (``should_stop``), and a slot
is given back when the job ends, fails or is cancelled, or when its process dies.

The room server sets ``LEPTON_QUEUE_DIR`` (the shared folder) and ``LEPTON_TRAINING_SLOTS`` (N, default the
cores this process may use) in each kernel's environment; without ``LEPTON_QUEUE_DIR`` there is no queue
(:meth:`TrainingQueue.from_env` returns None) and jobs run at once, as on a single person's machine.

This module needs the standard library alone, so that a waiting process (or a test's helper process) loads it
without TensorFlow.

Example:
    >>> import tempfile
    >>> queue = TrainingQueue(tempfile.mkdtemp(), slots=1)
    >>> with queue.acquire() as slot:
    ...     slot.index, queue.running()
    (0, 1)
    >>> queue.running()
    0
    >>> ordinal(3), ordinal(11), ordinal(22)
    ('3rd', '11th', '22nd')
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

QUEUE_DIR_ENV = "LEPTON_QUEUE_DIR"
SLOTS_ENV = "LEPTON_TRAINING_SLOTS"
TICKET_SUFFIX = ".ticket"


class QueueCancelled(Exception):
    """Waiting in line was cancelled (``should_stop`` said so) before a slot came free."""


def default_slots() -> int:
    """The cores this process may use (its CPU affinity where the system says, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def ordinal(n: int) -> str:
    """``n`` as an ordinal in words of the current language: ``3`` -> ``"3rd"`` (Chinese: ``"第 3"``).

    English needs the suffix rule (11th, 12th, 13th, but 21st, 22nd, 23rd); each suffix is its own catalogue
    entry so that a language without suffixes translates them all alike.
    """
    from lepton_widgets.i18n import _  # here, not at the top: the module loads without the package

    if n % 100 in (11, 12, 13):
        template = _("{n}th")
    else:
        template = {1: _("{n}st"), 2: _("{n}nd"), 3: _("{n}rd")}.get(n % 10) or _("{n}th")
    return template.format(n=n)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class Slot:
    """A slot held by this process: ``index`` names it; :meth:`release` (or leaving the ``with``) frees it."""

    def __init__(self, index: int, fd: int) -> None:
        self.index, self._fd = index, fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class TrainingQueue:
    """At most ``slots`` holders at once among every process that uses ``folder``; the rest wait in line.

    Every process sharing a folder must use the same ``slots``. ``poll`` is how often a waiting job looks again
    (seconds): it bounds how long a freed slot stays empty and how late a cancel is noticed.
    """

    def __init__(self, folder: str | Path, slots: Optional[int] = None, poll: float = 0.2) -> None:
        self.folder = Path(folder)
        self.slots = default_slots() if slots is None else int(slots)
        if self.slots < 1:
            raise ValueError(f"a training queue needs at least 1 slot, not {self.slots}")
        self.poll = poll
        self.tickets = self.folder / "tickets"
        self.tickets.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "Optional[TrainingQueue]":
        """The queue ``LEPTON_QUEUE_DIR`` names (``LEPTON_TRAINING_SLOTS`` slots), or None when it is unset.

        >>> TrainingQueue.from_env({}) is None
        True
        """
        environ = os.environ if environ is None else environ
        folder = (environ.get(QUEUE_DIR_ENV) or "").strip()
        if not folder:
            return None
        raw = (environ.get(SLOTS_ENV) or "").strip()
        try:
            slots = int(raw) if raw else None
        except ValueError:
            raise ValueError(f"{SLOTS_ENV} must be a whole number of trainings at once, not {raw!r}") from None
        return cls(folder, slots)

    # --- waiting and running ------------------------------------------------------------------------

    def acquire(self, should_stop: Optional[Callable[[], bool]] = None,
                on_wait: Optional[Callable[[int], None]] = None) -> Slot:
        """Wait for a free slot and return it, held (use it as a context manager, or call ``release()``).

        ``on_wait(place)`` is called when the job has to wait and each time its place in line changes
        (1: next to run). ``should_stop()`` is asked every ``poll`` seconds while waiting; when it says True the
        job leaves the line and :class:`QueueCancelled` is raised.
        """
        ticket, fd = self._take_ticket()
        shown = None
        try:
            while True:
                place = self._place(ticket)
                if place == 1:
                    slot = self._try_slots()
                    if slot is not None:
                        return slot
                if should_stop is not None and should_stop():
                    raise QueueCancelled("left the queue before a slot came free")
                if place != shown:
                    shown = place
                    if on_wait is not None:
                        on_wait(place)
                time.sleep(self.poll)
        finally:
            # Unlinked before the lock goes, so nobody takes a live ticket for a stale one.
            ticket.unlink(missing_ok=True)
            os.close(fd)

    def running(self) -> int:
        """How many slots are held right now (by any process)."""
        held = 0
        for index in range(self.slots):
            fd = os.open(self._slot_path(index), os.O_RDWR | os.O_CREAT, 0o666)
            try:
                if _try_lock(fd):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                else:
                    held += 1
            finally:
                os.close(fd)
        return held

    def waiting(self) -> int:
        """How many live jobs are waiting in line."""
        with self._queue_lock():
            return len(self._live_tickets())

    # --- the files ----------------------------------------------------------------------------------

    def _slot_path(self, index: int) -> Path:
        return self.folder / f"slot-{index}.lock"

    def _try_slots(self) -> Optional[Slot]:
        for index in range(self.slots):
            fd = os.open(self._slot_path(index), os.O_RDWR | os.O_CREAT, 0o666)
            if _try_lock(fd):
                return Slot(index, fd)
            os.close(fd)
        return None

    def _queue_lock(self):
        return _FileLock(self.folder / "queue.lock")

    def _take_ticket(self) -> tuple[Path, int]:
        """A new ticket at the end of the line, locked by this process (its fd is the lock)."""
        with self._queue_lock():
            numbers = [_number(p) for p in self.tickets.glob(f"*{TICKET_SUFFIX}")]
            number = max(numbers, default=0) + 1
            # Locked under a temporary name and then renamed, all under the queue lock: nobody ever sees the
            # ticket unlocked and takes it for a stale one.
            tmp = self.tickets / f".{os.getpid()}-{threading.get_ident()}.tmp"
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
            ticket = self.tickets / f"{number:012d}-{os.getpid()}{TICKET_SUFFIX}"
            os.replace(tmp, ticket)
            return ticket, fd

    def _live_tickets(self) -> list[Path]:
        """The live tickets in line order, removing stale ones (call with the queue lock held)."""
        live = []
        for path in sorted(self.tickets.glob(f"*{TICKET_SUFFIX}"), key=_number):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # its job just got a slot or left
            try:
                if _try_lock(fd):
                    path.unlink(missing_ok=True)  # its process died while waiting
                else:
                    live.append(path)
            finally:
                os.close(fd)
        return live

    def _place(self, ticket: Path) -> int:
        """1 + the live tickets ahead of ``ticket``."""
        with self._queue_lock():
            mine = _number(ticket)
            return 1 + sum(1 for path in self._live_tickets() if _number(path) < mine)


def _number(path: Path) -> int:
    return int(path.name.split("-", 1)[0])


class _FileLock:
    """An exclusive ``flock`` on ``path`` for the length of a ``with`` block (the file stays; it is tiny)."""

    def __init__(self, path: Path) -> None:
        self.path, self._fd = path, None

    def __enter__(self) -> "_FileLock":
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fd, self._fd = self._fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

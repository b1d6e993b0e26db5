"""The training queue of a room server (issue 17): at most N trainings at once across processes, first come first
served, the place in line shown, a dead process's slot or ticket freed, and Stop leaving the line.

The jobs here are real processes holding real slots of the real queue; each holds its slot until the test lets it
go, which proves the limit without a minute of Keras training. The helper processes load the queue module
without the package's start-up (TensorFlow), so that each starts in a fraction of a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lepton_widgets.core.base.training_queue import QueueCancelled, TrainingQueue, ordinal
from lepton_widgets.i18n import set_language

ROOT = Path(__file__).resolve().parents[1]

#: One queued job in its own process: says its state in ``<state>/<name>``, holds its slot until
#: ``<state>/<name>.release`` exists.
HOLDER = r"""
import os, pathlib, sys, time, types
root, folder, slots, state, name = sys.argv[1:6]
package = types.ModuleType("lepton_widgets")
package.__path__ = [os.path.join(root, "lepton_widgets")]
sys.modules["lepton_widgets"] = package  # the module alone, without the package's TensorFlow start-up
from lepton_widgets.core.base.training_queue import TrainingQueue
state = pathlib.Path(state)
def say(text):
    tmp = state / f".{name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, state / name)
queue = TrainingQueue(folder, int(slots), poll=0.05)
with queue.acquire(on_wait=lambda place: say(f"waiting {place}")) as slot:
    say("running")
    while not (state / f"{name}.release").exists():
        time.sleep(0.02)
say("done")
"""


def wait_for(check, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Room:
    """Helper processes sharing one queue folder."""

    def __init__(self, tmp_path: Path, slots: int) -> None:
        self.folder, self.state, self.slots = tmp_path / "queue", tmp_path / "state", slots
        self.state.mkdir()
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen([sys.executable, "-c", HOLDER, str(ROOT), str(self.folder),
                                             str(self.slots), str(self.state), name])

    def said(self, name: str) -> str:
        path = self.state / name
        return path.read_text() if path.exists() else ""

    def expect(self, name: str, text: str) -> None:
        wait_for(lambda: self.said(name) == text, f"{name} to say {text!r} (it says {self.said(name)!r})")

    def release(self, name: str) -> None:
        (self.state / f"{name}.release").touch()
        assert self.procs[name].wait(timeout=20) == 0
        assert self.said(name) == "done"

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=20)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def room(tmp_path):
    room = Room(tmp_path, slots=2)
    yield room
    room.close()


def test_two_run_while_the_third_and_fourth_wait_in_line_and_then_run_in_order(room):
    room.start("a")
    room.start("b")
    room.expect("a", "running")
    room.expect("b", "running")
    room.start("c")
    room.expect("c", "waiting 1")
    room.start("d")
    room.expect("d", "waiting 2")
    queue = TrainingQueue(room.folder, 2)
    assert (queue.running(), queue.waiting()) == (2, 2)
    time.sleep(0.3)  # several polls: nobody jumps the queue while both slots are held
    assert (room.said("c"), room.said("d")) == ("waiting 1", "waiting 2")

    room.release("a")
    room.expect("c", "running")  # first come, first served
    room.expect("d", "waiting 1")
    assert room.said("b") == "running" and queue.running() == 2

    room.release("b")
    room.expect("d", "running")
    room.release("c")
    room.release("d")
    assert (queue.running(), queue.waiting()) == (0, 0)


def test_a_killed_holder_frees_its_slot_and_a_killed_waiter_leaves_the_line(room):
    for name in ("a", "b"):
        room.start(name)
        room.expect(name, "running")
    room.start("c")
    room.expect("c", "waiting 1")
    room.start("d")
    room.expect("d", "waiting 2")

    room.kill("c")  # its ticket is stale now: d moves up
    room.expect("d", "waiting 1")
    room.kill("a")  # the system drops a dead process's lock: d gets a's slot
    room.expect("d", "running")
    queue = TrainingQueue(room.folder, 2)
    assert (queue.running(), queue.waiting()) == (2, 0)
    room.release("b")
    room.release("d")


def test_stop_while_waiting_leaves_the_line_and_frees_nothing(tmp_path):
    queue = TrainingQueue(tmp_path, slots=1, poll=0.02)
    holder = queue.acquire()
    stop, places, outcome = threading.Event(), [], []

    def waiter():
        try:
            queue.acquire(should_stop=stop.is_set, on_wait=places.append).release()
            outcome.append("ran")
        except QueueCancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_for(lambda: places == [1], "the waiter to be first in line")
    stop.set()
    thread.join(10)
    assert outcome == ["cancelled"]
    assert (queue.running(), queue.waiting()) == (1, 0)  # the holder keeps its slot; the line is empty
    holder.release()
    with queue.acquire() as slot:  # and the slot is free for the next one at once
        assert slot.index == 0


def test_ordinals_in_english_and_chinese():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th"]
    try:
        set_language("zh")
        assert ordinal(3) == "第 3"
    finally:
        set_language(None)


def test_no_queue_folder_means_no_queue_and_a_bad_slot_count_is_named(tmp_path):
    assert TrainingQueue.from_env({}) is None
    queue = TrainingQueue.from_env({"LEPTON_QUEUE_DIR": str(tmp_path), "LEPTON_TRAINING_SLOTS": "3"})
    assert queue.slots == 3
    assert TrainingQueue.from_env({"LEPTON_QUEUE_DIR": str(tmp_path)}).slots >= 1
    with pytest.raises(ValueError, match="LEPTON_TRAINING_SLOTS"):
        TrainingQueue.from_env({"LEPTON_QUEUE_DIR": str(tmp_path), "LEPTON_TRAINING_SLOTS": "two"})


def test_a_training_job_waits_in_line_in_the_session_and_stop_leaves_the_line(room, tmp_path):
    from lepton_widgets.state.runner import Runner
    from lepton_widgets.state.session import Session

    room.slots = 1
    room.start("holder")
    room.expect("holder", "running")
    room.start("ahead")
    room.expect("ahead", "waiting 1")
    queue = TrainingQueue(room.folder, 1, poll=0.05)
    session = Session()
    runner = Runner(session, runs_dir=tmp_path / "runs", queue=queue)
    ran = []

    def work(job):  # the critical section: it runs holding the only slot
        ran.append(queue.running())
        return "trained"

    runner.submit("train", work)
    wait_for(lambda: session.status == "waiting", "the Session to say waiting")
    wait_for(lambda: session.message == "2nd in line", f"'2nd in line' (it says {session.message!r})")
    assert session.busy  # the Stop button is live while waiting
    runner.stop()
    assert runner.wait(10)
    assert session.status == "cancelled" and ran == []
    assert session.message == "left the queue before its turn"

    runner.submit("train", work)
    wait_for(lambda: session.message == "2nd in line", "the second try to wait in line")
    room.kill("ahead")
    wait_for(lambda: session.message == "1st in line", f"'1st in line' (it says {session.message!r})")
    room.release("holder")
    assert runner.wait(20)
    assert session.status == "finished" and runner.result == "trained" and ran == [1]
    assert queue.running() == 0
    # A job that does not load the CPU (checking data) never waits in line.
    with queue.acquire():
        runner.submit("prepare data", lambda job: "checked")
        assert runner.wait(10) and runner.result == "checked"

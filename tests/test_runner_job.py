"""The Runner owns one Job per unit of work: its work gets that Job, Stop sets its stop request, events go to
the Job's sink. No training here: the work is a plain loop, so these run in well under a second."""

from __future__ import annotations

import threading

import pytest
from conftest import wait_for

from lepton_widgets import api
from lepton_widgets.core.base.events import ListSink, Progress, RunWarning
from lepton_widgets.core.base.job import Job
from lepton_widgets.state import Runner, Session


def test_stop_sets_the_stop_request_of_the_job_the_work_was_given(tmp_path):
    session = Session()
    runner = Runner(session, runs_dir=tmp_path)
    given, started = [], threading.Event()

    def work(job):
        given.append(job)
        started.set()
        while True:  # a long step that checks between batches, like fit()
            job.check_stop()
            job.emit(Progress(run_id=job.run_id, task="loop", done=1, total=2))
            threading.Event().wait(0.01)

    runner.submit("loop", work)
    assert started.wait(10)
    assert wait_for(lambda: session.progress.get("task") == "loop", 10), "events go to the Session by default"
    runner.stop()
    assert runner.wait(timeout=10)
    [job] = given
    assert job is runner.job and job.stopped
    assert session.status == "cancelled" and session.last_error == ""


def test_each_unit_of_work_gets_a_fresh_job_and_an_old_stop_does_not_carry_over(tmp_path):
    runner = Runner(Session(), runs_dir=tmp_path)
    jobs = []
    runner.submit("first", lambda job: jobs.append(job))
    assert runner.wait(timeout=10)
    runner.job.stop()  # a late Stop on the finished job...
    runner.submit("second", lambda job: jobs.append(job))
    assert runner.wait(timeout=10)
    first, second = jobs
    assert first is not second and first.stopped and not second.stopped  # ...does not stop the next one
    assert runner.session.status == "finished"


def test_a_panel_sink_receives_the_jobs_events_instead_of_the_session(tmp_path):
    session, sink = Session(), ListSink()
    runner = Runner(session, runs_dir=tmp_path)
    runner.submit("warn", lambda job: job.emit(RunWarning(run_id="", message="seen by the panel")), sink=sink)
    assert runner.wait(timeout=10)
    assert [e.message for e in sink.events] == ["seen by the panel"]
    assert session.status == "finished"


def test_the_api_refuses_a_job_together_with_a_sink_or_stop_event(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        api.fuse([], job=Job(), stop_event=threading.Event(), runs_dir=tmp_path)

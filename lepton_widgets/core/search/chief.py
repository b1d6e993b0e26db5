"""The chief of a distributed search: KerasTuner's oracle service, watched.

KerasTuner's own chief (``BaseTuner.search`` with ``KERASTUNER_TUNER_ID=chief``) serves the oracle over
gRPC and returns when every worker has been told to stop, but it polls for that every 20 s and says
nothing meanwhile. :func:`serve_oracle` serves the same ``OracleServicer`` with the same exit rule
(``oracle_chief.exit_chief``), and in its loop reports trials as workers start and end them, honours a
stop event, and exits within a fraction of a second of the last worker leaving.

This uses two KerasTuner internals (``keras_tuner.src.distribute.oracle_chief`` and ``protos``), checked
with keras-tuner 1.4.8; tests/test_tuning.py runs a chief and two workers.

Example (blocks until the workers are done, so not run as a doctest)::

    os.environ.update(KERASTUNER_TUNER_ID="chief", KERASTUNER_ORACLE_IP="127.0.0.1",
                      KERASTUNER_ORACLE_PORT="8000")
    serve_oracle(tuner, on_trial_start=print, on_trial_end=print)
"""

from __future__ import annotations

import os
import time
from concurrent import futures
from typing import Callable, Optional

from lepton_widgets.core.base.job import Job


def serve_oracle(tuner, *, on_trial_start: Callable = lambda trial, tuner_id, started: None,
                 on_trial_end: Callable = lambda trial, started: None,
                 job: Optional[Job] = None, poll: float = 0.2) -> None:
    """Serve ``tuner.oracle`` at ``$KERASTUNER_ORACLE_IP:$KERASTUNER_ORACLE_PORT`` until the workers are done.

    ``on_trial_start(trial, tuner_id, started)`` and ``on_trial_end(trial, started)`` run in this thread,
    once per trial (``started`` is ``time.monotonic()`` when the trial was first seen running). Raises
    ``Cancelled`` when ``job`` is asked to stop; workers then fail to reach the oracle and stop.
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    oracle = tuner.oracle
    oracle.verbose = 0  # KerasTuner's display would print tables (and clear notebook output)
    tuner.save()
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))  # one request at a time, as upstream
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:  # newer grpc raises instead of returning 0
        raise RuntimeError(f"the oracle cannot listen on {address}: {error}") from None
    if not bound:
        raise RuntimeError(f"the oracle cannot listen on {address} (port in use?)")
    server.start()
    started: dict[str, float] = {}
    reported = 0
    try:
        while True:
            time.sleep(poll)
            for tuner_id, trial in list(oracle.ongoing_trials.items()):
                if trial.trial_id not in started:
                    started[trial.trial_id] = time.monotonic()
                    on_trial_start(trial, tuner_id, started[trial.trial_id])
            ended = list(oracle.end_order)
            for trial_id in ended[reported:]:
                on_trial_end(oracle.trials[trial_id], started.get(trial_id, time.monotonic()))
            reported = len(ended)
            if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
                return
            if job is not None:
                job.check_stop()
    finally:
        server.stop(grace=1.0)
        tuner.save()

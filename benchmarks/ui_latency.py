"""How fast the workbench answers in a real browser while it trains (Voilà + headless Chromium).

Two latencies, both measured on this machine's one clock (the kernel's ``time.time()`` and the page's
``Date.now()`` read the same system clock):

- **epoch end -> point visible**: the engine's ``epoch_ended`` event time (written by the app to the file
  in ``LEPTON_BENCH_EVENTS``) to the moment the new point is in the loss curve's SVG (a MutationObserver
  in the page). Baseline, same message path without Plotly: the same event to the status line showing
  ``epoch k/N`` (an HTML widget). Target: point <= 1 s.
- **button click -> answer**: the click on Stop during training (and on Train) to the first change of the
  status line it causes, both timed in the page. Target: <= 0.3 s.

Each of ``RUNS`` runs trains digits with small_cnn at 32 px, two blocks unfrozen so every fine-tune
epoch does real work, and is stopped after ``EPOCHS_BEFORE_STOP`` epochs. Prints JSON context and
details, then the ``BENCH`` line (median epoch-to-point latency).

Run: python -m benchmarks.ui_latency
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import context, report, summarize
from lepton_widgets.apps.browser import chromium, wait_for_figures, wait_for_workbench
from lepton_widgets.apps.launch import VoilaServer

RUNS = 5
EPOCHS_BEFORE_STOP = 4
APP_ENV = {"LEPTON_APP_DATASET": "digits", "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none",
           "LEPTON_APP_IMAGE_SIZE": "32", "LEPTON_APP_EPOCHS": "1", "LEPTON_APP_FINE_TUNE_EPOCHS": "20",
           "LEPTON_APP_MAX_PER_CLASS": "60", "LEPTON_APP_BATCH_SIZE": "16", "LEPTON_APP_FROZEN_DEPTH": "2"}

# Installed after the widgets are drawn: timestamps of every change of the loss trace's point count and of
# the Train panel's status line, and of clicks on Train / Stop (capture phase: before any widget code).
INSTRUMENT_JS = """() => {
    const log = window.__lepton = {points: [], status: [], clicks: []};
    const curves = document.querySelector('.lepton-curves');
    const lossPoints = () => {
        const trace = curves.querySelector('.scatterlayer .trace');
        return trace ? trace.querySelectorAll('.points path').length : 0;
    };
    let points = lossPoints();
    log.points.push([Date.now(), points]);
    new MutationObserver(() => {
        const n = lossPoints();
        if (n !== points) { log.points.push([Date.now(), n]); points = n; }
    }).observe(curves, {subtree: true, childList: true, attributes: true});
    const status = document.querySelector('.lepton-status');
    let text = status.innerText;
    new MutationObserver(() => {
        const t = status.innerText;
        if (t !== text) { log.status.push([Date.now(), t]); text = t; }
    }).observe(status, {subtree: true, childList: true, characterData: true});
    document.addEventListener('click', (e) => {
        for (const name of ['train', 'stop']) {
            if (e.target.closest('.lepton-' + name + '-button')) log.clicks.push([name, Date.now()]);
        }
    }, true);
}"""


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


def _answers(clicks: list, status: list, name: str, words: tuple[str, ...]) -> list[float]:
    """Seconds from each click on ``name`` to the status line first showing one of ``words`` after it (an
    epoch line that was already on its way when the click happened is not the answer)."""
    out = []
    for clicked, at in clicks:
        if clicked == name:
            after = [t for t, text in status if t >= at and any(word in text for word in words)]
            if after:
                out.append((after[0] - at) / 1000)
    return out


def _epoch_latencies(events: list[dict], points: list, status: list) -> tuple[list[float], list[float]]:
    """(epoch end -> point visible, epoch end -> status 'epoch k/') per epoch, run by run.

    The loss trace restarts from 0 points when a run starts, so the point log splits into runs there."""
    segments, current = [], []
    for at, n in points:
        if n == 0:
            if current:
                segments.append(current)
            current = []
        else:
            current.append((at, n))
    if current:
        segments.append(current)
    runs: dict[str, list[dict]] = {}
    for event in events:
        runs.setdefault(event["run_id"], []).append(event)
    to_point, to_status = [], []
    for run_events, segment in zip(runs.values(), segments):
        for index, event in enumerate(run_events, start=1):
            seen = [at for at, n in segment if n >= index]
            if seen:
                to_point.append(seen[0] / 1000 - event["time"])
            shown = [at for at, text in status if f"epoch {index}/" in text and at / 1000 >= event["time"] - 0.5]
            if shown:
                to_status.append(shown[0] / 1000 - event["time"])
    return to_point, to_status


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="lepton-bench-ui-"))
    events_file = work / "epochs.jsonl"
    env = {**APP_ENV, "LEPTON_HOME": str(work / "home"), "LEPTON_BENCH_EVENTS": str(events_file)}
    page_errors: list[str] = []
    with VoilaServer(env=env, runs_dir=work / "runs", log_path=work / "voila.log") as server:
        with chromium() as browser:
            page = browser.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            started = time.monotonic()
            page.goto(server.url, wait_until="commit", timeout=60_000)
            wait_for_workbench(page, timeout_s=180)
            page_seconds = time.monotonic() - started
            wait_for_figures(page)  # see its docstring: figures that start late never update
            page.evaluate(INSTRUMENT_JS)
            for run in range(RUNS):
                start = page.evaluate("window.__lepton.points.length") - (1 if run == 0 else 0)
                page.locator(".lepton-train-button").click()
                # this run's curve: a reset to 0 points (or the empty start), then enough epochs
                grown = (f"(() => {{ const p = window.__lepton.points.slice({start}); "
                         f"const z = p.findIndex(e => e[1] === 0); "
                         f"return z >= 0 && p.slice(z).some(e => e[1] >= {1 + EPOCHS_BEFORE_STOP}); }})()")
                _wait(lambda grown=grown: page.evaluate(grown), 180,
                      f"{EPOCHS_BEFORE_STOP} epochs of run {run + 1} (page errors: {page_errors[:2]})")
                page.locator(".lepton-stop-button").click()
                _wait(lambda: "cancelled" in page.locator(".lepton-status").inner_text(), 120, "the stop")
            log = page.evaluate("window.__lepton")
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    to_point, to_status = _epoch_latencies(events, log["points"], log["status"])
    stop_answers = _answers(log["clicks"], log["status"], "stop", ("stopping", "cancelled"))
    train_answers = _answers(log["clicks"], log["status"], "train", ("preparing", "running"))
    if not to_point or not stop_answers:
        raise RuntimeError(f"nothing measured: {len(events)} epochs, log {log}, page errors {page_errors[:3]}")
    point, label = summarize(to_point), summarize(to_status or [float("nan")])
    report("ui_latency", context(dataset="digits", backbone="small_cnn", image_size=32, runs=RUNS,
                                 epochs_per_run=1 + EPOCHS_BEFORE_STOP, page_load_s=round(page_seconds, 1),
                                 browser="chromium headless", server="voila"),
           {"epoch_end_to_point_visible_s": point, "epoch_end_to_status_text_s": label,
            "stop_click_to_answer_s": summarize(stop_answers), "train_click_to_answer_s": summarize(train_answers),
            "targets": {"point_visible_s": "<= 1", "click_answer_s": "<= 0.3"},
            "page_errors": page_errors[:3],
            "point_over_status_text": point["median"] / label["median"] if to_status else None},
           metric="epoch_end_to_point_visible_s", value=point["median"], target="<= 1", unit="s")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()

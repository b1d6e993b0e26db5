"""Room load: N students on one ``lepton app --room`` server, each in their own browser context.

For N = 1, 3 and 6 (``--students``), a fresh room server (RoomServer: the command ``lepton app --room`` runs)
with a pool of N preheated kernels (``--pool N``, the room's size) is started and left to warm up (every pooled
kernel has run the notebook: all of them idle). Then N headless Chromium contexts at once each:

1. open the workbench page: **page load** = from ``goto`` until the name box is on the screen;
2. type a name, press Start, press Train: **time to a trained model** = from ``goto`` until the run is
   finished in that person's folder (``people/<name>/runs``);
3. close the tab (with the page's close request, as a browser closing a tab sends it).

Meanwhile the resident memory of the server and all its kernels is sampled every 0.5 s (**peak memory**).
After the tabs close, every kernel the students used must be gone within the cull time (the page's close
request normally ends it at once; culling is the fallback); the pool's refilled kernels stay, ready for the
next students, and are reported apart.

Settings: the small model the tests use (digits, small_cnn, 32 px, 20 images per class, 1 epoch, no
fine-tuning) rather than the built-in default (Fashion-MNIST, MobileNetV2 at 96 px), so that six trainings at
once finish in minutes on 2 cores; page load does not depend on it. Cull time 30 s.

Targets: page load for N = 6 no more than twice N = 1; no student kernel left; N = 1 page load 3 s or less.
The BENCH value is the ratio page load (N = 6) / page load (N = 1), medians.

Where the page-load time goes (reported for each N): the time to the page's first byte (the server's answer),
and the CPU seconds spent from the first ``goto`` until the last name box, by the browsers against the server
and its kernels. The simulated students' Chromium runs on the server's own cores: in a real room each browser
has its own laptop, and only the server's share is the room's to carry.

Run: python -m benchmarks.room_load [--students 1 3 6]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.common import context, report

from lepton_widgets.apps.browser import CHROMIUM_ARGS, chromium_path
from lepton_widgets.apps.room_server import RoomServer
from lepton_widgets.core.runs.room import safe_name
from lepton_widgets.core.runs.store import RunStore

APP_ENV = {
    "LEPTON_APP_DATASET": "digits", "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none",
    "LEPTON_APP_IMAGE_SIZE": "32", "LEPTON_APP_EPOCHS": "1", "LEPTON_APP_FINE_TUNE_EPOCHS": "0",
    "LEPTON_APP_MAX_PER_CLASS": "20", "LEPTON_MODE": "basic", "LEPTON_LANG": "en",
}
CULL_S = 30


def wait_until_warm(server: RoomServer, kernels: int, timeout_s: float = 900) -> float:
    """Seconds until ``kernels`` pooled kernels exist and all are idle (each has run the notebook)."""
    import psutil

    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        pids = server.kernel_pids()
        if len(pids) >= kernels:
            try:
                processes = [psutil.Process(pid) for pid in pids]
                for process in processes:
                    process.cpu_percent(None)
                time.sleep(2.0)
                if all(process.cpu_percent(None) < 5.0 for process in processes):
                    return time.monotonic() - start
            except psutil.Error:
                pass
        time.sleep(1.0)
    raise TimeoutError(f"the pool of {kernels} did not warm up in {timeout_s:.0f} s")


def cpu_seconds(processes) -> float:
    """User + system CPU seconds of ``processes`` so far (those that have ended count nothing)."""
    import psutil

    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


class PageLoadCpu:
    """Where the CPU went while the pages loaded: the browsers (this process's children: Playwright's driver
    and Chromium) against the room server and its kernels, from the first ``goto`` until the last name box."""

    def __init__(self, server: RoomServer, pages: int) -> None:
        import psutil

        self.left = pages
        self.browsers = lambda: psutil.Process().children(recursive=True)
        self.room = lambda: [psutil.Process(server.process.pid), *psutil.Process(server.process.pid).children(True)]
        self.start = (cpu_seconds(self.browsers()), cpu_seconds(self.room()))
        self.seconds: dict = {}

    def page_loaded(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.seconds = {"browsers_cpu_s": round(cpu_seconds(self.browsers()) - self.start[0], 2),
                            "server_and_kernels_cpu_s": round(cpu_seconds(self.room()) - self.start[1], 2)}


async def student(browser, server: RoomServer, name: str, cpu: PageLoadCpu) -> dict:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    start = time.monotonic()
    await page.goto(server.workbench_url, timeout=600_000)
    await page.wait_for_selector(".lepton-room-name input", timeout=600_000)
    loaded = time.monotonic() - start
    cpu.page_loaded()
    # The server's part of the page: the time to the first byte of the page itself.
    first_byte = await page.evaluate("performance.getEntriesByType('navigation')[0].responseStart / 1000")
    await page.fill(".lepton-room-name input", name)
    await page.click(".lepton-room-start")
    await page.wait_for_selector(".lepton-room-ready .lepton-train-button", timeout=600_000)
    await page.locator(".lepton-train-button").click()
    store = RunStore(server.room.people_dir / safe_name(name) / "runs")
    while not [r for r in store.runs(include_incomplete=False) if r.status == "finished"]:
        if time.monotonic() - start > 900:
            raise TimeoutError(f"{name}'s model did not finish")
        await asyncio.sleep(0.5)
    trained = time.monotonic() - start
    await page.close(run_before_unload=True)
    await context.close()
    return {"page_load_s": loaded, "first_byte_s": first_byte, "trained_s": trained}


async def classroom(server: RoomServer, students: int) -> tuple[list[dict], dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                                   args=CHROMIUM_ARGS)
        try:
            cpu = PageLoadCpu(server, students)
            results = await asyncio.gather(*(student(browser, server, f"student {i + 1}", cpu)
                                             for i in range(students)))
            return results, cpu.seconds
        finally:
            await browser.close()


def one_room(students: int, folder: Path) -> dict:
    server = RoomServer(folder / f"room{students}", env=APP_ENV, log_path=folder / f"voila{students}.log",
                        pool=students, cull_idle_s=CULL_S, cull_interval_s=5)
    with server:
        warm_s = wait_until_warm(server, students)
        used = set(server.kernel_pids())  # the pooled kernels the students are about to take
        peak = [server.memory_mb()]
        sampling = True

        def sample() -> None:
            while sampling:
                peak.append(server.memory_mb())
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            results, page_load_cpu = asyncio.run(classroom(server, students))
        finally:
            sampling = False
            sampler.join()
        closed = time.monotonic()
        while used & set(server.kernel_pids()) and time.monotonic() - closed < CULL_S + 15:
            time.sleep(0.5)
        left = len(used & set(server.kernel_pids()))
        gone_s = time.monotonic() - closed
        ready = len(set(server.kernel_pids()) - used)
    loads = [r["page_load_s"] for r in results]
    trained = [r["trained_s"] for r in results]
    first_bytes = [r["first_byte_s"] for r in results]
    return {"students": students, "warm_up_s": round(warm_s, 1),
            "page_load_s": {"median": statistics.median(loads), "max": max(loads)},
            "first_byte_s": {"median": statistics.median(first_bytes), "max": max(first_bytes)},
            "page_load_cpu": page_load_cpu,
            "trained_s": {"median": statistics.median(trained), "max": max(trained)},
            "peak_memory_mb": round(max(peak)), "student_kernels_left": left,
            "student_kernels_gone_after_s": round(gone_s, 1), "pool_kernels_ready_after": ready}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1, 3, 6])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lepton-room-bench-") as folder:
        for students in args.students:
            row = one_room(students, Path(folder))
            print(row, flush=True)
            rows.append(row)
    first, last = rows[0], rows[-1]
    ratio = last["page_load_s"]["median"] / first["page_load_s"]["median"]
    ctx = context(setting="digits, small_cnn, 32 px, 20 per class, 1 epoch", cull_s=CULL_S,
                  note="shared 2-core machine: other work ran at the same time")
    details = {"rooms": rows, "page_load_ratio": ratio,
               "single_user_warm_page_load_s": first["page_load_s"]["median"],
               "kernels_left": sum(r["student_kernels_left"] for r in rows)}
    report("room_load", ctx, details, metric=f"page load N={last['students']} / N={first['students']} (median)",
           value=ratio, target="<= 2, no kernel left, N=1 page load <= 3 s", unit="ratio")


if __name__ == "__main__":
    main()

"""Soak run: polling plus four live streams against the simulator, with faults injected.

Run from the repository root:

    .venv/bin/python benchmarks/soak.py                    # 30 minutes, the NVR's real pacing
    .venv/bin/python benchmarks/soak.py --minutes 5        # a shorter one
    .venv/bin/python benchmarks/soak.py --minutes 5 --json soak.json

What runs, all in this process through the real ``IproClient``:

- polling as the coordinator does it: the event log every ``--poll`` seconds, camera
  status every 30 s, disks every 600 s, through one pacer (3 s / 0.2 s unless ``--fast``);
  new log entries found by the integration's own ``LogTracker``;
- four live H.264 streams (cameras 1-4) through the integration's ``Restreamer``, each
  read by a loopback HTTP viewer, as Home Assistant's stream worker would;
- the soak adds a uniquely named event (``SOAK-n``) to the NVR's log every
  ``--event-every`` seconds, so every one of them must be reported exactly once;
- every ``--fault-every`` seconds one fault from ``FAULTS`` (in turn, shuffled by
  ``--seed``): NVR reboot, UIDs evicted by other clients, all 16 sessions taken (503),
  HTTP 500, garbage bodies, answers slower than the request timeout, live streams cut,
  truncated or claiming a 2 GiB part, a camera losing its connection.

Reported: memory (RSS and Python's traced allocations are not the same thing; RSS of
the whole process, simulator included, sampled every 10 s: growth after warm-up, and its
slope over the second half), event loss and duplicates (must be zero), reconnect times
per fault (fault to the next successful poll; fault to the next restream bytes of each
viewer), login count, and the UIDs still held at the end.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
import gc
import json
import logging
from pathlib import Path
import random
import statistics
import sys
import time
import tracemalloc
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.ipro_nvr.aioipro.client import IproClient  # noqa: E402
from custom_components.ipro_nvr.aioipro.errors import IproError  # noqa: E402
from custom_components.ipro_nvr.aioipro.models import VideoCodec  # noqa: E402
from custom_components.ipro_nvr.aioipro.pacer import Pacer  # noqa: E402
from custom_components.ipro_nvr.aioipro.restream import Restreamer  # noqa: E402
from custom_components.ipro_nvr.logs import LogTracker  # noqa: E402
from ipro_sim import NvrSimulator, SimulatorConfig  # noqa: E402

CAMERAS = (1, 2, 3, 4)
STATUS_EVERY = 30.0
HDD_EVERY = 600.0
REQUEST_TIMEOUT = 5.0
REBOOT_DOWNTIME = 3.0
GAP = 1.0
"""A pause in a viewer's bytes longer than this counts as an interruption."""
FAULTS = (
    "reboot",
    "evict",
    "others_take_16",
    "no_free_uid",
    "http_500",
    "garbage",
    "slow",
    "stream_drop",
    "stream_truncate",
    "huge_part",
    "camera_lost",
)


def rss_mib() -> float:
    """Return the resident set size of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    """Return how many file descriptors this process holds."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


@dataclass
class Viewer:
    """One loopback viewer of a camera's restream."""

    camera: int
    bytes: int = 0
    last: float = 0.0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    """(start, length) of every pause longer than ``GAP``."""


@dataclass
class Soak:
    """State of one soak run."""

    args: argparse.Namespace
    sim: NvrSimulator
    client: IproClient
    started: float = field(default_factory=time.monotonic)
    polls_ok: int = 0
    polls_failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    added: list[str] = field(default_factory=list)
    reported: Counter[str] = field(default_factory=Counter)
    last_ok: float = 0.0
    faults: list[tuple[str, float]] = field(default_factory=list)
    poll_recovery: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    memory: list[tuple[float, float, int, int]] = field(default_factory=list)
    viewers: list[Viewer] = field(default_factory=list)
    logins: int = 0
    baseline: tracemalloc.Snapshot | None = None
    """Python allocations after the warm-up (``--trace``)."""
    growth: list[str] = field(default_factory=list)
    task_names: list[Counter[str]] = field(default_factory=list)
    """Running tasks by name after the warm-up and at the end."""
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set after a successful poll that left no added event unreported."""

    def now(self) -> float:
        return time.monotonic() - self.started


async def poll_loop(soak: Soak, stop: asyncio.Event) -> None:
    """Poll like the coordinator: event log each time, one slow poll when due."""
    client = soak.client
    tracker = LogTracker()
    due = {"cameras": 0.0, "hdd": 0.0}
    pending: tuple[str, float] | None = None
    while not stop.is_set():
        begun = soak.now()
        try:
            log = await client.get_event_log()
            for entry in tracker.update(log):
                soak.reported[entry.kind] += 1
            for name, every in (("cameras", STATUS_EVERY), ("hdd", HDD_EVERY)):
                if due[name] <= begun:
                    due[name] = begun + every
                    if name == "cameras":
                        await client.get_camera_connection()
                    else:
                        await client.get_hdd_info()
                    break
        except IproError as err:
            soak.polls_failed += 1
            soak.errors[type(err).__name__] += 1
        else:
            soak.polls_ok += 1
            soak.last_ok = soak.now()
            if set(soak.added) <= set(soak.reported):
                soak.caught_up.set()
            # Recovery of the newest fault: its first successful poll after it.
            if soak.faults and soak.faults[-1] is not pending:
                pending = soak.faults[-1]
                name, at = pending
                soak.poll_recovery[name].append(soak.last_ok - at)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), soak.args.poll)


async def view(soak: Soak, session: aiohttp.ClientSession, url: str, viewer: Viewer) -> None:
    """Read a restream for the whole run, noting every pause in its bytes."""
    while True:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
                async for chunk in response.content.iter_any():
                    now = soak.now()
                    if viewer.last and now - viewer.last > GAP:
                        viewer.gaps.append((viewer.last, now - viewer.last))
                    viewer.last = now
                    viewer.bytes += len(chunk)
        except aiohttp.ClientError:
            pass
        # The restream ended this viewer (e.g. a codec change): reconnect as HA would.
        await asyncio.sleep(0.5)


async def add_events(soak: Soak, stop: asyncio.Event) -> None:
    """Add a uniquely named event to the NVR's log now and then (also while it reboots)."""
    number = 0
    while not stop.is_set():
        number += 1
        kind = f"SOAK-{number}"
        soak.sim.add_event(kind)
        soak.added.append(kind)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), soak.args.event_every)


async def inject(soak: Soak, name: str) -> None:
    """Inject one fault and undo it after a while."""
    sim = soak.sim
    faults = sim.faults
    if name == "reboot":
        sim.reboot(REBOOT_DOWNTIME)
        await sim.wait_until_up()
    elif name == "evict":
        sim.invalidate_uids()
    elif name == "others_take_16":
        sim.login_other_clients(16)
    elif name == "no_free_uid":
        sim.invalidate_uids()
        faults.no_free_uid = True
        await asyncio.sleep(10)
    elif name == "http_500":
        faults.fail_next(3)
        await asyncio.sleep(5)
    elif name == "garbage":
        faults.garbage(2)
        await asyncio.sleep(5)
    elif name == "slow":
        faults.slow(REQUEST_TIMEOUT + 1, "loglist.cgi")
        await asyncio.sleep(REQUEST_TIMEOUT * 2)
    elif name == "stream_drop":
        faults.drop_after_bytes = 1
        await asyncio.sleep(0.5)
    elif name == "stream_truncate":
        faults.truncate_after_parts = 0
        await asyncio.sleep(0.5)
    elif name == "huge_part":
        faults.huge_content_length = True
        faults.drop_after_bytes = 1
        await asyncio.sleep(0.2)
        faults.drop_after_bytes = None
        await asyncio.sleep(2)
    elif name == "camera_lost":
        sim.set_camera_status(2, 2)
        await asyncio.sleep(5)
        sim.set_camera_status(2, 1)
    faults.reset()


async def fault_loop(soak: Soak, stop: asyncio.Event) -> None:
    """Inject faults in turn (a shuffled cycle) after a fault-free warm-up."""
    rng = random.Random(soak.args.seed)
    order: list[str] = []
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), soak.args.warmup)
    while not stop.is_set():
        if not order:
            order = list(FAULTS)
            rng.shuffle(order)
        name = order.pop()
        soak.faults.append((name, soak.now()))
        logging.getLogger("soak").info("fault: %s", name)
        await inject(soak, name)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), soak.args.fault_every)


async def sample_loop(soak: Soak, stop: asyncio.Event) -> None:
    """Sample memory, tasks and descriptors; count logins; keep the request log small."""
    while not stop.is_set():
        gc.collect()
        soak.logins += sum(1 for r in soak.sim.requests if r.cgi == "dlogin.cgi")
        soak.sim.requests.clear()
        soak.memory.append((soak.now(), rss_mib(), len(asyncio.all_tasks()), open_fds()))
        if soak.now() >= soak.args.warmup and not soak.task_names:
            soak.task_names.append(task_names())
            if soak.args.trace:
                soak.baseline = tracemalloc.take_snapshot()
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 10)


def stream_recovery(soak: Soak) -> dict[str, list[float]]:
    """For each fault, how long after it every viewer waited for its next bytes."""
    result: dict[str, list[float]] = defaultdict(list)
    for name, at in soak.faults:
        for viewer in soak.viewers:
            # The pause that covers or starts right after the fault.
            for start, length in viewer.gaps:
                if start - 1.0 <= at <= start + length:
                    result[name].append(start + length - at)
                    break
    return result


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) in MiB per hour."""
    if len(points) < 2:
        return 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mean_x) ** 2 for x in xs)
    if den == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / den * 3600


def task_names() -> Counter[str]:
    """Count the running asyncio tasks by their coroutine's name."""
    return Counter(task.get_coro().__qualname__ for task in asyncio.all_tasks())  # type: ignore[union-attr]


def allocation_growth(soak: Soak) -> list[str]:
    """The source lines whose live Python allocations grew most since the warm-up."""
    if soak.baseline is None:
        return []
    gc.collect()
    diff = tracemalloc.take_snapshot().compare_to(soak.baseline, "lineno")
    total = sum(stat.size_diff for stat in diff)
    top = sorted(diff, key=lambda stat: stat.size_diff, reverse=True)[:12]
    lines = [f"total {total / 1024:+.0f} KiB"]
    for stat in top:
        frame = stat.traceback[0]
        where = frame.filename.rsplit("site-packages/", 1)[-1].replace(str(ROOT) + "/", "")
        lines.append(f"{where}:{frame.lineno} {stat.size_diff / 1024:+.0f} KiB")
    return lines


def summarize(soak: Soak, duration: float, held_uids: int) -> dict[str, Any]:
    """Everything the run measured, as plain data."""
    warm = [m for m in soak.memory if m[0] >= soak.args.warmup]
    second_half = [(t, rss) for t, rss, _, _ in soak.memory if t >= duration / 2]
    added = set(soak.added)
    missed = sorted(added - set(soak.reported), key=lambda kind: int(kind.split("-")[1]))
    duplicates = {kind: n for kind, n in soak.reported.items() if n > 1}
    streams = stream_recovery(soak)
    return {
        "minutes": round(duration / 60, 1),
        "pacing": "fast" if soak.args.fast else "real (3 s / 0.2 s)",
        "polls_ok": soak.polls_ok,
        "polls_failed": soak.polls_failed,
        "poll_errors": dict(soak.errors),
        "events_added": len(soak.added),
        "events_reported": sum(n for kind, n in soak.reported.items() if kind in added),
        "events_missed": missed,
        "events_duplicated": duplicates,
        "faults": dict(Counter(name for name, _ in soak.faults)),
        "poll_recovery_s": {
            name: [round(v, 1) for v in values] for name, values in soak.poll_recovery.items()
        },
        "stream_recovery_s": {
            name: round(max(values), 1) for name, values in streams.items() if values
        },
        "viewer_bytes": {f"camera {v.camera}": v.bytes for v in soak.viewers},
        "viewer_gaps_s": {
            f"camera {v.camera}": [[round(start), round(length, 1)] for start, length in v.gaps]
            for v in soak.viewers
        },
        "fault_times_s": [[name, round(at)] for name, at in soak.faults],
        "rss_mib_after_warmup": round(warm[0][1], 1) if warm else None,
        "rss_mib_end": round(soak.memory[-1][1], 1) if soak.memory else None,
        "rss_mib_max": round(max(m[1] for m in soak.memory), 1) if soak.memory else None,
        "rss_slope_mib_per_hour_second_half": round(slope_per_hour(second_half), 1),
        "tasks_after_warmup": warm[0][2] if warm else None,
        "tasks_end": soak.memory[-1][2] if soak.memory else None,
        "fds_after_warmup": warm[0][3] if warm else None,
        "fds_end": soak.memory[-1][3] if soak.memory else None,
        "logins": soak.logins,
        "uids_held_at_end": held_uids,
        "python_allocation_growth": soak.growth,
        "tasks_added_since_warmup": dict(soak.task_names[-1] - soak.task_names[0])
        if len(soak.task_names) == 2
        else {},
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak for ``args.minutes`` and return its summary."""
    config = SimulatorConfig(seed=args.seed, event_interval=None, initial_events=3)
    sim = NvrSimulator(config)
    await sim.start()
    pacer = Pacer(command_interval=0.3, control_interval=0.05) if args.fast else Pacer()
    async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as viewers_http:
        client = IproClient(
            http,
            sim.host,
            sim.port,
            username=config.username,
            password=config.password,
            pacer=pacer,
            request_timeout=REQUEST_TIMEOUT,
        )
        soak = Soak(args=args, sim=sim, client=client)
        restreamer = Restreamer(client.live_video, idle_timeout=30.0, max_reconnect_delay=5.0)
        await restreamer.start()
        stop = asyncio.Event()
        stop_poll = asyncio.Event()
        await client.login()
        await client.get_event_log()  # the tracker's baseline comes from the poll loop
        tasks = [asyncio.create_task(poll_loop(soak, stop_poll))]
        await asyncio.sleep(args.poll + 1)
        for camera in CAMERAS:
            viewer = Viewer(camera)
            soak.viewers.append(viewer)
            url = restreamer.url(camera, VideoCodec.H264)
            tasks.append(asyncio.create_task(view(soak, viewers_http, url, viewer)))
        tasks += [
            asyncio.create_task(add_events(soak, stop)),
            asyncio.create_task(fault_loop(soak, stop)),
            asyncio.create_task(sample_loop(soak, stop)),
        ]
        duration = args.minutes * 60
        await asyncio.sleep(duration)
        stop.set()
        # Faults off; give the poller time to catch up on what came in the last fault.
        await asyncio.gather(*tasks[-3:])
        if soak.task_names:
            soak.task_names.append(task_names())
        sim.faults.reset()
        soak.caught_up.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(soak.caught_up.wait(), 60)
        stop_poll.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await restreamer.stop()
        await client.close()
        held = len(sim.sessions.sessions)
        soak.growth = allocation_growth(soak)
        summary = summarize(soak, duration, held)
    await sim.stop()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run")
    parser.add_argument("--poll", type=float, default=5.0, help="event-log poll interval (s)")
    parser.add_argument("--event-every", type=float, default=2.0, help="new event every (s)")
    parser.add_argument("--fault-every", type=float, default=20.0, help="pause between faults")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before faults")
    parser.add_argument("--fast", action="store_true", help="0.3 s pacing instead of 3 s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--verbose", action="store_true", help="log the client's warnings")
    parser.add_argument(
        "--trace", action="store_true", help="also trace Python allocations (slower)"
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.trace:
        tracemalloc.start()
    summary = asyncio.run(run(args))
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    ok = not summary["events_missed"] and not summary["events_duplicated"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Benchmark: from a new event-log entry on the NVR to ``ipro_nvr_event`` on the bus.

Run from the repository root (minutes: the NVR's real 3 s pacing; run it in the
background):

    .venv/bin/python benchmarks/bench_event_latency.py                 # 50 events
    .venv/bin/python benchmarks/bench_event_latency.py --events 100
    .venv/bin/python benchmarks/bench_event_latency.py --status-interval 10   # busiest

Budget: median at most 5 s, p95 at most 10 s.

The simulated 128-camera NVR (its own process) appends ``CAM <n> MOTION <i>`` entries at
random times (a Poisson process, ``--mean-gap`` seconds apart on average, independent
of the polling, so the entries land at every phase of the poll cycle). Home Assistant
(this process) runs the entry with its production pacer and default options unless
given. For each entry:

- ``latency``: the simulator's clock at the append to this process's clock when the bus
  event arrives (both CLOCK_MONOTONIC);
- ``wait for poll``: append to the arrival at the NVR of the first event-log request
  after it - the part pacing and scheduling decide;
- ``poll to bus``: that request's arrival to the bus event - answer, parse, dedup, fire.

It also prints the spacing of the event-log requests and what else went through the
3 s command lane, so the bound can be read off: the event log cannot be polled more
often than every 3 s (plus the answer time), and every other command in the lane
pushes the next event-log poll back by another 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
import itertools
import random
import statistics
import time
from typing import Any

from harness import (
    REAL_COMMAND_INTERVAL,
    SimProcess,
    header,
    home_assistant,
    loaded_entry,
    open_viewers,
    percentile,
    row,
    run,
    sim_config_128,
    summary,
)

MEDIAN_BUDGET = 5.0
P95_BUDGET = 10.0
TIMEOUT = 120.0
SNAPSHOT_EVERY = 10.0


class Snapshots:
    """Fetch camera pictures every ``SNAPSHOT_EVERY`` s, as the frontend's camera cards do.

    Cameras 2.. have no JPEG stream on the simulator, so each picture comes from a
    keyframe of the camera's video: a stream START (and, when idle, a STOP) in the
    command lane.
    """

    def __init__(self, hass: Any, cameras: int) -> None:
        self.hass = hass
        self.entities = [f"camera.wj_nx400_camera_{n}" for n in range(2, cameras + 2)]
        self.asked = 0
        self.failed = 0
        self.took: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start fetching."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop fetching."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _one(self, entity_id: str) -> None:
        from homeassistant.components.camera import async_get_image  # noqa: PLC0415
        from homeassistant.exceptions import HomeAssistantError  # noqa: PLC0415

        self.asked += 1
        start = time.monotonic()
        try:
            await async_get_image(self.hass, entity_id, timeout=SNAPSHOT_EVERY)
        except HomeAssistantError:
            self.failed += 1
        else:
            self.took.append(time.monotonic() - start)

    async def _run(self) -> None:
        while True:
            tasks = [asyncio.create_task(self._one(e)) for e in self.entities]
            await asyncio.sleep(SNAPSHOT_EVERY)
            await asyncio.gather(*tasks)


@asynccontextmanager
async def restream_options(**options: Any) -> AsyncIterator[None]:
    """Give the camera platform's restreamer other options, in this process only."""
    from unittest.mock import patch  # noqa: PLC0415

    from custom_components.ipro_nvr import camera  # noqa: PLC0415

    with patch.object(camera, "LiveMedia", partial(camera.LiveMedia, **options)):
        yield


async def bench(args: argparse.Namespace) -> None:
    from homeassistant.core import Event, callback  # noqa: PLC0415

    from custom_components.ipro_nvr.const import (  # noqa: PLC0415
        CONF_EVENT_LOG_INTERVAL,
        CONF_HDD_INTERVAL,
        CONF_STATUS_INTERVAL,
        EVENT_IPRO_NVR,
    )

    options: dict[str, Any] = {}
    if args.event_log_interval is not None:
        options[CONF_EVENT_LOG_INTERVAL] = args.event_log_interval
    if args.status_interval is not None:
        options[CONF_STATUS_INTERVAL] = args.status_interval
    if args.hdd_interval is not None:
        options[CONF_HDD_INTERVAL] = args.hdd_interval
    rng = random.Random(args.seed)

    restream = {} if args.restream_idle is None else {"idle_timeout": args.restream_idle}
    async with (
        SimProcess(sim_config_128()) as sim,
        home_assistant() as hass,
        restream_options(**restream),
    ):
        entry = await loaded_entry(hass, sim, options)
        arrived: dict[str, float] = {}
        waiters: dict[str, asyncio.Event] = {}

        @callback
        def on_event(event: Event) -> None:
            kind = event.data["kind"]
            arrived.setdefault(kind, time.monotonic())
            if (waiter := waiters.get(kind)) is not None:
                waiter.set()

        hass.bus.async_listen(EVENT_IPRO_NVR, on_event)
        # Let the refreshes settle into their steady cadence before the first entry.
        await asyncio.sleep(args.warmup)
        first_request = await sim.request_count()
        started = time.monotonic()
        snapshots = Snapshots(hass, args.snapshots)
        if args.snapshots:
            snapshots.start()
        viewers = None
        if args.streams:
            # A dashboard opening its camera views: one START command a stream.
            viewers = await open_viewers(hass, entry, args.streams, 3600)
        appended: dict[str, float] = {}
        for index in range(args.events):
            await asyncio.sleep(rng.expovariate(1 / args.mean_gap))
            camera = rng.randint(1, 128)
            kind = f"CAM {camera} MOTION {index}"
            waiters[kind] = asyncio.Event()
            appended[kind] = await sim.add_event(kind)
            print(f"  event {index + 1}/{args.events} appended", end="\r", flush=True)
        for kind in appended:
            await asyncio.wait_for(waiters[kind].wait(), TIMEOUT)
        finished = time.monotonic()
        await snapshots.stop()
        if viewers is not None:
            viewers.terminate()
            await viewers.wait()
        requests = await sim.requests(first_request)
        await hass.config_entries.async_unload(entry.entry_id)

    # A 401 is the Digest challenge round of the same command, not a poll of its own.
    answered = [r for r in requests if r.status != 401]
    log_polls = [
        r.time for r in answered if r.cgi == "loglist.cgi" and ("KIND", "EVENT") in r.query
    ]
    command_lane = [r for r in answered if r.cgi not in ("directctrl.cgi", "camctl.cgi")]
    # The stream starts: the push.cgi STARTs (and the live UID's login and set-up).
    starts = [r.time for r in answered if r.cgi == "push.cgi"]
    burst_end = max(starts, default=started) + REAL_COMMAND_INTERVAL
    during: list[float] = []
    latency, wait, deliver = [], [], []
    for kind, at in appended.items():
        latency.append(arrived[kind] - at)
        if at < burst_end:
            during.append(arrived[kind] - at)
        poll = next(t for t in log_polls if t > at)
        wait.append(poll - at)
        deliver.append(arrived[kind] - poll)
    gaps = [b - a for a, b in itertools.pairwise(log_polls)]
    others = Counter(
        r.cgi if r.cgi != "loglist.cgi" else "loglist.cgi (error log)"
        for r in command_lane
        if not (r.cgi == "loglist.cgi" and ("KIND", "EVENT") in r.query)
    )

    header(
        f"Event latency, 128-camera NVR, pacing {REAL_COMMAND_INTERVAL:g} s, options "
        f"{options or 'default'}, {len(appended)} events over {finished - started:.0f} s"
    )
    median, p95 = statistics.median(latency), percentile(latency, 0.95)
    met = median <= MEDIAN_BUDGET and p95 <= P95_BUDGET
    row(
        "latency: append -> ipro_nvr_event",
        f"median {median:.2f} s",
        f"p95 {p95:.2f} s, max {max(latency):.2f} s, min {min(latency):.2f} s; budget "
        f"{MEDIAN_BUDGET:g} / {P95_BUDGET:g} s: {'met' if met else 'MISSED'}",
    )
    if args.streams:
        row(
            f"  appended while {args.streams} streams started",
            f"median {statistics.median(during):.2f} s" if during else "none",
            f"{summary(during)}; {len(starts)} push.cgi in {burst_end - started:.0f} s",
        )
    if args.snapshots:
        row(
            f"snapshots of {args.snapshots} cameras every {SNAPSHOT_EVERY:g} s",
            f"{snapshots.failed} of {snapshots.asked} failed",
            summary(snapshots.took),
        )
    row(
        "  wait for the next event-log poll",
        f"median {statistics.median(wait):.2f} s",
        summary(wait),
    )
    row(
        "  poll arrival -> bus event",
        f"median {statistics.median(deliver):.3f} s",
        f"max {max(deliver):.3f} s",
    )
    row(
        "event-log poll spacing",
        f"median {statistics.median(gaps):.2f} s",
        f"min {min(gaps):.2f} s, p95 {percentile(gaps, 0.95):.2f} s, max {max(gaps):.2f} s, "
        f"{len(log_polls)} polls",
    )
    row(
        "other commands in the 3 s lane",
        str(sum(others.values())),
        ", ".join(f"{cgi} {n}" for cgi, n in sorted(others.items())) or "none",
    )
    if args.trace and gaps:
        end = log_polls[gaps.index(max(gaps)) + 1]
        print(f"\nthe command lane before the longest event-log poll gap ({max(gaps):.1f} s):")
        for r in command_lane:
            if end - max(gaps) - 3 <= r.time <= end:
                what = " ".join(
                    f"{k}={v}" for k, v in r.query if k in ("KIND", "CMD", "CH", "FILE")
                )
                print(f"  {r.time - end:+7.2f} s  {r.cgi} {what} -> {r.status}")
        print()
    row(
        "floor (event log alone, every 3 s)",
        "median ~1.5 s",
        "p95 ~2.9 s: a uniform wait over one 3 s slot, plus the answer",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=50, help="events to time (default 50)")
    parser.add_argument(
        "--mean-gap", type=float, default=5.0, help="mean seconds between events (default 5)"
    )
    parser.add_argument(
        "--warmup", type=float, default=35.0, help="seconds of polling before the first event"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the event times")
    parser.add_argument("--event-log-interval", type=int, help="entry option, seconds")
    parser.add_argument("--status-interval", type=int, help="entry option, seconds")
    parser.add_argument("--hdd-interval", type=int, help="entry option, seconds")
    parser.add_argument(
        "--restream-idle",
        type=float,
        help="try another restream idle timeout (seconds a stream stays open unwatched)",
    )
    parser.add_argument(
        "--trace", action="store_true", help="list the command lane around the longest gap"
    )
    parser.add_argument(
        "--snapshots",
        type=int,
        default=0,
        help="fetch pictures of cameras 2..N+1 every 10 s, as dashboard cards do",
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=0,
        help="open this many camera restreams when the events start (a dashboard opening)",
    )
    args = parser.parse_args()
    run(lambda: bench(args))


if __name__ == "__main__":
    main()

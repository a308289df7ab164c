"""Benchmark: PTZ latency, from the service call to the request reaching the NVR, while polls run.

Run from the repository root:

    .venv/bin/python benchmarks/bench_ptz_latency.py               # 100 calls a phase
    .venv/bin/python benchmarks/bench_ptz_latency.py --calls 300 --slow 2.9

Budget: at most 0.25 s at p95.

Camera control has its own 0.2 s lane; polls use the 3 s command lane and hold it from
their slot until their answer starts. This checks that nothing else serializes the two
(a shared session lock, the transport, the event loop). Two phases, each ``--calls``
calls at random moments (0.25-1.25 s apart, so the 0.2 s lane itself never queues and
the calls land at every phase of the 3 s poll cycle):

- ``polls``: the entry's normal polling with the production pacer;
- ``slow polls``: the simulator delays every event-log answer by ``--slow`` seconds, so
  the command lane is held for most of each 3 s cycle;
- ``polls + live streams``: ``--streams`` cameras (720p, 25 fps) restreamed by the
  integration to a viewer process, so the event loop also carries live video.

Each call is one of ``ipro_nvr.ptz_move``, ``ipro_nvr.goto_preset`` (on the camera
entity) or ``button.press`` (a PTZ direction button), on a random PTZ camera of the
simulated 128-camera NVR. Latency is the arrival time at the simulator (its own process,
same CLOCK_MONOTONIC) of the accepted camera-control request minus the time just before
``hass.services.async_call``; ``returned`` is when the blocking call came back.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

from harness import (
    REAL_CONTROL_INTERVAL,
    SimProcess,
    all_streaming,
    header,
    home_assistant,
    loaded_entry,
    open_viewers,
    percentile,
    ptz_options,
    row,
    run,
    sim_config_128,
    stream_bytes,
    summary,
)

BUDGET = 0.25
CONTROL_CGIS = ("directctrl.cgi", "camctl.cgi")


async def phase(
    hass: Any, sim: SimProcess, entry: Any, args: argparse.Namespace, rng: random.Random
) -> tuple[list[float], list[float], int]:
    """Make ``args.calls`` calls; return (latencies, return times, polls meanwhile)."""
    from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

    from custom_components.ipro_nvr.const import DOMAIN  # noqa: PLC0415

    registry = er.async_get(hass)
    by_unique = {
        e.unique_id: e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
    }
    latencies: list[float] = []
    returned: list[float] = []
    first = await sim.request_count()
    for _ in range(args.calls):
        await asyncio.sleep(rng.uniform(0.25, 1.25))
        camera = rng.randint(1, args.ptz)
        camera_entity = by_unique[f"{entry.entry_id}_camera_{camera}_camera"]
        choice = rng.randrange(3)
        if choice == 0:
            call: tuple[str, str, dict[str, Any]] = (
                DOMAIN,
                "ptz_move",
                {"entity_id": camera_entity, "pan": rng.choice((-128, 128)), "tilt": 0},
            )
        elif choice == 1:
            call = (DOMAIN, "goto_preset", {"entity_id": camera_entity, "preset": 1})
        else:
            button = by_unique[f"{entry.entry_id}_camera_{camera}_ptz_left"]
            call = ("button", "press", {"entity_id": button})
        count = await sim.request_count()
        start = time.monotonic()
        await hass.services.async_call(*call, blocking=True)
        done = time.monotonic()
        control = [
            r
            for r in await sim.requests(count)
            if r.cgi in CONTROL_CGIS and r.status != 401  # a 401 is the challenge round
        ]
        latencies.append(control[0].time - start)
        returned.append(done - start)
    polls = sum(
        1 for r in await sim.requests(first) if r.cgi not in CONTROL_CGIS and r.status != 401
    )
    return latencies, returned, polls


async def bench(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    config = sim_config_128(ptz_cameras=args.ptz, width=1280, height=720, fps=25)
    streamed, phase3 = 0, 1.0
    async with SimProcess(config) as sim, home_assistant() as hass:
        entry = await loaded_entry(hass, sim, ptz_options(args.ptz))
        await asyncio.sleep(args.warmup)
        results = {"polls": await phase(hass, sim, entry, args, rng)}
        await sim.slow(args.slow, "loglist.cgi")
        results[f"slow polls ({args.slow:g} s answers)"] = await phase(hass, sim, entry, args, rng)
        await sim.slow(0)
        if args.streams:
            viewers = await open_viewers(hass, entry, args.streams, args.calls * 1.25 + 30)
            # Each stream's START is a command: they start 3 s apart, between the polls.
            async with asyncio.timeout(120):
                while not all_streaming(hass, entry, args.streams):  # noqa: ASYNC110 - polled stats
                    await asyncio.sleep(1)
            before = stream_bytes(hass, entry, args.streams)
            try:
                phase3 = time.monotonic()
                results[f"polls + {args.streams} live streams"] = await phase(
                    hass, sim, entry, args, rng
                )
                phase3 = time.monotonic() - phase3
            finally:
                viewers.terminate()
                await viewers.wait()
            streamed = stream_bytes(hass, entry, args.streams) - before
        await hass.config_entries.async_unload(entry.entry_id)

    header(
        f"PTZ latency, 128-camera NVR, {args.ptz} PTZ cameras, control lane "
        f"{REAL_CONTROL_INTERVAL:g} s, {args.calls} calls a phase"
    )
    for name, (latencies, returned, polls) in results.items():
        p95 = percentile(latencies, 0.95)
        row(
            f"{name}: call -> request at the NVR",
            f"p95 {p95 * 1000:.0f} ms",
            f"{summary(latencies, 1000, 'ms')}; budget {BUDGET * 1000:.0f} ms: "
            f"{'met' if p95 <= BUDGET else 'MISSED'}; {polls} poll requests meanwhile",
        )
        row(
            f"{name}: call -> call returned",
            f"p95 {percentile(returned, 0.95) * 1000:.0f} ms",
            summary(returned, 1000, "ms"),
        )
    if args.streams:
        row(
            "restreamed during phase 3",
            f"{streamed * 8 / 1e6 / phase3:.1f} Mbit/s",
            f"{args.streams} streams to the viewer process",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=100, help="calls a phase (default 100)")
    parser.add_argument(
        "--slow", type=float, default=2.5, help="event-log answer delay of phase 2 (s)"
    )
    parser.add_argument("--ptz", type=int, default=21, help="PTZ cameras (default 21)")
    parser.add_argument(
        "--streams",
        type=int,
        default=4,
        help="live 720p25 streams restreamed during phase 3 (default 4; 0 skips it)",
    )
    parser.add_argument("--warmup", type=float, default=35.0, help="seconds before the calls")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    args = parser.parse_args()
    run(lambda: bench(args))


if __name__ == "__main__":
    main()

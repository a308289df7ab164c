"""Live streams after an NVR reboot or a UID eviction: how long until viewers get bytes.

Run from the repository root:

    .venv/bin/python benchmarks/bench_stream_recovery.py     # reboot, then eviction; 4 cameras
    .venv/bin/python benchmarks/bench_stream_recovery.py --cameras 16 --fault evict

What runs, in this process through the real ``IproClient`` and the production pacer
(3 s commands, 0.2 s camera control) and restream settings: the simulator; the event log
polled every ``--poll`` seconds on the control UID as the coordinator does (a priority
command); ``--cameras`` restreamed cameras, each read by one loopback viewer. Once every
viewer has bytes, the fault: ``reboot`` (every UID and stream gone, connections refused
for ``--downtime`` s) or ``evict`` (every UID invalidated by other clients' logins, the
streams cut). Reported per fault: seconds from the fault to each viewer's next bytes
(slowest and median), and the paced commands the NVR received in that time, in order.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import suppress
import logging
from pathlib import Path
import statistics
import sys
import time

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.ipro_nvr.aioipro.client import IproClient  # noqa: E402
from custom_components.ipro_nvr.aioipro.errors import IproError  # noqa: E402
from custom_components.ipro_nvr.aioipro.models import VideoCodec  # noqa: E402
from custom_components.ipro_nvr.aioipro.pacer import Pacer  # noqa: E402
from custom_components.ipro_nvr.aioipro.restream import Restreamer  # noqa: E402
from ipro_sim import NvrSimulator, SimulatorConfig  # noqa: E402
from ipro_sim.server import RequestRecord  # noqa: E402

GAP = 1.0
"""Bytes after a pause longer than this are the stream's return."""


class Viewer:
    """One loopback viewer of a camera's restream, noting when bytes arrive."""

    def __init__(self, camera: int) -> None:
        self.camera = camera
        self.arrivals: list[float] = []
        self.streaming = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession, url: str) -> None:
        """Read the restream for good, reconnecting as Home Assistant's worker would."""
        while True:
            with suppress(aiohttp.ClientError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as answer:
                    async for _ in answer.content.iter_any():
                        self.arrivals.append(time.monotonic())
                        self.streaming.set()
            await asyncio.sleep(0.5)

    def back_after(self, fault: float) -> float | None:
        """Seconds from ``fault`` to the first bytes that follow a pause after it."""
        previous = fault
        for at in self.arrivals:
            if at <= fault:
                continue
            if at - previous > GAP:
                return at - fault
            previous = at
        return None


async def poll(client: IproClient, interval: float) -> None:
    """Poll the event log like the coordinator; errors are the fault showing."""
    while True:
        with suppress(IproError):
            await client.get_event_log()
        await asyncio.sleep(interval)


def describe(record: RequestRecord) -> str:
    """``push.cgi START 3 -> 200``: what a paced request was, and its answer."""
    params = dict(record.query)
    what = record.cgi
    if record.cgi == "push.cgi":
        what += f" {params.get('CMD')} {params.get('CAM')}"
    return f"{what} -> {record.status}"


async def measure(args: argparse.Namespace, fault: str) -> tuple[list[float], list[str]]:
    """Run one fault; return each viewer's recovery time and the paced requests."""
    config = SimulatorConfig(
        seed=1, event_interval=None, registered=args.cameras, reboot_downtime=args.downtime
    )
    sim = NvrSimulator(config)
    await sim.start()
    pacer = Pacer(command_interval=args.interval, control_interval=0.2)
    async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as viewers_http:
        client = IproClient(
            http,
            sim.host,
            sim.port,
            username=config.username,
            password=config.password,
            pacer=pacer,
        )
        restreamer = Restreamer(client.live_video)
        await restreamer.start()
        await client.login()
        viewers = [Viewer(camera) for camera in range(1, args.cameras + 1)]
        tasks = [asyncio.create_task(poll(client, args.poll))]
        tasks += [
            asyncio.create_task(
                viewer.run(viewers_http, restreamer.url(viewer.camera, VideoCodec.H264))
            )
            for viewer in viewers
        ]
        async with asyncio.timeout(args.timeout):
            await asyncio.gather(*(viewer.streaming.wait() for viewer in viewers))
        await asyncio.sleep(args.interval + 1)
        at = time.monotonic()
        if fault == "reboot":
            sim.reboot()
        else:
            sim.invalidate_uids()
        while any(viewer.back_after(at) is None for viewer in viewers):
            if time.monotonic() - at > args.timeout:
                break
            await asyncio.sleep(0.1)
        times = [viewer.back_after(at) for viewer in viewers]
        until = at + max((t for t in times if t is not None), default=args.timeout)
        lane = [
            f"{record.time - at:6.1f} s  {describe(record)}"
            for record in sim.requests
            if at <= record.time <= until and record.status != 401
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await restreamer.stop()
        await client.close()
    await sim.stop()
    return [t if t is not None else float("inf") for t in times], lane


async def run(args: argparse.Namespace) -> None:
    faults = ["reboot", "evict"] if args.fault == "both" else [args.fault]
    for fault in faults:
        times, lane = await measure(args, fault)
        print(
            f"{fault}: {args.cameras} cameras, pacing {args.interval:g} s: viewers back after "
            f"median {statistics.median(times):.1f} s, slowest {max(times):.1f} s"
        )
        print(f"  {len(lane)} requests reached the NVR until the slowest was back:")
        for line in lane:
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fault", choices=("reboot", "evict", "both"), default="both")
    parser.add_argument(
        "--cameras", type=int, choices=range(1, 17), default=4, help="restreamed cameras (1-16)"
    )
    parser.add_argument("--interval", type=float, default=3.0, help="command pacing (s)")
    parser.add_argument("--poll", type=float, default=5.0, help="event-log poll interval (s)")
    parser.add_argument("--downtime", type=float, default=3.0, help="reboot downtime (s)")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up after (s)")
    parser.add_argument("--verbose", action="store_true", help="log the client's messages")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.ERROR,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

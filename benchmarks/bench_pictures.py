"""Benchmark: camera pictures on a dashboard, as the frontend fetches them, at the real pacing.

Run from the repository root (minutes: the NVR's real 3 s pacing; run it in the
background):

    .venv/bin/python benchmarks/bench_pictures.py                  # 16 cameras, 8 minutes
    .venv/bin/python benchmarks/bench_pictures.py --cameras 8 --minutes 3

The simulated 128-camera NVR (its own process) has a JPEG stream on camera 1 only: the
cameras ``2..N+1`` answer JPEG with the 39x37 placeholder, so each of their pictures is
a decoded keyframe of their video, which a stream START (a command in the 3 s lane,
shared with the polls) must open first. Camera ``N+2`` has a connection error on the
NVR.

Every 10 s, as a picture card does while it is on screen, a picture of each camera is
asked for through ``/api/camera_proxy`` (Home Assistant gives up after its own 10 s
``CAMERA_IMAGE_TIMEOUT`` and answers 500). A request counts as failed when the answer
is not 200. The dashboard's opening is told apart: until every camera had its first
picture, its streams are starting, each START (and for a camera not asked before, the
START and STOP of the JPEG stream that shows it has none) taking a slot of the 3 s lane
between the polls. Then the cards are closed and the benchmark waits ``--linger``
seconds to count the streams still open.

The disconnected camera is asked ``--refusals`` times: how fast the answer comes, and
which status.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass, field
import itertools
import math
import time
from typing import Any

import aiohttp
from harness import (
    REAL_COMMAND_INTERVAL,
    SimProcess,
    header,
    home_assistant,
    loaded_entry,
    row,
    run,
    sim_config_128,
    summary,
)

REFRESH = 10.0
"""Seconds between a picture card's requests (the frontend's camera image refresh)."""


@dataclass
class Results:
    """Answers to the picture requests: (time asked, seconds, HTTP status, URL)."""

    answers: list[tuple[float, float, int, str]] = field(default_factory=list)

    def ok(self, since: float = 0.0) -> tuple[int, int]:
        """Return (succeeded, asked) of the requests asked at ``since`` or later."""
        picked = [status for asked, _, status, _ in self.answers if asked >= since]
        return sum(1 for status in picked if status == 200), len(picked)

    def took(self, since: float = 0.0) -> list[float]:
        """Return the durations of the successful requests asked at ``since`` or later."""
        return [t for asked, t, status, _ in self.answers if asked >= since and status == 200]

    def all_served(self) -> float | None:
        """Return when the last camera got its first picture (the time it was asked)."""
        first: dict[str, float] = {}
        for asked, _, status, url in sorted(self.answers):
            if status == 200:
                first.setdefault(url, asked)
        urls = {url for *_, url in self.answers}
        return max(first.values()) if first.keys() == urls else None


def proxy_url(hass: Any, entity_id: str) -> str:
    """Return the camera proxy URL with the entity's access token, as the frontend uses."""
    from homeassistant.components.camera import get_camera_from_entity_id  # noqa: PLC0415

    camera = get_camera_from_entity_id(hass, entity_id)
    token = camera.access_tokens[-1]
    return f"http://127.0.0.1:{hass.config.api.port}/api/camera_proxy/{entity_id}?token={token}"


async def fetch(session: aiohttp.ClientSession, url: str, results: Results) -> None:
    """Ask for one picture; note when, how long and the status."""
    start = time.monotonic()
    try:
        async with session.get(url) as response:
            await response.read()
            status = response.status
    except aiohttp.ClientError:
        status = 0
    results.answers.append((start, time.monotonic() - start, status, url))


async def dashboard(
    session: aiohttp.ClientSession, urls: list[str], seconds: float, results: Results
) -> None:
    """Ask every card's picture every ``REFRESH`` s for ``seconds``."""
    tasks: set[asyncio.Task[None]] = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tasks.update(asyncio.create_task(fetch(session, url, results)) for url in urls)
        await asyncio.sleep(REFRESH)
    await asyncio.gather(*tasks)


async def bench(args: argparse.Namespace) -> None:
    from custom_components.ipro_nvr.camera import live_media  # noqa: PLC0415

    cameras = list(range(2, args.cameras + 2))
    disconnected = args.cameras + 2
    config = sim_config_128(camera_status={disconnected: 2})
    results = Results()
    refusals: list[tuple[float, int]] = []
    async with (
        SimProcess(config) as sim,
        home_assistant() as hass,
        aiohttp.ClientSession() as session,
    ):
        await hass.http.start()  # started with the frontend otherwise, which is not loaded
        entry = await loaded_entry(hass, sim)
        first = await sim.request_count()
        urls = [proxy_url(hass, f"camera.wj_nx400_camera_{n}") for n in cameras]
        started = time.monotonic()
        await dashboard(session, urls, args.minutes * 60, results)
        ended = time.monotonic()
        media = live_media(hass, entry)
        assert media is not None
        open_at_end = sum(media.restreamer.is_active(n) for n in cameras)
        await asyncio.sleep(args.linger)
        open_after = sum(media.restreamer.is_active(n) for n in cameras)
        broken = proxy_url(hass, f"camera.wj_nx400_camera_{disconnected}")
        for _ in range(args.refusals):
            answer = Results()
            await fetch(session, broken, answer)
            _, took, status, _ = answer.answers[0]
            refusals.append((took, status))
        requests = await sim.requests(first)
        await hass.config_entries.async_unload(entry.entry_id)

    # A 401 is the Digest challenge round of the same command, not a command of its own.
    during = [r for r in requests if r.status != 401 and started <= r.time <= ended]
    pushes = Counter(
        dict(r.query)["CMD"] + " " + dict(r.query)["COMP"] for r in during if r.cgi == "push.cgi"
    )
    others = Counter(r.cgi for r in during if r.cgi != "push.cgi")
    header(
        f"Pictures of {args.cameras} cameras without JPEG every {REFRESH:g} s through "
        f"/api/camera_proxy, 128-camera NVR, pacing {REAL_COMMAND_INTERVAL:g} s, "
        f"{args.minutes:g} min"
    )
    ok, asked = results.ok()
    row("pictures served (all)", f"{ok} of {asked}", summary(results.took()))
    minutes = [results.ok(started + minute * 60) for minute in range(math.ceil(args.minutes) + 1)]
    row(
        "  by minute",
        " ".join(f"{a - b}/{c - d}" for (a, c), (b, d) in itertools.pairwise(minutes)),
        "served/asked in each minute",
    )
    if (every := results.all_served()) is None:
        row("every camera had a picture", "never")
    else:
        ok, asked = results.ok(every + 1)
        row("every camera had a picture", f"after {every - started:.0f} s", "the opening")
        row("  pictures asked after that", f"{ok} of {asked}", summary(results.took(every + 1)))
    statuses = Counter(status for _, _, status, _ in results.answers)
    row("answers by status", ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    row(
        "stream commands while the cards were open",
        str(sum(pushes.values())),
        ", ".join(f"{what} {n}" for what, n in sorted(pushes.items())) or "none",
    )
    row(
        "other requests meanwhile",
        str(sum(others.values())),
        ", ".join(f"{cgi} {n}" for cgi, n in sorted(others.items())),
    )
    row(
        "streams open when the cards closed / later",
        f"{open_at_end} / {open_after}",
        f"{args.linger:g} s after the last request",
    )
    if refusals:
        codes = Counter(status for _, status in refusals)
        row(
            "picture of a disconnected camera",
            ", ".join(f"HTTP {s} x{n}" for s, n in sorted(codes.items())),
            summary([took for took, _ in refusals]),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--cameras", type=int, default=16, help="picture cards (cameras without JPEG)"
    )
    parser.add_argument("--minutes", type=float, default=8.0, help="how long the cards show")
    parser.add_argument(
        "--linger", type=float, default=60.0, help="seconds to wait after the cards closed"
    )
    parser.add_argument(
        "--refusals", type=int, default=5, help="pictures asked of the disconnected camera"
    )
    args = parser.parse_args()
    run(lambda: bench(args))


if __name__ == "__main__":
    main()

"""Live streams after an NVR reboot or an eviction of our UIDs: the requests the return costs.

Each command costs a 3 s slot at the NVR's real pacing, and every camera waits for all
the slots in front of it, so the test counts what reached the NVR from the fault until
every viewer had video again: the one request that finds the UID gone, then the live
login and its set-up, then one START a camera - no STOP to the dead UID, no START built
with it (``benchmarks/bench_stream_recovery.py`` measures the seconds at real pacing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest

from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.models import VideoCodec
from custom_components.ipro_nvr.aioipro.restream import Restreamer
from ipro_sim import NvrSimulator, RequestRecord, SimulatorConfig

from .restream_media import wait_for

CAMERAS = (1, 2, 3)
SIM = SimulatorConfig(fps=25, speed=4.0, reboot_downtime=0.3)


class Viewer:
    """Reads a camera's restream for the whole test, counting its bytes."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.bytes = 0
        self.task = asyncio.create_task(self._read(session, url))

    async def _read(self, session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url) as response:
            async for chunk in response.content.iter_any():
                self.bytes += len(chunk)


def commands_since(sim: NvrSimulator, first: int) -> list[RequestRecord]:
    """Return the commands (challenge rounds left out) the NVR answered from ``first`` on."""
    return [record for record in sim.requests[first:] if record.status != 401]


def describe(record: RequestRecord) -> str:
    """``push START 2``, ``dlogin``: a request as the assertions spell it."""
    params = dict(record.query)
    if record.cgi == "push.cgi":
        return f"push {params['CMD']} {params['CAM']}"
    return record.cgi.removesuffix(".cgi")


async def recover(
    client: IproClient, sim: NvrSimulator, fault: Callable[[], None]
) -> tuple[str, list[RequestRecord]]:
    """Stream every camera, inject ``fault``, wait until every viewer has video again.

    Returns the live UID before the fault and the commands the NVR answered after it.
    """
    async with (
        Restreamer(client.live_video, reconnect_delay=0.05) as restreamer,
        aiohttp.ClientSession() as session,
    ):
        viewers = [Viewer(session, restreamer.url(camera, VideoCodec.H264)) for camera in CAMERAS]
        await wait_for(lambda: all(viewer.bytes > 10_000 for viewer in viewers))
        live_uid = next(r.uid for r in sim.requests if r.cgi == "push.cgi")
        assert live_uid is not None
        first = len(sim.requests)
        fault()

        def started() -> int:
            return sum(
                describe(r).startswith("push START") and r.status == 200 and r.uid != live_uid
                for r in commands_since(sim, first)
            )

        await wait_for(lambda: started() == len(CAMERAS))
        seen = [viewer.bytes for viewer in viewers]
        await wait_for(
            lambda: all(v.bytes > b + 10_000 for v, b in zip(viewers, seen, strict=True))
        )
        assert not any(viewer.task.done() for viewer in viewers)  # the same viewer connections
        for viewer in viewers:
            viewer.task.cancel()
        await asyncio.gather(*(viewer.task for viewer in viewers), return_exceptions=True)
        return live_uid, commands_since(sim, first)


def assert_one_look_then_restart(live_uid: str, answered: list[RequestRecord]) -> None:
    """One request finds the UID gone; then only the login, its set-up and the STARTs."""
    on_dead_uid = [record for record in answered if record.uid == live_uid]
    assert len(on_dead_uid) == 1, [describe(record) for record in on_dead_uid]
    restart = [describe(record) for record in answered if record is not on_dead_uid[0]]
    assert restart[:2] == ["dlogin", "hdrctl"]
    assert sorted(restart[2:]) == [f"push START {camera}" for camera in CAMERAS]


@pytest.mark.parametrize("sim_config", [SIM])
async def test_streams_return_after_an_eviction_without_wasted_commands(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    live_uid, answered = await recover(client, nvr_sim, nvr_sim.invalidate_uids)
    # The streams ended with their UID: the first STOP finds it gone, the others stay
    # unsent, and no START goes out with the dead UID.
    assert describe(answered[0]).startswith("push STOP")
    assert_one_look_then_restart(live_uid, answered)


@pytest.mark.parametrize("sim_config", [SIM])
async def test_streams_return_after_a_reboot_without_wasted_commands(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    live_uid, answered = await recover(client, nvr_sim, nvr_sim.reboot)
    # Whatever was tried while the NVR was down never reached it; once it is up, one
    # request finds the UID gone and the requests queued with it stay unsent.
    assert_one_look_then_restart(live_uid, answered)

"""Restream through the real client from the simulator: what Home Assistant will open.

The simulator runs 4x faster than the wall clock (``speed=4``) at 25 fps, so 50 frames
take half a second; its RTP time stamps follow its own frame clock, as a camera's do.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.models import VideoCodec
from custom_components.ipro_nvr.aioipro.restream import Restreamer
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import queries
from .restream_media import decode_async, increasing

FAST = {"fps": 25, "speed": 4.0}


def push_starts(sim: NvrSimulator, camera: int) -> list[str]:
    """Return the COMP of every push.cgi START for ``camera``, in order."""
    starts = []
    for query in queries(sim, "push.cgi"):
        params = dict(query)
        if params["CMD"] == "START" and params["CAM"] == str(camera):
            starts.append(params["COMP"])
    return starts


def restreamer_for(client: IproClient) -> Restreamer:
    return Restreamer(client.live_video, idle_timeout=0.2, reconnect_delay=0.05)


@pytest.mark.parametrize(
    ("sim_config", "codec"),
    [
        (SimulatorConfig(default_codec="H264", **FAST), VideoCodec.H264),  # type: ignore[arg-type]
        (SimulatorConfig(default_codec="H265", **FAST), VideoCodec.H265),  # type: ignore[arg-type]
    ],
    ids=["h264", "h265"],
)
async def test_restream_of_the_nvr_decodes(
    client: IproClient, nvr_sim: NvrSimulator, codec: VideoCodec
) -> None:
    async with restreamer_for(client) as restreamer:
        decoded = await decode_async(restreamer.url(1, codec), 50)
        assert restreamer.detected_codec(1) is codec
    assert decoded.codec == {VideoCodec.H264: "h264", VideoCodec.H265: "hevc"}[codec]
    assert len(decoded.video) >= 50
    assert decoded.video[0] == 0
    assert increasing(decoded.video)
    # 25 fps on the simulator's 90 kHz clock.
    assert {b - a for a, b in zip(decoded.video, decoded.video[1:], strict=False)} == {3600}
    assert push_starts(nvr_sim, 1) == [codec.value]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(**FAST)])  # type: ignore[arg-type]
async def test_restream_with_the_nvr_audio(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with restreamer_for(client) as restreamer:
        decoded = await decode_async(restreamer.url(1, audio=True), 50, audio=True)
    assert decoded.audio_codec == "aac"
    assert len(decoded.audio) >= 50
    assert increasing(decoded.audio)
    assert increasing(decoded.video)
    assert push_starts(nvr_sim, 1) == ["H264", "AUDIO"]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(**FAST)])  # type: ignore[arg-type]
async def test_two_viewers_share_one_nvr_stream(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with restreamer_for(client) as restreamer:
        url = restreamer.url(1)
        first, second = await asyncio.gather(decode_async(url, 50), decode_async(url, 50))
        assert len(nvr_sim.active_streams()) == 1
    assert increasing(first.video)
    assert increasing(second.video)
    assert push_starts(nvr_sim, 1) == ["H264"]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(**FAST)])  # type: ignore[arg-type]
async def test_restream_survives_a_dropped_nvr_connection(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.drop_after_parts = 60  # every live answer breaks after 60 RTP packets
    async with restreamer_for(client) as restreamer:
        decoded = await decode_async(restreamer.url(1), 120)
        stats = restreamer.stats(1)
    assert len(decoded.video) >= 120
    assert increasing(decoded.video)
    assert stats is not None
    assert stats.connects >= 2
    assert len(push_starts(nvr_sim, 1)) >= 2


@pytest.mark.parametrize("sim_config", [SimulatorConfig(**FAST)])  # type: ignore[arg-type]
async def test_restream_needs_its_token(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with restreamer_for(client) as restreamer, aiohttp.ClientSession() as session:
        url = restreamer.url(1)
        token = url.split("/")[3]
        async with session.get(url.replace(token, token[:-1] + "x")) as response:
            assert response.status == 404
        async with session.get(url.replace(token + "/", "")) as response:
            assert response.status == 404
    assert push_starts(nvr_sim, 1) == []

"""The fault matrix at the client: downloads, stream memory, and no password hammering.

Downloads must fail with a typed error and leave nothing in the folder, whatever breaks;
a multipart part claiming 2 GiB must not allocate it; a live stream or restream viewer
that does not read must cost bounded memory; and after the NVR rejects the password the
client's own background work (keep-alive, restream reconnects) must stop or back off
instead of retrying the old password in a loop that could lock the account.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
import itertools
from pathlib import Path
import socket
import tracemalloc

import aiohttp
import pytest

from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.errors import (
    IproAuthError,
    IproConnectionError,
    IproError,
    IproProtocolError,
)
from custom_components.ipro_nvr.aioipro.models import (
    AccessUnit,
    AudioCodec,
    AudioFrame,
    DownloadKind,
    VideoCodec,
)
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.aioipro.restream import Restreamer, StreamStats
from ipro_sim import NvrSimulator, SimulatorConfig
from tests.client.restream_media import FakeSource

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL, until

MIB = 1024 * 1024


@pytest.fixture
async def http_session(socket_enabled: None) -> AsyncGenerator[aiohttp.ClientSession]:
    """The caller-owned HTTP session of the clients."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def make_client(
    nvr_sim: NvrSimulator, http_session: aiohttp.ClientSession
) -> AsyncGenerator[Callable[..., IproClient]]:
    """Client factory on the simulator, with short pacing; closes its clients after."""
    clients: list[IproClient] = []
    pacer = Pacer(command_interval=COMMAND_INTERVAL, control_interval=CONTROL_INTERVAL)

    def make(**options: object) -> IproClient:
        client = IproClient(
            http_session,
            nvr_sim.host,
            nvr_sim.port,
            username=nvr_sim.config.username,
            password=nvr_sim.config.password,
            pacer=pacer,
            request_timeout=2.0,
            **options,  # type: ignore[arg-type]
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def drop_mid_body(sim: NvrSimulator) -> None:
    sim.faults.drop_after_bytes = 200_000


def truncate_a_part(sim: NvrSimulator) -> None:
    sim.faults.truncate_after_parts = 2


def huge_part(sim: NvrSimulator) -> None:
    sim.faults.huge_content_length = True


def garbage(sim: NvrSimulator) -> None:
    sim.faults.garbage(path="httpdl.cgi")


def http_500(sim: NvrSimulator) -> None:
    sim.faults.fail_path("httpdl.cgi", 500)


@pytest.mark.parametrize("fault", [drop_mid_body, truncate_a_part, huge_part, garbage, http_500])
async def test_download_fails_cleanly(
    make_client: Callable[..., IproClient],
    nvr_sim: NvrSimulator,
    tmp_path: Path,
    fault: Callable[[NvrSimulator], None],
) -> None:
    # Each is a typed error, never "no recording": a break mid-answer is a connection
    # error; garbage without a boundary, a part claiming 2 GiB (read as far as the answer
    # goes, then cut short) and HTTP 500 are protocol errors.
    fault(nvr_sim)
    with pytest.raises(IproError):
        await make_client().download(1, minutes_ago(20), minutes_ago(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []
    assert not nvr_sim.active_downloads


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(seed=1, download_bytes_per_second=4_000_000, reboot_downtime=0.3)],
)
async def test_download_during_a_reboot_fails_cleanly(
    make_client: Callable[..., IproClient], nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    task = asyncio.create_task(
        make_client().download(1, minutes_ago(20), minutes_ago(5), DownloadKind.MP4, tmp_path)
    )
    await until(lambda: any(tmp_path.iterdir()))  # the temp file is being written
    nvr_sim.reboot()
    with pytest.raises(IproConnectionError):
        await task
    assert listing(tmp_path) == []


async def test_huge_part_on_a_live_stream_allocates_nothing(
    make_client: Callable[..., IproClient], nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.huge_content_length = True
    client = make_client()

    async def watch() -> None:
        async with client.live_video(1) as stream:
            async for _ in stream:
                pass

    tracemalloc.start()
    try:
        with pytest.raises(IproProtocolError, match="over the limit"):
            await watch()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB  # the 2 GiB the part claims is never reserved


@pytest.mark.parametrize("sim_config", [SimulatorConfig(seed=1, fps=25, speed=8.0)])
async def test_slow_consumer_of_a_live_stream_costs_bounded_memory(
    make_client: Callable[..., IproClient], nvr_sim: NvrSimulator
) -> None:
    client = make_client()
    async with client.live_video(1) as stream:
        first = await anext(stream)  # then stop reading for 200 frames
        assert first.keyframe  # type: ignore[union-attr]
        tracemalloc.start()
        try:
            await asyncio.sleep(1.0)
            grown, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert stream.dropped > 0
        assert grown < 4 * MIB
        # Reading again starts at a keyframe: a picture that decodes.
        item = await anext(stream)
        assert item.keyframe  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(seed=1, registered=1, width=1280, height=720, fps=25, speed=32.0)],
)
async def test_restream_viewer_that_stops_reading_costs_bounded_memory(
    make_client: Callable[..., IproClient], nvr_sim: NvrSimulator
) -> None:
    limit = 64 * 1024
    client = make_client()
    async with Restreamer(client.live_video, viewer_buffer=limit) as restreamer:
        path = restreamer.url(1, VideoCodec.H264).split(str(restreamer.port), 1)[1]
        # A viewer that never reads, with a small receive window so the kernel's
        # buffers fill quickly: then the restream's backlog for it must stop growing.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", restreamer.port))
        _, writer = await asyncio.open_connection(sock=sock)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        tracemalloc.start()
        try:
            await until(lambda: stats(restreamer).skips > 0, within=20)
            grown, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        writer.close()
        await writer.wait_closed()
        assert stats(restreamer).bytes_out > 2 * limit
    assert grown < limit + 2 * MIB


def stats(restreamer: Restreamer) -> StreamStats:
    result = restreamer.stats(1)
    assert result is not None
    return result


async def test_keep_alive_stops_after_the_password_changed(
    make_client: Callable[..., IproClient],
    nvr_sim: NvrSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(keepalive_interval=0.2)
    await client.login()
    nvr_sim.auth.password = "changed"
    # One keep-alive is refused (its answer to the challenge too), and said so once.
    await until(lambda: "Keep-alive of the control session" in caplog.text)
    refused = sum(1 for r in nvr_sim.requests if r.status == 401)
    await asyncio.sleep(1.0)  # five keep-alive periods
    assert sum(1 for r in nvr_sim.requests if r.status == 401) == refused
    assert caplog.text.count("Keep-alive of the control session") == 1
    with pytest.raises(IproAuthError):
        await client.get_event_log()  # an explicit call still asks, and is told


async def test_restream_reconnects_back_off_with_a_wrong_password(
    make_client: Callable[..., IproClient], nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.reject_credentials = True
    client = make_client()
    async with Restreamer(
        client.live_video, reconnect_delay=0.05, max_reconnect_delay=0.4
    ) as restreamer:
        url = restreamer.url(1, VideoCodec.H264)
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            await asyncio.sleep(2.0)
    # Each attempt is a login (its 401 challenge round, then the refused answer); the
    # pause between attempts doubles up to the cap instead of retrying every 0.05 s.
    times = [r.time for r in nvr_sim.requests if r.cgi == "dlogin.cgi"]
    attempts = [t for t, before in zip(times, [-1.0, *times], strict=False) if t - before > 0.03]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert len(attempts) <= 10
    assert gaps == sorted(gaps, key=lambda gap: round(gap, 1))
    assert gaps[-1] >= 0.35


async def test_oversized_audio_frame_is_dropped_not_the_stream(socket_enabled: None) -> None:
    # ADTS lengths have 13 bits: a 600 kB "audio frame" cannot be framed, and must not
    # take the camera's video down with it.
    fake = FakeSource()

    @asynccontextmanager
    async def source(
        camera: int, codec: VideoCodec, *, audio: bool = False
    ) -> AsyncIterator[AsyncIterator[AccessUnit | AudioFrame]]:
        async with fake(camera, codec, audio=audio) as items:

            async def with_a_huge_frame() -> AsyncIterator[AccessUnit | AudioFrame]:
                async for number, item in aenumerate(items):
                    yield item
                    if number == 40:
                        huge = b"\x21" + bytes(600_000)  # starts like a mono frame
                        yield AudioFrame(codec=AudioCodec.AAC_LC, data=huge, timestamp=None)

            yield with_a_huge_frame()

    async with Restreamer(source, reconnect_delay=0.05) as restreamer:
        url = restreamer.url(1, VideoCodec.H264, audio=True)
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            async for _ in response.content.iter_any():
                if stats(restreamer).keyframes >= 8:
                    break
        assert stats(restreamer).connects == 1
        assert stats(restreamer).last_error is None


async def aenumerate[T](items: AsyncIterator[T]) -> AsyncIterator[tuple[int, T]]:
    number = 0
    async for item in items:
        yield number, item
        number += 1

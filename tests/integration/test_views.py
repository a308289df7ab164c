"""The clip and playback views: authenticated, streaming, errors as HTTP statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from datetime import UTC, datetime, timedelta
from functools import partial
from http import HTTPStatus
import io
import logging
from unittest.mock import patch

from aiohttp import web
import av
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ipro_nvr import views
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.views import async_sign, clip_path, playback_path
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Camera 3 records JPEG: neither an MP4 download nor an MP4 playback."""
    return SimulatorConfig(seed=1, camera_codecs={3: "JPEG"})


@pytest.fixture(autouse=True)
def short_retries() -> Generator[None]:
    """Give up on a busy NVR after two short retries."""
    factory = partial(IproClient, download_retry_delays=(0.05, 0.05))
    with patch("custom_components.ipro_nvr.util.IproClient", factory):
        yield


@pytest.fixture(autouse=True)
def _fresh_request_log(
    short_retries: None, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    """Keep only each test's requests (set-up's Digest round shifts its first login)."""
    nvr_sim.requests.clear()


def minutes_ago(minutes: float) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def decode(data: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


def downloads(sim: NvrSimulator) -> list[dict[str, str]]:
    return [dict(r.query) for r in sim.requests if r.cgi == "httpdl.cgi"]


async def test_clip_streams_the_download(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
) -> None:
    start = minutes_ago(120)
    client = await hass_client()

    response = await client.get(
        clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1))
    )

    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Type"] == "video/mp4"
    data = await response.read()
    assert data[4:8] == b"ftyp"
    assert len(decode(data)) == 60 * nvr_sim.config.fps
    [query] = downloads(nvr_sim)
    assert (query["STARTTIME"], query["ENDTIME"], query["KIND"], query["CAM"]) == (
        start.strftime("%y%m%d%H%M%S"),
        (start + timedelta(minutes=1)).strftime("%y%m%d%H%M%S"),
        "MP4",
        "1",
    )
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_signed_url_needs_no_header(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
) -> None:
    """A <video> element sends no token: the signed URL is enough, the bare one is not."""
    start = minutes_ago(120)
    path = clip_path(loaded_entry.entry_id, 2, start, start + timedelta(minutes=1))
    client = await hass_client_no_auth()

    assert (await client.get(path)).status == HTTPStatus.UNAUTHORIZED
    signed = async_sign(hass, path)
    assert "authSig=" in signed
    response = await client.get(signed)
    assert response.status == HTTPStatus.OK
    assert decode(await response.read())


@pytest.mark.parametrize(
    ("camera", "before", "status"),
    [
        pytest.param(1, timedelta(days=8), HTTPStatus.NOT_FOUND, id="no-recording"),
        pytest.param(3, timedelta(hours=2), HTTPStatus.UNSUPPORTED_MEDIA_TYPE, id="jpeg"),
    ],
)
async def test_clip_status_errors(
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    camera: int,
    before: timedelta,
    status: HTTPStatus,
) -> None:
    start = minutes_ago(before.total_seconds() / 60)
    client = await hass_client()
    response = await client.get(
        clip_path(loaded_entry.entry_id, camera, start, start + timedelta(minutes=1))
    )
    assert response.status == status
    assert str(camera) in await response.text()


async def test_clip_when_busy(
    hass_client: ClientSessionGenerator, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    nvr_sim.config.max_downloads = 0
    start = minutes_ago(120)
    client = await hass_client()
    response = await client.get(
        clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1))
    )
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert len(downloads(nvr_sim)) == 3


async def test_clip_broken_after_the_first_byte(
    hass_client: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once bytes went out the status is sent: the stream ends early, and it is logged."""
    nvr_sim.faults.drop_after_parts = 3
    start = minutes_ago(120)
    client = await hass_client()
    response = await client.get(
        clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=5))
    )
    assert response.status == HTTPStatus.OK
    data = await response.read()
    assert 0 < len(data) <= 3 * nvr_sim.config.download_part_size
    assert "broke off" in caplog.text


async def test_viewer_leaving_ends_the_download(
    hass_client: ClientSessionGenerator, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    nvr_sim.config.download_bytes_per_second = 200_000
    start = minutes_ago(120)
    client = await hass_client()
    response = await client.get(
        clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1))
    )
    assert await response.content.readexactly(1000)
    response.close()
    await until_true(lambda: nvr_sim.active_downloads == 0)
    await until_true(lambda: any(r.cgi == "logout.cgi" for r in nvr_sim.requests))


async def until_true(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polls the simulator
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "path",
    [
        "/api/ipro_nvr/clip/{entry}/0/{start}/{end}",
        "/api/ipro_nvr/clip/{entry}/x/{start}/{end}",
        "/api/ipro_nvr/clip/{entry}/1/{end}/{start}",
        "/api/ipro_nvr/clip/{entry}/1/{start}/{long}",
        "/api/ipro_nvr/clip/{entry}/1/soon/{end}",
        "/api/ipro_nvr/clip/{entry}/1/99999999999999999/{end}",
        "/api/ipro_nvr/playback/{entry}/1/{end}/{start}",
        "/api/ipro_nvr/playback/{entry}/129/{start}",
    ],
)
async def test_bad_requests(
    hass_client: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    path: str,
) -> None:
    start = minutes_ago(120)
    url = path.format(
        entry=loaded_entry.entry_id,
        start=int(start.timestamp()),
        end=int(start.timestamp()) + 60,
        long=int(start.timestamp()) + 3601,
    )
    client = await hass_client()
    assert (await client.get(url)).status == HTTPStatus.BAD_REQUEST
    assert nvr_sim.requests == [] or all(r.cgi != "httpdl.cgi" for r in nvr_sim.requests)


async def test_unknown_or_unloaded_nvr(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, loaded_entry: MockConfigEntry
) -> None:
    start = minutes_ago(120)
    end = start + timedelta(minutes=1)
    client = await hass_client()
    assert (await client.get(clip_path("nope", 1, start, end))).status == HTTPStatus.NOT_FOUND
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    response = await client.get(playback_path(loaded_entry.entry_id, 1, start))
    assert response.status == HTTPStatus.NOT_FOUND


async def test_playback_streams_fragmented_mp4(
    hass_client: ClientSessionGenerator, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    client = await hass_client()

    response = await client.get(
        playback_path(loaded_entry.entry_id, 2, start, start + timedelta(seconds=3))
    )

    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Type"] == "video/mp4"
    frames = decode(await response.read())
    assert len(frames) == 3 * nvr_sim.config.fps
    # The session is stopped and logged out after the last byte went out.
    await until_true(lambda: any(r.cgi == "logout.cgi" for r in nvr_sim.requests))
    playcmds = [dict(r.query).get("PLAYCMD") for r in nvr_sim.requests if r.cgi == "hdrctl.cgi"]
    assert playcmds == [None, "GOTODATE", "STOP"]
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_playback_open_ended_until_the_viewer_leaves(
    hass_client: ClientSessionGenerator, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    client = await hass_client()
    response = await client.get(playback_path(loaded_entry.entry_id, 1, start))
    assert response.status == HTTPStatus.OK
    data = b""
    while not data or not decode(data):
        data += await response.content.readany()
    response.close()
    await until_true(lambda: any(r.cgi == "logout.cgi" for r in nvr_sim.requests))


async def test_playback_of_a_jpeg_recording(
    hass_client: ClientSessionGenerator, loaded_entry: MockConfigEntry
) -> None:
    start = minutes_ago(120)
    client = await hass_client()
    response = await client.get(playback_path(loaded_entry.entry_id, 3, start))
    assert response.status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE


async def test_playback_without_a_free_session(
    hass_client: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=views.__name__)
    nvr_sim.faults.no_free_uid = True
    client = await hass_client()
    response = await client.get(playback_path(loaded_entry.entry_id, 1, minutes_ago(120)))
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert "Cannot stream playback of camera 1" in caplog.text


async def test_write_to_a_gone_viewer(
    hass_client: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A write that finds the connection reset ends the stream quietly."""
    caplog.set_level(logging.DEBUG, logger=views.__name__)
    start = minutes_ago(120)
    client = await hass_client()
    real_write = web.StreamResponse.write

    async def write(self: web.StreamResponse, data: bytes) -> None:
        # Only the view's answer: the simulator in this process answers with aiohttp too.
        if self.content_type == "video/mp4":
            raise ConnectionResetError
        await real_write(self, data)

    with patch.object(web.StreamResponse, "write", write):
        response = await client.get(
            clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1))
        )
        assert response.status == HTTPStatus.OK
        assert await response.read() == b""
    assert "went away" in caplog.text
    await until_true(lambda: nvr_sim.active_downloads == 0)

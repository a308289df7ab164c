"""Camera entities through Home Assistant's camera API, against the simulator.

The simulator runs at 25 fps, 4x faster than the wall clock, so 50 frames take half a
second. Camera 1 has a JPEG stream, camera 2 only the 39x37 placeholder, camera 3
streams H.265, camera 4 has a connection error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import av
from homeassistant.components.camera import (
    CameraEntityFeature,
    async_get_image,
    async_get_stream_source,
    get_camera_from_entity_id,
)
from homeassistant.components.stream import HLS_PROVIDER
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ipro_nvr.aioipro.livemedia import jpeg_size
from custom_components.ipro_nvr.const import CONF_VIDEO_CODEC, DOMAIN
from custom_components.ipro_nvr.diagnostics import async_get_config_entry_diagnostics
from ipro_sim import NvrSimulator, SimulatorConfig
from tests.client.restream_media import decode_async, increasing, wait_for
from tests.conftest import ENTRY_ID

TRANSLATIONS = Path(__file__).parents[2] / "custom_components/ipro_nvr/translations/en.json"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Four cameras: JPEG, placeholder only, H.265, connection error; fast frame clock."""
    return SimulatorConfig(
        seed=1,
        fps=25,
        speed=4.0,
        jpeg_fps=5.0,
        camera_codecs={3: "H265"},
        camera_status={4: 2},
    )


def camera_entity(hass: HomeAssistant, camera: int) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        "camera", "ipro_nvr", f"{ENTRY_ID}_camera_{camera}_camera"
    )
    assert entity_id is not None
    return entity_id


def pushes(sim: NvrSimulator, camera: int) -> list[tuple[str, str]]:
    """(CMD, COMP) of every authenticated push.cgi request for ``camera``, in order."""
    result = []
    for record in sim.requests:
        params = dict(record.query)
        if record.cgi == "push.cgi" and record.status != 401 and params["CAM"] == str(camera):
            result.append((params["CMD"], params["COMP"]))
    return result


async def test_a_camera_entity_per_registered_camera(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    cameras = [
        e for e in er.async_entries_for_config_entry(registry, ENTRY_ID) if e.domain == "camera"
    ]
    assert len(cameras) == 4
    for number in (1, 2, 3):
        state = hass.states.get(camera_entity(hass, number))
        assert state is not None
        assert state.state == "idle"
        assert state.attributes["supported_features"] == CameraEntityFeature.STREAM
        entry = registry.async_get(camera_entity(hass, number))
        assert entry is not None
        assert entry.device_id is not None
    broken = hass.states.get(camera_entity(hass, 4))
    assert broken is not None
    assert broken.state == STATE_UNAVAILABLE


async def test_snapshots_are_the_nvr_jpeg_from_one_stream(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    entity_id = camera_entity(hass, 1)
    sim_frames = {frame.data for frame in nvr_sim.recording.jpeg_clip().frames}
    for _ in range(4):
        image = await async_get_image(hass, entity_id)
        assert image.content_type == "image/jpeg"
        assert image.content in sim_frames  # the camera's JPEG, info chunks stripped
        assert jpeg_size(image.content) == (320, 240)
    assert pushes(nvr_sim, 1) == [("START", "JPEG")]
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert pushes(nvr_sim, 1) == [("START", "JPEG"), ("STOP", "JPEG")]
    assert not nvr_sim.active_streams()


async def test_a_camera_without_jpeg_still_gives_a_picture(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    entity_id = camera_entity(hass, 2)
    for _ in range(2):
        image = await async_get_image(hass, entity_id)
        assert jpeg_size(image.content) == (320, 240)  # decoded from the video, not 39x37
    assert caplog.text.count("Camera 2 has no JPEG stream") == 1
    assert pushes(nvr_sim, 2)[:3] == [("START", "JPEG"), ("STOP", "JPEG"), ("START", "H264")]
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    live = diagnostics["cameras"]["live"]["2"]
    assert live["has_jpeg"] is False
    assert live["codec"] == "H264"


async def test_stream_source_plays_h264(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    url = await async_get_stream_source(hass, camera_entity(hass, 1))
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    first, second = await asyncio.gather(decode_async(url, 50), decode_async(url, 50))
    for decoded in (first, second):
        assert decoded.codec == "h264"
        assert len(decoded.video) >= 50
        assert increasing(decoded.video)
    assert pushes(nvr_sim, 1) == [("START", "H264")]  # two viewers, one NVR stream
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    live = diagnostics["cameras"]["live"]["1"]
    assert live["codec"] == "H264"
    assert live["restream"]["connects"] == 1
    assert live["restream"]["last_error"] is False
    # While the video runs, a snapshot is its keyframe: no JPEG stream beside it.
    assert jpeg_size((await async_get_image(hass, camera_entity(hass, 1))).content) == (320, 240)
    assert ("START", "JPEG") not in pushes(nvr_sim, 1)


@pytest.mark.parametrize("entry_options", [{CONF_VIDEO_CODEC: "H265"}])
async def test_stream_source_plays_h265(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    url = await async_get_stream_source(hass, camera_entity(hass, 3))
    assert url is not None
    decoded = await decode_async(url, 50)
    assert decoded.codec == "hevc"
    assert len(decoded.video) >= 50
    assert increasing(decoded.video)
    assert pushes(nvr_sim, 3) == [("START", "H265")]
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    assert diagnostics["cameras"]["live"]["3"]["codec"] == "H265"


async def test_mjpeg_stream(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await hass_client()
    response = await client.get(f"/api/camera_proxy_stream/{camera_entity(hass, 1)}")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    images: list[bytes] = []
    while len(images) < 4:
        boundary = await response.content.readline()
        assert boundary == b"--frameboundary\r\n"
        headers: dict[str, str] = {}
        while (line := await response.content.readline()) != b"\r\n":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        images.append(await response.content.readexactly(int(headers["content-length"])))
        assert await response.content.readexactly(2) == b"\r\n"
    response.close()
    assert images[0] == images[1]  # the first frame goes out twice (Chrome shows n-1)
    assert len(set(images[1:])) == 3
    assert all(jpeg_size(image) == (320, 240) for image in images)
    assert pushes(nvr_sim, 1) == [("START", "JPEG")]


async def test_mjpeg_stream_ends_when_the_camera_stream_breaks(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    hass_client: ClientSessionGenerator,
) -> None:
    nvr_sim.faults.drop_after_parts = 3
    client = await hass_client()
    response = await client.get(f"/api/camera_proxy_stream/{camera_entity(hass, 1)}")
    assert response.status == 200
    body = await asyncio.wait_for(response.read(), 10)  # ends instead of hanging
    assert body.count(b"--frameboundary\r\n") == 4  # 3 frames, the first twice


async def test_mjpeg_stream_of_an_unreachable_camera_is_a_bad_gateway(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    hass_client: ClientSessionGenerator,
) -> None:
    nvr_sim.faults.fail_path("push.cgi", 500)
    client = await hass_client()
    response = await client.get(f"/api/camera_proxy_stream/{camera_entity(hass, 1)}")
    assert response.status == 502


async def test_a_failing_snapshot_is_a_translated_error(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.fail_path("push.cgi", 500)
    with pytest.raises(HomeAssistantError) as raised:
        await async_get_image(hass, camera_entity(hass, 1))
    assert raised.value.translation_domain == DOMAIN
    translations = json.loads(TRANSLATIONS.read_text())
    assert raised.value.translation_key in translations["exceptions"]


async def test_a_disconnected_camera_refuses_pictures_at_once(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    hass_client: ClientSessionGenerator,
) -> None:
    entity_id = camera_entity(hass, 4)  # the NVR reports a connection error
    with pytest.raises(HomeAssistantError) as raised:
        await async_get_image(hass, entity_id)
    assert raised.value.translation_domain == DOMAIN
    assert raised.value.translation_key == "camera_unavailable"
    assert raised.value.translation_placeholders == {"camera": "4"}
    translations = json.loads(TRANSLATIONS.read_text())
    assert "{camera}" in translations["exceptions"]["camera_unavailable"]["message"]
    client = await hass_client()
    assert (await client.get(f"/api/camera_proxy/{entity_id}")).status == 500
    assert (await client.get(f"/api/camera_proxy_stream/{entity_id}")).status == 502
    assert pushes(nvr_sim, 4) == []  # no START waited for its turn to be refused


async def test_unload_stops_every_stream(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    url = await async_get_stream_source(hass, camera_entity(hass, 1))
    assert url is not None
    viewer = asyncio.create_task(decode_async(url, 10_000))
    await wait_for(lambda: bool(nvr_sim.active_streams()))
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    # Ended by a STOP or by the logout that closes the client: either way none is left.
    assert not nvr_sim.active_streams()
    with pytest.raises(av.error.FFmpegError):  # the restream is gone with the entry
        await viewer


@pytest.mark.parametrize(
    ("entry_options", "camera", "codec"),
    [({}, 1, "h264"), ({CONF_VIDEO_CODEC: "H265"}, 3, "hevc")],
    ids=["h264", "h265"],
)
async def test_home_assistant_stream_worker_plays_the_restream(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    camera: int,
    codec: str,
) -> None:
    assert await async_setup_component(hass, "stream", {})
    stream = await get_camera_from_entity_id(
        hass, camera_entity(hass, camera)
    ).async_create_stream()
    assert stream is not None
    output = stream.add_provider(HLS_PROVIDER)
    await stream.start()
    try:
        await wait_for(lambda: len(output.get_segments()) >= 2, within=20)
        first = output.get_segments()[0]
        assert first.complete
        assert first.duration == pytest.approx(6.0)  # HA's segment length, in media time
        assert stream.get_diagnostics()["video_codec"] == codec
    finally:
        await stream.remove_provider(output)  # stops the worker too
    assert len([push for push in pushes(nvr_sim, camera) if push[0] == "START"]) == 1

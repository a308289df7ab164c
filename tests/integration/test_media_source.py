"""The media browser: NVR -> camera -> day -> hour, recent events, and playable URLs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
import io
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse
import av
from homeassistant.components import media_source
from homeassistant.components.media_player import BrowseError
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)
from yarl import URL

from custom_components.ipro_nvr.aioipro.models import Disk, HddInfo
from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.devices import camera_identifier
from custom_components.ipro_nvr.media_source import EVENT_AFTER, EVENT_BEFORE, RecordedRange
from ipro_sim import NvrSimulator, SimulatorConfig
from tests.conftest import setup_entry

ROOT = f"media-source://{DOMAIN}"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Two days of recording and no random log entries (the tests add their own)."""
    return SimulatorConfig(seed=1, recording_days=2.0, initial_events=0)


@pytest.fixture
async def browsing(
    hass: HomeAssistant, nvr_sim: NvrSimulator, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """The media source, and the NVR set up after two events on cameras 2 and 4."""
    assert await async_setup_component(hass, "media_source", {})
    now = datetime.now(UTC)
    nvr_sim.add_event("SITE(VMD)", camera=2, at=now - timedelta(minutes=30))
    nvr_sim.add_event("COMMAND ALARM", at=now - timedelta(minutes=20))
    nvr_sim.add_event("SITE(VMD)", camera=4, at=now - timedelta(minutes=10))
    await setup_entry(hass, config_entry)
    return config_entry


async def browse(hass: HomeAssistant, identifier: str = "") -> media_source.BrowseMediaSource:
    uri = f"{ROOT}/{identifier}" if identifier else ROOT
    result = await media_source.async_browse_media(hass, uri)
    assert isinstance(result, media_source.BrowseMediaSource)
    return result


def decode(data: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


async def until_decodable(response: ClientResponse) -> bytes:
    """Read a stream until what arrived decodes into at least one picture."""
    data = b""
    while not data or not decode(data):
        data += await response.content.readany()
    return data


async def until_true(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polls the simulator
            await asyncio.sleep(0.02)


async def test_browse_every_level(
    hass: HomeAssistant, nvr_sim: NvrSimulator, browsing: MockConfigEntry
) -> None:
    entry_id = browsing.entry_id
    root = await browse(hass)
    assert [(c.identifier, c.title, c.can_expand) for c in root.children] == [
        (entry_id, browsing.title, True)
    ]

    nvr = await browse(hass, entry_id)
    assert [c.identifier for c in nvr.children] == [
        f"{entry_id}/events",
        *(f"{entry_id}/camera/{n}" for n in (1, 2, 3, 4)),
    ]
    assert all(c.can_expand and not c.can_play for c in nvr.children)

    # Days and hours come from the range the disks report (RecordedRange, tested below).
    recorded = RecordedRange.of(browsing.runtime_data.coordinator.data.hdd)
    assert recorded is not None
    camera = await browse(hass, f"{entry_id}/camera/2")
    days = recorded.days()
    assert len(days) >= 2
    assert [c.title for c in camera.children] == [f"{day:%Y-%m-%d}" for day in days]

    hours = await browse(hass, f"{entry_id}/camera/2/{days[1]:%Y-%m-%d}")
    assert len(hours.children) == len(recorded.hours(days[1]))
    assert all(c.can_play and not c.can_expand for c in hours.children)
    newest = hours.children[0]
    assert newest.media_content_type == "video/mp4"
    _, kind, cam, start, end = newest.identifier.split("/")
    assert (kind, cam) == ("play", "2")
    assert int(end) - int(start) <= 3600
    local_start = dt_util.as_local(datetime.fromtimestamp(int(start), UTC))
    assert newest.title.startswith(f"{local_start:%H:%M}")

    today = await browse(hass, f"{entry_id}/camera/2/{days[0]:%Y-%m-%d}")
    _, _, _, _, end = today.children[0].identifier.split("/")
    assert int(end) == int(recorded.newest.timestamp()) <= datetime.now(UTC).timestamp()
    first_day = await browse(hass, f"{entry_id}/camera/2/{days[-1]:%Y-%m-%d}")
    _, _, _, start, _ = first_day.children[-1].identifier.split("/")
    assert int(start) <= recorded.oldest.timestamp() < int(start) + 60


async def test_events_folder(
    hass: HomeAssistant, nvr_sim: NvrSimulator, browsing: MockConfigEntry
) -> None:
    """Entries that name a camera become clips from shortly before them, newest first."""
    events = await browse(hass, f"{browsing.entry_id}/events")
    log = browsing.runtime_data.coordinator.data.event_log.entries
    with_camera = [entry for entry in log if entry.camera is not None]
    assert [entry.camera for entry in with_camera] == [4, 2]
    assert len(events.children) == 2
    for child, entry in zip(events.children, with_camera, strict=True):
        _, kind, cam, start, end = child.identifier.split("/")
        assert (kind, int(cam)) == ("clip", entry.camera)
        assert int(start) <= (entry.time - EVENT_BEFORE).timestamp() < int(start) + 60
        assert int(end) == int((entry.time + EVENT_AFTER).timestamp())
        assert entry.kind in child.title
        assert child.can_play


async def test_event_clip_plays(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    browsing: MockConfigEntry,
) -> None:
    """Resolving an event gives a signed URL; fetching it gives an MP4 PyAV decodes."""
    events = await browse(hass, f"{browsing.entry_id}/events")
    item = events.children[-1]

    resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)

    assert resolved.mime_type == "video/mp4"
    url = URL(resolved.url)
    assert url.path.startswith(f"/api/ipro_nvr/clip/{browsing.entry_id}/2/")
    assert "authSig" in url.query
    client = await hass_client_no_auth()
    response = await client.get(resolved.url)
    assert response.status == HTTPStatus.OK
    data = await response.read()
    frames = decode(data)
    assert len(frames) >= 60 * nvr_sim.config.fps
    assert [r.cgi for r in nvr_sim.requests].count("httpdl.cgi") == 1


async def test_hour_plays(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    nvr_sim: NvrSimulator,
    browsing: MockConfigEntry,
) -> None:
    """An hour resolves to the playback stream; its first pictures decode at once."""
    yesterday = dt_util.now().date() - timedelta(days=1)
    hours = await browse(hass, f"{browsing.entry_id}/camera/1/{yesterday:%Y-%m-%d}")
    item = hours.children[0]

    resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)

    assert URL(resolved.url).path.startswith(f"/api/ipro_nvr/playback/{browsing.entry_id}/1/")
    client = await hass_client_no_auth()
    response = await client.get(resolved.url)
    assert response.status == HTTPStatus.OK
    frames = decode(await until_decodable(response))
    assert frames[0].width == nvr_sim.config.width
    response.close()
    await until_true(lambda: any(r.cgi == "logout.cgi" for r in nvr_sim.requests))


async def test_websocket_resolve_keeps_the_signed_url(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, browsing: MockConfigEntry
) -> None:
    """The frontend's resolve passes our signed URL on (core signs only unsigned paths)."""
    events = await browse(hass, f"{browsing.entry_id}/events")
    websocket = await hass_ws_client(hass)
    await websocket.send_json_auto_id(
        {
            "type": "media_source/resolve_media",
            "media_content_id": events.children[0].media_content_id,
        }
    )
    result = await websocket.receive_json()
    assert result["success"]
    url = URL(result["result"]["url"])
    assert url.path.startswith(f"/api/ipro_nvr/clip/{browsing.entry_id}/4/")
    assert list(url.query) == ["authSig"]


@pytest.mark.parametrize(
    "identifier",
    [
        "nope",
        "{entry}/camera/9",
        "{entry}/camera/x",
        "{entry}/camera/1/yesterday",
        "{entry}/somewhere",
        "{entry}/camera/1/2026-01-01/extra/levels",
    ],
)
async def test_browse_errors(
    hass: HomeAssistant, browsing: MockConfigEntry, identifier: str
) -> None:
    with pytest.raises(BrowseError):
        await browse(hass, identifier.format(entry=browsing.entry_id))


@pytest.mark.parametrize(
    "identifier",
    [
        "{entry}/clip/1/x/60",
        "{entry}/clip/9/0/60",
        "{entry}/camera/1",
        "{entry}/play/1/0",
        "other/clip/1/0/60",
    ],
)
async def test_resolve_errors(
    hass: HomeAssistant, browsing: MockConfigEntry, identifier: str
) -> None:
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(
            hass, f"{ROOT}/{identifier.format(entry=browsing.entry_id)}", None
        )


async def test_unloaded_nvr_is_gone(hass: HomeAssistant, browsing: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(browsing.entry_id)
    assert (await browse(hass)).children == []
    with pytest.raises(BrowseError):
        await browse(hass, browsing.entry_id)


async def test_nothing_recorded(
    hass: HomeAssistant, nvr_sim: NvrSimulator, browsing: MockConfigEntry
) -> None:
    """Without a recorded range there are no days and no hours."""
    coordinator = browsing.runtime_data.coordinator
    empty = HddInfo(
        disks=(
            Disk(
                name="MAIN-1",
                capacity_gb=None,
                capacity_flag=None,
                remain_gb=None,
                oldest=None,
                newest=None,
            ),
        )
    )
    coordinator.async_set_updated_data(
        type(coordinator.data)(
            cameras=coordinator.data.cameras,
            event_log=coordinator.data.event_log,
            error_log=coordinator.data.error_log,
            hdd=empty,
        )
    )
    assert (await browse(hass, f"{browsing.entry_id}/camera/1")).children == []
    assert (await browse(hass, f"{browsing.entry_id}/camera/1/2026-01-01")).children == []


@pytest.mark.parametrize(
    ("day", "hours"),
    [
        pytest.param(date(2026, 3, 8), 23, id="spring-forward"),
        pytest.param(date(2026, 11, 1), 25, id="fall-back"),
        pytest.param(date(2026, 6, 1), 24, id="summer"),
    ],
)
async def test_hours_follow_the_local_day(hass: HomeAssistant, day: date, hours: int) -> None:
    """Hours run from local midnight to local midnight, summer-time changes included."""
    await hass.config.async_set_time_zone("US/Pacific")
    recorded = RecordedRange(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
    windows = recorded.hours(day)
    assert len(windows) == hours
    zone = ZoneInfo("US/Pacific")
    assert windows[0][0] == datetime.combine(day, datetime.min.time(), zone)
    assert all(end - start == timedelta(hours=1) for start, end in windows)


async def test_partial_first_and_last_hours(hass: HomeAssistant) -> None:
    """The first hour starts at the oldest recording's minute, the last ends at the newest."""
    await hass.config.async_set_time_zone("UTC")
    oldest = datetime(2026, 5, 1, 10, 17, 42, tzinfo=UTC)
    newest = datetime(2026, 5, 1, 12, 5, 3, tzinfo=UTC)
    recorded = RecordedRange(oldest, newest)
    assert recorded.days() == [date(2026, 5, 1)]
    assert recorded.hours(date(2026, 5, 1)) == [
        (datetime(2026, 5, 1, 10, 17, tzinfo=UTC), datetime(2026, 5, 1, 11, tzinfo=UTC)),
        (datetime(2026, 5, 1, 11, tzinfo=UTC), datetime(2026, 5, 1, 12, tzinfo=UTC)),
        (datetime(2026, 5, 1, 12, tzinfo=UTC), newest),
    ]


async def test_camera_without_a_device_has_a_plain_title(
    hass: HomeAssistant, browsing: MockConfigEntry
) -> None:
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier(
        camera_identifier(browsing, 3), browsing.entry_id
    )
    assert device is not None
    registry.async_update_device(device.id, name_by_user="Garden")
    titles = [c.title for c in (await browse(hass, browsing.entry_id)).children]
    assert titles[3] == "Garden"
    registry.async_remove_device(device.id)
    titles = [c.title for c in (await browse(hass, browsing.entry_id)).children]
    assert titles[3] == "Camera 3"

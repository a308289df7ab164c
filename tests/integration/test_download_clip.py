"""The ``ipro_nvr.download_clip`` service against the simulator.

Windows are placed two hours before the simulator's clock, well inside its recording
(it records from seven days before it started). Pacing is the short test pacing of
``fast_pacer``, asserted on the simulator's request log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
import contextlib
from datetime import UTC, datetime, timedelta
import filecmp
from functools import partial
import itertools
import logging
from pathlib import Path
from typing import Any
from unittest.mock import patch

import av
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.icon import async_get_icons
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.ipro_nvr import recordings
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.devices import camera_identifier
from custom_components.ipro_nvr.recordings import (
    EVENT_DOWNLOAD_FINISHED,
    SERVICE_DOWNLOAD_CLIP,
)
from ipro_sim import NvrSimulator, SimulatorConfig
from ipro_sim.encoders import download_name
from tests.client.download_answers import CLOSE, data_part, names, raw_part

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL

RETRY_DELAYS = (0.1, 0.2)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Write downloads into a temporary config directory."""
    return hass_tmp_config_dir


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Camera 3 records JPEG, which cannot become an MP4 (status 2); files of 30 min."""
    return SimulatorConfig(seed=1, camera_codecs={3: "JPEG"}, download_file_seconds=1800.0)


@pytest.fixture(autouse=True)
def short_retries() -> Generator[None]:
    """Retry status 3 (busy) after 0.1 s and 0.2 s instead of seconds."""
    factory = partial(IproClient, download_retry_delays=RETRY_DELAYS)
    with patch("custom_components.ipro_nvr.util.IproClient", factory):
        yield


@pytest.fixture(autouse=True)
def _fresh_request_log(
    short_retries: None, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    """Start each test's request log after set-up, so it holds only the test's traffic.

    (Set-up's first login answers a Digest challenge first, which delays that login
    past its pacing slot; that belongs to the client's tests, not to these.)
    """
    nvr_sim.requests.clear()


@pytest.fixture
def media_dir(hass: HomeAssistant) -> Path:
    """The default download folder."""
    return Path(hass.config.path("media", DOMAIN))


def camera_device(hass: HomeAssistant, entry: MockConfigEntry, camera: int) -> str:
    """Return the device registry id of one camera."""
    device = dr.async_get(hass).async_get_device_by_identifier(
        camera_identifier(entry, camera), entry.entry_id
    )
    assert device is not None
    return device.id


def camera_entity(hass: HomeAssistant, entry: MockConfigEntry, camera: int) -> str:
    """Return an entity of one camera, its camera entity when there is one."""
    entities = [
        entity
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if f"_camera_{camera}_" in entity.unique_id
    ]
    entities.sort(key=lambda entity: entity.domain != "camera")
    return entities[0].entity_id


def window(minutes: float, before_now: timedelta = timedelta(hours=2)) -> tuple[datetime, datetime]:
    """Return a whole-minute window of ``minutes`` ending ``before_now`` ago."""
    end = (datetime.now(UTC) - before_now).replace(second=0, microsecond=0)
    return end - timedelta(minutes=minutes), end


async def download(hass: HomeAssistant, target: dict[str, Any], **data: Any) -> dict[str, Any]:
    """Call the service, wait for it and return its answer."""
    result = await hass.services.async_call(
        DOMAIN, SERVICE_DOWNLOAD_CLIP, {**target, **data}, blocking=True, return_response=True
    )
    assert result is not None
    return dict(result)


def downloads(sim: NvrSimulator) -> list[dict[str, str]]:
    """Return the queries of the ``httpdl.cgi`` requests the simulator answered."""
    return [dict(r.query) for r in sim.requests if r.cgi == "httpdl.cgi" and r.status == 200]


def size_of(path: str | Path) -> int:
    """Return the size of a file on disk."""
    return Path(path).stat().st_size


def files_in(folder: Path) -> list[str]:
    """Return the names of the files under ``folder``, sorted."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``condition()`` holds (the simulator and the disk have no events)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polls state that has no event
            await asyncio.sleep(0.01)


def sim_time(moment: datetime) -> str:
    """Return ``moment`` as the simulator reads STARTTIME/ENDTIME (UTC ``yymmddhhmmss``)."""
    return moment.astimezone(UTC).strftime("%y%m%d%H%M%S")


async def test_thirty_minutes_one_request(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """A half hour is one request; the answer, the event and the disk agree."""
    events = async_capture_events(hass, EVENT_DOWNLOAD_FINISHED)
    start, end = window(30)
    device_id = camera_device(hass, loaded_entry, 1)

    result = await download(
        hass, {"device_id": device_id}, start=start.isoformat(), end=end.isoformat()
    )

    assert downloads(nvr_sim) == [
        {
            "STARTTIME": sim_time(start),
            "ENDTIME": sim_time(end),
            "KIND": "MP4",
            "CAM": "1",
            "PC": "AS60",
            "UID": downloads(nvr_sim)[0]["UID"],
        }
    ]
    assert result["kind"] == "mp4"
    assert result["folder"] == str(media_dir)
    assert datetime.fromisoformat(result["start"]) == start
    assert datetime.fromisoformat(result["end"]) == end
    [row] = result["files"]
    path = Path(row["path"])
    assert path.parent == media_dir
    assert path.name == download_name(1, nvr_sim.tz.local(start.timestamp()), 1, "mp4")
    assert row["size"] == size_of(path) > 0
    assert row["camera"] == 1
    assert row["entry_id"] == loaded_entry.entry_id
    assert row["device_id"] == device_id
    assert files_in(media_dir) == [path.name]
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    await hass.async_block_till_done()
    assert [event.data for event in events] == [result]
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_a_file_in_one_part_without_length(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A 20 MB file in one part ended by the next delimiter is saved whole."""
    start, end = window(30)
    target = {"device_id": camera_device(hass, loaded_entry, 1)}
    reference = await download(hass, target, start=start, end=end)
    nvr_sim.config.download_part_size = 0
    nvr_sim.config.download_content_length = False

    result = await download(hass, target, start=start, end=end)

    [expected], [row] = reference["files"], result["files"]
    assert row["path"] != expected["path"]
    assert row["size"] == expected["size"] > 16 * 1024 * 1024
    assert await hass.async_add_executor_job(
        partial(filecmp.cmp, row["path"], expected["path"], shallow=False)
    )


async def test_ninety_minutes_two_requests(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An hour and a half is an hour, then half an hour; each hour's files are kept."""
    start, end = window(90)
    caplog.set_level(logging.INFO, logger=recordings.__name__)

    result = await download(
        hass,
        {"entity_id": camera_entity(hass, loaded_entry, 2)},
        start=start.isoformat(),
        end=end.isoformat(),
        kind="mp4_video_only",
    )

    middle = start + timedelta(hours=1)
    assert [(q["STARTTIME"], q["ENDTIME"], q["KIND"], q["CAM"]) for q in downloads(nvr_sim)] == [
        (sim_time(start), sim_time(middle), "MP4VO", "2"),
        (sim_time(middle), sim_time(end), "MP4VO", "2"),
    ]
    # The simulator closes a file every 30 minutes: two files, then one.
    assert len(result["files"]) == 3
    assert files_in(media_dir) == sorted(Path(row["path"]).name for row in result["files"])
    assert {row["entity_id"] for row in result["files"]} == {camera_entity(hass, loaded_entry, 2)}
    assert "(1 of 2)" in caplog.text
    assert "(2 of 2)" in caplog.text
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_split_files_keep_the_nvr_names(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    media_dir: Path,
) -> None:
    """When the NVR splits one request into several files, each is kept under its name."""
    nvr_sim.faults.download_split_files = 3
    start, end = window(6)

    result = await download(
        hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
    )

    assert len(downloads(nvr_sim)) == 1
    names = [Path(row["path"]).name for row in result["files"]]
    local = nvr_sim.tz.local
    assert names == [
        download_name(1, local(start.timestamp()), 1, "mp4"),
        download_name(1, local(start.timestamp() + 120), 2, "mp4"),
        download_name(1, local(start.timestamp() + 240), 3, "mp4"),
    ]
    assert files_in(media_dir) == sorted(names)
    for row in result["files"]:
        assert size_of(row["path"]) == row["size"]
        with av.open(row["path"]) as container:
            assert container.streams.video


async def test_kinds_map_to_the_nvr(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Each file type reaches the NVR as its KIND value."""
    start, end = window(1)
    target = {"device_id": camera_device(hass, loaded_entry, 1)}
    for kind in ("n3r", "n3r_video_only", "list"):
        await download(hass, target, start=start, end=end, kind=kind)
    assert [q["KIND"] for q in downloads(nvr_sim)] == ["N3", "N3VO", "LIST"]


async def test_naive_times_are_local_and_sent_as_utc(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A time without a zone is Home Assistant's local time; the NVR gets UTC."""
    start, end = window(2)
    await download(
        hass,
        {"device_id": camera_device(hass, loaded_entry, 1)},
        start=dt_util.as_local(start).replace(tzinfo=None).isoformat(),
        end=dt_util.as_local(end).replace(tzinfo=None).isoformat(),
    )
    [query] = downloads(nvr_sim)
    assert (query["STARTTIME"], query["ENDTIME"]) == (sim_time(start), sim_time(end))


async def test_window_with_an_empty_hour_keeps_the_recorded_one(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """An hour before the recording began is skipped when the next hour has some."""
    recording_start = datetime.fromtimestamp(nvr_sim.recording.start, UTC)
    start = recording_start.replace(second=0, microsecond=0) - timedelta(minutes=61)
    end = start + timedelta(minutes=63)

    result = await download(
        hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
    )

    assert len(downloads(nvr_sim)) == 2
    assert len(result["files"]) == 1
    assert files_in(media_dir) == [Path(result["files"][0]["path"]).name]


@pytest.mark.parametrize(
    ("case", "key"),
    [
        pytest.param((1, timedelta(days=8)), "no_recording", id="status-1"),
        pytest.param((3, timedelta(hours=2)), "codec_not_compatible", id="status-2"),
    ],
)
async def test_status_errors_are_translated(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    case: tuple[int, timedelta],
    key: str,
) -> None:
    """No recording (status 1) and an MP4 of a JPEG recording (status 2) are user errors."""
    camera, before_now = case
    start, end = window(2, before_now)
    with pytest.raises(ServiceValidationError) as caught:
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, camera)}, start=start, end=end
        )
    assert caught.value.translation_key == key
    assert len(downloads(nvr_sim)) == 1
    assert files_in(Path(hass.config.path("media"))) == []


def garbage(sim: NvrSimulator) -> None:
    sim.faults.garbage(path="httpdl.cgi")


def status_1_after_data(sim: NvrSimulator) -> None:
    sim.faults.download_answer = data_part() + raw_part(names("", status="1")) + CLOSE


def cut_short(sim: NvrSimulator) -> None:
    sim.faults.download_answer = data_part() + CLOSE


def oversized_part(sim: NvrSimulator) -> None:
    sim.faults.huge_content_length = True


def http_503(sim: NvrSimulator) -> None:
    sim.faults.fail_path("httpdl.cgi", 503)


def http_401(sim: NvrSimulator) -> None:
    sim.faults.fail_path("httpdl.cgi", 401)


def no_free_uid(sim: NvrSimulator) -> None:
    sim.faults.no_free_uid = True


@pytest.mark.parametrize(
    ("fault", "key"),
    [
        (garbage, "protocol_error"),
        (status_1_after_data, "protocol_error"),
        (cut_short, "protocol_error"),
        (oversized_part, "protocol_error"),
        (http_503, "busy"),
        (http_401, "invalid_auth"),
        (no_free_uid, "no_free_session"),
    ],
)
async def test_broken_or_refused_answers_are_not_no_recording(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    fault: Callable[[NvrSimulator], None],
    key: str,
) -> None:
    """What the NVR did not say is never "nothing recorded": each case names its cause."""
    fault(nvr_sim)
    start, end = window(2)

    with pytest.raises(HomeAssistantError) as caught:
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
        )

    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == key
    assert files_in(Path(hass.config.path("media"))) == []


async def test_busy_is_retried_with_backoff_then_reported(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """Status 3 is asked again after growing delays; still busy, it is a clear error."""
    nvr_sim.config.max_downloads = 0
    start, end = window(2)

    with pytest.raises(HomeAssistantError) as caught:
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
        )

    assert caught.value.translation_key == "busy"
    times = [r.time for r in nvr_sim.requests if r.cgi == "httpdl.cgi" and r.status == 200]
    assert len(times) == 1 + len(RETRY_DELAYS)
    for (first, second), delay in zip(itertools.pairwise(times), RETRY_DELAYS, strict=True):
        assert second - first >= delay
    assert files_in(media_dir) == []
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_busy_then_free_succeeds(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A retry after the NVR freed a slot downloads normally."""
    nvr_sim.config.max_downloads = 0
    start, end = window(2)
    call = hass.async_create_task(
        download(hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end)
    )
    await until(lambda: bool(downloads(nvr_sim)))
    nvr_sim.config.max_downloads = 2

    result = await call

    assert len(downloads(nvr_sim)) == 2
    assert len(result["files"]) == 1


async def test_device_file_names_cannot_leave_the_folder(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """A file name with path components from the device lands inside the folder."""
    nvr_sim.faults.download_file_name = "../../../escaped"
    start, end = window(1)

    result = await download(
        hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
    )

    [row] = result["files"]
    assert Path(row["path"]) == media_dir / "escaped.mp4"
    everything = files_in(Path(hass.config.config_dir).parent)
    assert [name for name in everything if "escaped" in name] == ["escaped.mp4"]


async def test_at_most_two_downloads_at_once(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Three calls at once: two run, the third waits for a slot (no status 3 at all)."""
    nvr_sim.config.download_bytes_per_second = 3_000_000
    start, end = window(1)
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, nvr_sim.active_downloads)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(
        *(
            download(
                hass, {"device_id": camera_device(hass, loaded_entry, cam)}, start=start, end=end
            )
            for cam in (1, 2, 4)
        )
    )
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher

    assert most == 2
    assert [len(result["files"]) for result in results] == [1, 1, 1]
    assert len(downloads(nvr_sim)) == 3
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_broken_transfer_leaves_no_file(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """A connection dropped in the middle of a file leaves nothing behind."""
    nvr_sim.faults.drop_after_parts = 3
    start, end = window(10)

    with pytest.raises(HomeAssistantError) as caught:
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
        )

    assert caught.value.translation_key == "cannot_connect"
    assert files_in(media_dir) == []


async def test_failure_in_a_later_hour_removes_the_earlier_hours(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """All or nothing: the first hour's files go when the second hour fails."""
    real_download = IproClient.download

    async def then_break(self: IproClient, *args: Any) -> Any:
        files = await real_download(self, *args)
        nvr_sim.faults.drop_after_parts = 2
        assert files_in(media_dir)
        return files

    start, end = window(70)
    with (
        patch.object(IproClient, "download", then_break),
        pytest.raises(HomeAssistantError),
    ):
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
        )

    assert len(downloads(nvr_sim)) == 2
    assert files_in(media_dir) == []


async def test_several_cameras_skip_one_without_recording(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Cameras go one after the other; one with nothing recorded is left out."""
    nvr_sim.set_camera_status(2, 0, log=False)
    start, end = window(1)

    result = await download(
        hass,
        {"device_id": [camera_device(hass, loaded_entry, cam) for cam in (2, 1)]},
        start=start,
        end=end,
    )

    assert [q["CAM"] for q in downloads(nvr_sim)] == ["1", "2"]
    assert [row["camera"] for row in result["files"]] == [1]


async def test_several_cameras_without_recording(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """When no targeted camera has a recording, that is the error."""
    start, end = window(1, timedelta(days=8))
    with pytest.raises(ServiceValidationError) as caught:
        await download(
            hass,
            {"device_id": [camera_device(hass, loaded_entry, cam) for cam in (1, 2)]},
            start=start,
            end=end,
        )
    assert caught.value.translation_key == "no_recording"


async def test_without_response_runs_in_the_background(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """Not asking for the files returns at once; the event brings them later."""
    nvr_sim.config.download_bytes_per_second = 2_000_000
    events = async_capture_events(hass, EVENT_DOWNLOAD_FINISHED)
    start, end = window(1)

    result = await hass.services.async_call(
        DOMAIN,
        SERVICE_DOWNLOAD_CLIP,
        {"device_id": camera_device(hass, loaded_entry, 1), "start": start, "end": end},
        blocking=True,
    )

    assert result is None
    assert events == []
    await hass.async_block_till_done(wait_background_tasks=True)
    [event] = events
    [row] = event.data["files"]
    assert files_in(media_dir) == [Path(row["path"]).name]


async def test_background_failure_is_logged(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nobody waits for a background download, so its failure goes to the log."""
    events = async_capture_events(hass, EVENT_DOWNLOAD_FINISHED)
    start, end = window(1, timedelta(days=8))
    await hass.services.async_call(
        DOMAIN,
        SERVICE_DOWNLOAD_CLIP,
        {"device_id": camera_device(hass, loaded_entry, 1), "start": start, "end": end},
        blocking=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert events == []
    assert "has no recording" in caplog.text


async def test_unload_cancels_background_download(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """Unloading the NVR stops its download and removes the partial file."""
    nvr_sim.config.download_bytes_per_second = 200_000
    start, end = window(1)
    await hass.services.async_call(
        DOMAIN,
        SERVICE_DOWNLOAD_CLIP,
        {"device_id": camera_device(hass, loaded_entry, 1), "start": start, "end": end},
        blocking=True,
    )
    await until(lambda: bool(files_in(media_dir)))

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    # The cancelled task cleans up after it (block_till_done skips cancelling tasks).
    await until(lambda: not files_in(media_dir))


async def test_unload_cancels_a_waited_download(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """A caller waiting for the files learns the download was cancelled."""
    nvr_sim.config.download_bytes_per_second = 200_000
    start, end = window(1)
    call = hass.async_create_task(
        download(hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end)
    )
    await until(lambda: bool(files_in(media_dir)))

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(HomeAssistantError) as caught:
        await call

    assert caught.value.translation_key == "download_cancelled"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert files_in(media_dir) == []


async def test_long_download_reports_progress(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A running hour says in the log that it is still running."""
    caplog.set_level(logging.INFO, logger=recordings.__name__)
    nvr_sim.config.download_bytes_per_second = 2_000_000
    start, end = window(1)
    with patch.object(recordings, "PROGRESS_INTERVAL", 0.05):
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
        )
    assert "Still downloading camera 1 of" in caplog.text


async def test_folder_must_be_allowed(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, tmp_path: Path
) -> None:
    """A folder outside allowlist_external_dirs is refused before anything is asked."""
    start, end = window(1)
    target = {"device_id": camera_device(hass, loaded_entry, 1)}
    with pytest.raises(ServiceValidationError) as caught:
        await download(hass, target, start=start, end=end, folder=str(tmp_path / "elsewhere"))
    assert caught.value.translation_key == "folder_not_allowed"
    assert downloads(nvr_sim) == []

    hass.config.allowlist_external_dirs = {str(Path(hass.config.config_dir) / "clips")}
    result = await download(hass, target, start=start, end=end, folder="clips/garden")
    [row] = result["files"]
    assert Path(row["path"]).parent == Path(hass.config.config_dir) / "clips" / "garden"
    assert result["folder"] == str(Path(hass.config.config_dir) / "clips" / "garden")


@pytest.mark.parametrize(
    ("minutes", "key"),
    [
        pytest.param(0, "invalid_window", id="empty"),
        pytest.param(-5, "invalid_window", id="reversed"),
        pytest.param(24 * 60 + 1, "window_too_long", id="too-long"),
    ],
)
async def test_window_is_checked(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    minutes: int,
    key: str,
) -> None:
    """An empty, reversed or over-long window is refused before anything is asked."""
    start = datetime.now(UTC) - timedelta(days=2)
    with pytest.raises(ServiceValidationError) as caught:
        await download(
            hass,
            {"device_id": camera_device(hass, loaded_entry, 1)},
            start=start,
            end=start + timedelta(minutes=minutes),
        )
    assert caught.value.translation_key == key
    assert downloads(nvr_sim) == []


async def test_targets_must_be_cameras(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """The NVR itself, its entities and foreign entities are not cameras."""
    start, end = window(1)
    registry = er.async_get(hass)
    nvr_entity = next(
        entity.entity_id
        for entity in er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
        if "_camera_" not in entity.unique_id and "_disk_" not in entity.unique_id
    )
    nvr_device = loaded_entry.runtime_data.nvr_device_id
    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    other_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other_entry.entry_id, identifiers={("other", "thing")}
    )
    for target, key in (
        ({"entity_id": nvr_entity}, "not_a_camera"),
        ({"device_id": other_device.id}, "not_a_camera"),
        ({"device_id": "no-such-device"}, "not_a_camera"),
        ({"entity_id": "sun.sun"}, "not_a_camera"),
        ({"device_id": nvr_device}, "not_a_camera"),
        ({"area_id": "nowhere"}, "no_camera_target"),
    ):
        with pytest.raises(ServiceValidationError) as caught:
            await download(hass, target, start=start, end=end)
        assert caught.value.translation_key == key, target
    assert downloads(nvr_sim) == []


async def test_unloaded_nvr_is_refused(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A camera of an unloaded NVR cannot download."""
    start, end = window(1)
    entity_id = camera_entity(hass, loaded_entry, 1)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as caught:
        await download(hass, {"entity_id": entity_id}, start=start, end=end)
    assert caught.value.translation_key == "not_loaded"


async def test_every_hour_empty_is_no_recording(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Two hours before the recording began: both asked for, then the error."""
    start, end = window(90, timedelta(days=8))
    with pytest.raises(ServiceValidationError) as caught:
        await download(
            hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end
        )
    assert caught.value.translation_key == "no_recording"
    assert len(downloads(nvr_sim)) == 2


async def test_caller_gone_cancels_the_download(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, media_dir: Path
) -> None:
    """When the waiting caller is cancelled, so is its download, and it cleans up."""
    nvr_sim.config.download_bytes_per_second = 200_000
    start, end = window(1)
    call = hass.async_create_task(
        download(hass, {"device_id": camera_device(hass, loaded_entry, 1)}, start=start, end=end)
    )
    await until(lambda: bool(files_in(media_dir)))

    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    await until(lambda: not files_in(media_dir))
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_service_is_described(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """services.yaml, the translations and the icon describe every field."""
    descriptions = await async_get_all_descriptions(hass)
    description = descriptions[DOMAIN][SERVICE_DOWNLOAD_CLIP]
    assert set(description["fields"]) == {"start", "end", "kind", "folder"}
    assert description["target"] == {"entity": [{"integration": DOMAIN, "domain": ["camera"]}]}
    assert description["response"] == {"optional": True}
    icons = await async_get_icons(hass, "services", [DOMAIN])
    assert icons[DOMAIN][SERVICE_DOWNLOAD_CLIP] == {"service": "mdi:download"}
    translations = await async_get_translations(hass, "en", "services", [DOMAIN])
    prefix = f"component.{DOMAIN}.services.{SERVICE_DOWNLOAD_CLIP}"
    assert translations[f"{prefix}.name"] == "Download clip"
    for field in description["fields"]:
        assert translations[f"{prefix}.fields.{field}.name"]


async def test_folder_that_cannot_be_written(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A folder path taken by a file is a translated error, and nothing is left behind."""
    clips = Path(hass.config.config_dir) / "clips"
    hass.config.allowlist_external_dirs = {str(clips)}
    await hass.async_add_executor_job(clips.mkdir)
    await hass.async_add_executor_job((clips / "taken").write_bytes, b"")
    start, end = window(1)
    with pytest.raises(HomeAssistantError) as caught:
        await download(
            hass,
            {"device_id": camera_device(hass, loaded_entry, 1)},
            start=start,
            end=end,
            folder=str(clips / "taken"),
        )
    assert caught.value.translation_key == "cannot_write"
    assert files_in(clips) == ["taken"]

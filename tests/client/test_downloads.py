"""Downloads from the simulator: hourly split, files, statuses, names, limits, cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import os
from pathlib import Path

import pytest

from custom_components.ipro_nvr.aioipro import (
    DownloadKind,
    IproBusyError,
    IproCodecError,
    IproConnectionError,
    IproNoRecordingError,
    IproProtocolError,
    downloads,
)
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.downloads import split_windows
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import ClientMaker, queries, requests_to


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Files split every 30 minutes, whatever the simulator's default."""
    return SimulatorConfig(download_file_seconds=1800.0)


def minute(offset: float) -> datetime:
    """Return now minus ``offset`` minutes, on a whole minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=offset)


def stamp(when: datetime) -> str:
    return when.strftime("%y%m%d%H%M") + "00"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to 10 s) until ``condition()`` holds."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")


async def test_thirty_minutes_mp4(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    await client.login()
    start, end = minute(40), minute(10)
    files = await client.download(1, start, end, DownloadKind.MP4, tmp_path)
    assert len(files) == 1
    data = files[0].path.read_bytes()
    assert data[4:8] == b"ftyp"
    assert files[0].size == len(data)
    assert files[0].path.parent == tmp_path
    assert files[0].path.suffix == ".mp4"
    assert listing(tmp_path) == [files[0].path.name]
    (request,) = requests_to(nvr_sim, "httpdl.cgi")
    assert request.query == [
        ("UID", request.uid),
        ("STARTTIME", stamp(start)),
        ("ENDTIME", stamp(end)),
        ("KIND", "MP4"),
        ("CAM", "1"),
        ("PC", "AS60"),
    ]
    # Its own UID, logged out when done; the control UID is untouched.
    assert [r.uid for r in requests_to(nvr_sim, "logout.cgi")] == [request.uid]
    assert nvr_sim.sessions.count == 1


async def test_ninety_minutes_are_two_requests(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    start, end = minute(100), minute(10)
    files = await client.download(2, start, end, DownloadKind.LIST, tmp_path)
    requests = requests_to(nvr_sim, "httpdl.cgi")
    assert [(dict(r.query)["STARTTIME"], dict(r.query)["ENDTIME"]) for r in requests] == [
        (stamp(start), stamp(start + timedelta(hours=1))),
        (stamp(start + timedelta(hours=1)), stamp(end)),
    ]
    assert len({r.uid for r in requests}) == 2
    assert len(queries(nvr_sim, "logout.cgi")) == 2
    # The simulator splits files every 30 minutes: 2 + 1.
    assert len(files) == 3
    assert listing(tmp_path) == sorted(f.path.name for f in files)
    assert all(f.path.read_bytes().startswith(b"CAM,2") for f in files)


async def test_split_files(client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path) -> None:
    nvr_sim.faults.download_split_files = 3
    files = await client.download(1, minute(20), minute(5), DownloadKind.N3R, tmp_path)
    assert len(files) == 3
    assert len({f.path.name for f in files}) == 3
    assert all(f.path.suffix == ".n3r" and f.size > 0 for f in files)
    assert not any(name.endswith(".tmp") for name in listing(tmp_path))


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(camera_codecs={2: "JPEG"}, jpeg_cameras=frozenset({1, 2}))],
    ids=["jpeg-camera"],
)
async def test_status_codec(client: IproClient, tmp_path: Path) -> None:
    with pytest.raises(IproCodecError, match="camera 2"):
        await client.download(2, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []


async def test_status_no_recording(client: IproClient, tmp_path: Path) -> None:
    with pytest.raises(IproNoRecordingError, match="Camera 9"):
        await client.download(9, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    with pytest.raises(IproNoRecordingError):
        await client.download(1, minute(-80), minute(-200), DownloadKind.LIST, tmp_path)
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(recording_days=0.5 / 24)], ids=["recent-recording"]
)
async def test_empty_hour_is_skipped(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    # The first hour predates the recording: status 1 there, files from the second.
    files = await client.download(1, minute(100), minute(5), DownloadKind.LIST, tmp_path)
    assert files
    assert len(requests_to(nvr_sim, "httpdl.cgi")) == 2


@pytest.mark.parametrize("sim_config", [SimulatorConfig(max_downloads=0)], ids=["busy"])
async def test_status_busy_is_retried_then_raised(
    make_client: ClientMaker, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    client = make_client(download_retry_delays=(0.05, 0.1))
    with pytest.raises(IproBusyError, match="busy"):
        await client.download(1, minute(20), minute(5), DownloadKind.LIST, tmp_path)
    assert len(requests_to(nvr_sim, "httpdl.cgi")) == 3
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(max_downloads=1, download_bytes_per_second=4_000_000)],
    ids=["one-slot"],
)
async def test_status_busy_then_free(
    make_client: ClientMaker, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    first, second = make_client(), make_client(download_retry_delays=(0.3, 0.6, 1.2, 2.4))
    slow = asyncio.create_task(
        first.download(1, minute(6), minute(2), DownloadKind.MP4, tmp_path / "a")
    )
    await asyncio.sleep(0.3)
    files = await second.download(2, minute(20), minute(5), DownloadKind.LIST, tmp_path / "b")
    assert files
    assert await slow
    statuses = [r for r in requests_to(nvr_sim, "httpdl.cgi") if dict(r.query)["CAM"] == "2"]
    assert len(statuses) >= 2


@pytest.mark.parametrize(
    "name", ["../../escape", "..\\..\\escape", "/etc/escape", "sub/dir/escape", ".escape"]
)
async def test_device_file_names_stay_in_the_folder(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "target"
    nvr_sim.faults.download_file_name = name
    files = await client.download(1, minute(20), minute(5), DownloadKind.LIST, folder)
    assert [f.path for f in files] == [folder / "escape.n3n"]
    assert listing(tmp_path) == ["target"]
    assert listing(folder) == ["escape.n3n"]


async def test_existing_files_are_not_overwritten(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    nvr_sim.faults.download_file_name = "clip"
    (tmp_path / "clip.n3n").write_bytes(b"mine")
    (tmp_path / "clip.tmp").write_bytes(b"mine too")
    nvr_sim.faults.download_split_files = 2
    files = await client.download(1, minute(20), minute(5), DownloadKind.LIST, tmp_path)
    assert [f.path.name for f in files] == ["clip-1.n3n", "clip-2.n3n"]
    assert (tmp_path / "clip.n3n").read_bytes() == b"mine"
    assert (tmp_path / "clip.tmp").read_bytes() == b"mine too"
    assert listing(tmp_path) == ["clip-1.n3n", "clip-2.n3n", "clip.n3n", "clip.tmp"]


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(download_bytes_per_second=3_000_000)],
    ids=["slow"],
)
async def test_at_most_two_downloads_at_once(
    make_client: ClientMaker, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    # No retries: if a third request got through, the NVR's status 3 would fail it.
    client = make_client(download_retry_delays=())
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, nvr_sim.active_downloads)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    results = await asyncio.gather(
        *(
            client.download(cam, minute(6), minute(2), DownloadKind.MP4, tmp_path / str(cam))
            for cam in (1, 2, 3)
        )
    )
    watcher.cancel()
    assert peak == 2
    assert all(len(files) == 1 for files in results)


async def test_no_partial_file_after_a_broken_transfer(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    nvr_sim.faults.drop_after_bytes = 300_000
    with pytest.raises(IproConnectionError):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []


async def test_later_failure_removes_earlier_files(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    task = asyncio.create_task(
        client.download(1, minute(100), minute(10), DownloadKind.LIST, tmp_path)
    )
    # The first hour is done (its UID logged out): fail the second one.
    await until(lambda: len(requests_to(nvr_sim, "logout.cgi")) == 1)
    assert len(await asyncio.to_thread(listing, tmp_path)) == 2
    nvr_sim.faults.fail_path("httpdl.cgi", 500)
    with pytest.raises(IproProtocolError, match=r"refused httpdl\.cgi"):
        await task
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(download_bytes_per_second=2_000_000)], ids=["slow"]
)
async def test_cancelled_download_leaves_nothing(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    task = asyncio.create_task(
        client.download(1, minute(30), minute(5), DownloadKind.MP4, tmp_path)
    )
    for _ in range(1000):
        if await asyncio.to_thread(listing, tmp_path):
            break
        await asyncio.sleep(0.01)
    assert nvr_sim.active_downloads == 1, (task, await asyncio.to_thread(listing, tmp_path))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert listing(tmp_path) == []


async def test_download_stream(client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path) -> None:
    start, end = minute(15), minute(5)
    async with client.download_stream(1, start, end, DownloadKind.MP4) as chunks:
        streamed = b"".join([chunk async for chunk in chunks])
    assert streamed[4:8] == b"ftyp"
    files = await client.download(1, start, end, DownloadKind.MP4, tmp_path)
    assert files[0].path.read_bytes() == streamed
    assert len(queries(nvr_sim, "logout.cgi")) == 2


async def test_download_stream_errors_before_the_first_byte(client: IproClient) -> None:
    with pytest.raises(IproNoRecordingError):
        async with client.download_stream(9, minute(15), minute(5), DownloadKind.MP4):
            pass
    with pytest.raises(ValueError, match="one hour"):
        client.download_stream(1, minute(90), minute(5), DownloadKind.MP4)


def test_split_windows() -> None:
    start = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    assert split_windows(start, start + timedelta(minutes=30)) == [
        (start.replace(second=0), start.replace(minute=31, second=0))
    ]
    windows = split_windows(start, start + timedelta(hours=2, minutes=5))
    assert [b - a for a, b in windows] == [timedelta(hours=1)] * 2 + [timedelta(minutes=6)]
    with pytest.raises(ValueError, match="after"):
        split_windows(start, start)
    with pytest.raises(ValueError, match="aware"):
        split_windows(start.replace(tzinfo=None), start)


def test_file_names_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source: Path, target: Path) -> None:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "clip.mp4").write_bytes(b"mine")
    temp = tmp_path / "clip.tmp"
    temp.write_bytes(b"new")
    placed = downloads._place(temp, tmp_path, "clip.mp4")
    assert placed == tmp_path / "clip-1.mp4"
    assert placed.read_bytes() == b"new"
    assert listing(tmp_path) == ["clip-1.mp4", "clip.mp4"]


def test_too_many_files_of_one_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "MAX_NAME_SUFFIX", 3)
    for name in ("clip.mp4", "clip-1.mp4", "clip-2.mp4", "clip.tmp", "clip-1.tmp", "clip-2.tmp"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(IproProtocolError, match="Too many files"):
        downloads._create_exclusive(tmp_path, "clip.tmp")
    other = tmp_path / "other"
    other.write_bytes(b"x")
    with pytest.raises(IproProtocolError, match="Too many files"):
        downloads._place(other, tmp_path, "clip.mp4")

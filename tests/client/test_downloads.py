"""Downloads from the simulator: hourly split, files, statuses, names, limits, cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
import hashlib
import os
from pathlib import Path
import threading
import tracemalloc
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest

from custom_components.ipro_nvr.aioipro import (
    DownloadKind,
    IproAuthError,
    IproBusyError,
    IproCodecError,
    IproConnectionError,
    IproError,
    IproNoFreeSessionError,
    IproNoRecordingError,
    IproProtocolError,
    IproTimeoutError,
    downloads,
)
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.downloads import split_windows
from custom_components.ipro_nvr.aioipro.multipart import MAX_PART_SIZE, READ_SIZE
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL, ClientMaker, queries, requests_to
from .download_answers import CLIP, CLOSE, END_PART, data_part, names, raw_part
from .sim_process import simulator_process

MIB = 1024 * 1024


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


class _Peak:
    most = 0


@asynccontextmanager
async def peak_downloads(nvr_sim: NvrSimulator) -> AsyncIterator[_Peak]:
    """Watch the simulator's running downloads; ``most`` is the peak seen meanwhile."""
    peak = _Peak()

    async def watch() -> None:
        while True:
            peak.most = max(peak.most, nvr_sim.active_downloads)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        yield peak
    finally:
        watcher.cancel()


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
    async with peak_downloads(nvr_sim) as peak:
        results = await asyncio.gather(
            *(
                client.download(cam, minute(6), minute(2), DownloadKind.MP4, tmp_path / str(cam))
                for cam in (1, 2, 3)
            )
        )
    assert peak.most == 2
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


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"", id="empty"),
        pytest.param(CLOSE, id="close-delimiter-only"),
        pytest.param(b"<HTML>\r\nERROR\r\n</HTML>\r\n", id="not-multipart"),
        pytest.param(data_part().replace(b"myboundary", b"otherboundary"), id="other-boundary"),
        pytest.param(raw_part(names("")) + CLOSE, id="status-0-without-a-file"),
        pytest.param(raw_part(names("", status="1x")) + CLOSE, id="status-garbage"),
        pytest.param(raw_part(names("", status="7")) + CLOSE, id="status-unknown"),
        pytest.param(raw_part(["Content-type: video/mp4"], CLIP) + CLOSE, id="no-download-headers"),
        pytest.param(
            data_part() + raw_part(names("", status="1")) + CLOSE, id="status-1-after-data"
        ),
        pytest.param(
            data_part() + raw_part(names("other.tmp"), b"more") + CLOSE,
            id="switched-files-unnamed",
        ),
        pytest.param(
            raw_part(names("clip.tmp", "old.mp4"), CLIP) + END_PART + CLOSE,
            id="closes-a-file-never-opened",
        ),
        pytest.param(data_part() + CLOSE, id="cut-between-parts"),
        pytest.param(data_part()[:-100], id="cut-inside-a-part"),
    ],
)
async def test_answers_without_a_verdict_are_protocol_errors(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path, answer: bytes
) -> None:
    # Only a status 1 the NVR sent means "no recording"; anything else it did not say.
    nvr_sim.faults.download_answer = answer
    with pytest.raises(IproProtocolError):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []
    assert len(requests_to(nvr_sim, "httpdl.cgi")) == 1
    assert nvr_sim.sessions.count == 0


async def test_random_garbage_is_a_protocol_error(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    nvr_sim.faults.garbage(path="httpdl.cgi")
    with pytest.raises(IproProtocolError, match="did not say whether anything is recorded"):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []


async def test_junk_without_a_boundary_costs_bounded_memory(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    nvr_sim.faults.download_answer = os.urandom(48 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(IproProtocolError, match="without its boundary"):
            await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # the reader gives up at its 4 MiB bound
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(data_part(CLIP[:100]) + data_part(CLIP[100:]) + END_PART + CLOSE, id="spec"),
        pytest.param(
            data_part(CLIP[:100]) + raw_part(names("", "clip.mp4"), CLIP[100:]) + CLOSE,
            id="last-bytes-in-the-end-part",
        ),
        pytest.param(
            raw_part(
                [
                    "content-type:application/octet-stream",
                    'x-temp-filename:filename="clip.tmp"',
                    "x-prev-filename:",
                    "x-recdata-status:0",
                ],
                CLIP,
                eol=b"\n",
            )
            + raw_part(['x-temp-filename:""', "x-prev-filename:clip.mp4"], eol=b"\n"),
            id="lf-lower-case-no-length-no-close",
        ),
        pytest.param(
            raw_part(
                [
                    "CONTENT-TYPE :  application/octet-stream",
                    f"CONTENT-LENGTH:\t{len(CLIP)} ",
                    'X-TEMP-FILENAME :\tfilename\t=\t"clip.tmp"  ',
                    'X-PREV-FILENAME: filename=""',
                    "X-RECDATA-SATUS:\t0\t",
                ],
                CLIP,
                preamble=b"This is a multi-part message.\r\n",
            )
            + raw_part(['X-Temp-FileName: filename = ""', 'X-Prev-Filename: "clip.mp4"'])
            + CLOSE,
            id="upper-case-tabs-preamble",
        ),
    ],
)
async def test_liberal_answers_are_read(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path, answer: bytes
) -> None:
    nvr_sim.config.download_content_type = "multipart/form-data; boundary=--myboundary"
    nvr_sim.faults.download_answer = answer
    files = await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert [(f.path.name, f.size) for f in files] == [("clip.mp4", len(CLIP))]
    assert files[0].path.read_bytes() == CLIP
    assert listing(tmp_path) == ["clip.mp4"]


@pytest.mark.parametrize(
    "verdict",
    [("1", IproNoRecordingError), ("2", IproCodecError), ("3", IproBusyError)],
    ids=["no-recording", "codec", "busy"],
)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(["x-recdata-satus:\t{status} "], id="status-alone"),
        pytest.param(['X-Temp-FileName: ""', "X-RecData-Status:{status}"], id="other-spelling"),
    ],
)
async def test_liberal_status_answers(
    make_client: ClientMaker,
    nvr_sim: NvrSimulator,
    tmp_path: Path,
    headers: list[str],
    verdict: tuple[str, type[IproError]],
) -> None:
    status, error = verdict
    client = make_client(download_retry_delays=(0.01,))
    lines = [line.format(status=status) for line in headers]
    nvr_sim.faults.download_answer = raw_part(lines, eol=b"\n") + CLOSE
    with pytest.raises(error):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []
    assert len(requests_to(nvr_sim, "httpdl.cgi")) == (2 if status == "3" else 1)


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(download_bytes_per_second=1000.0, download_part_size=1500)],
    ids=["stalling"],
)
async def test_stalled_download_times_out(make_client: ClientMaker, tmp_path: Path) -> None:
    # The NVR sends a part, then nothing for 1.5 s: longer than the client waits.
    client = make_client(request_timeout=0.6)
    with pytest.raises(IproTimeoutError, match="stopped sending"):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []


async def test_http_503_is_retried_then_busy(
    make_client: ClientMaker, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    client = make_client(download_retry_delays=(0.05, 0.1))
    nvr_sim.faults.fail_path("httpdl.cgi", 503)
    with pytest.raises(IproBusyError, match="HTTP 503"):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert [r.status for r in requests_to(nvr_sim, "httpdl.cgi")] == [503] * 3
    assert nvr_sim.sessions.count == 0
    assert listing(tmp_path) == []


async def test_http_503_then_free(
    make_client: ClientMaker, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    client = make_client(download_retry_delays=(0.3,))
    nvr_sim.faults.fail_path("httpdl.cgi", 503)
    task = asyncio.create_task(
        client.download(1, minute(20), minute(5), DownloadKind.LIST, tmp_path)
    )
    await until(lambda: bool(requests_to(nvr_sim, "httpdl.cgi")))
    nvr_sim.faults.reset()
    assert len(await task) == 1
    assert [r.status for r in requests_to(nvr_sim, "httpdl.cgi")] == [503, 200]


def refuse_the_download(sim: NvrSimulator) -> None:
    sim.faults.fail_path("httpdl.cgi", 401)


def no_free_uid(sim: NvrSimulator) -> None:
    sim.faults.no_free_uid = True


@pytest.mark.parametrize(
    ("fault", "error"),
    [(refuse_the_download, IproAuthError), (no_free_uid, IproNoFreeSessionError)],
)
async def test_refusals_are_not_retried(
    make_client: ClientMaker,
    nvr_sim: NvrSimulator,
    tmp_path: Path,
    fault: Callable[[NvrSimulator], None],
    error: type[IproError],
) -> None:
    client = make_client(download_retry_delays=(0.05, 0.1))
    fault(nvr_sim)
    with pytest.raises(error):
        await client.download(1, minute(20), minute(5), DownloadKind.MP4, tmp_path)
    assert len(requests_to(nvr_sim, "httpdl.cgi")) <= 1
    assert nvr_sim.sessions.count == 0
    assert listing(tmp_path) == []


async def test_cut_after_a_finished_file_removes_it(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    # Three files of one part each: the first is complete when the connection breaks.
    nvr_sim.faults.download_split_files = 3
    nvr_sim.faults.drop_after_parts = 2
    with pytest.raises(IproConnectionError):
        await client.download(1, minute(20), minute(5), DownloadKind.LIST, tmp_path)
    assert listing(tmp_path) == []


async def read_stream(client: IproClient, received: list[bytes]) -> None:
    """Read a streamed download of camera 1 into ``received``."""
    async with client.download_stream(1, minute(15), minute(5), DownloadKind.MP4) as chunks:
        async for chunk in chunks:
            received.append(chunk)  # noqa: PERF401 - keep what came before an error


async def test_download_stream_cut_short_is_an_error(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    # An HTTP view must not hand out a truncated clip as if it were whole.
    nvr_sim.faults.download_answer = data_part() + CLOSE
    received: list[bytes] = []
    with pytest.raises(IproProtocolError, match="ended before its last file"):
        await read_stream(client, received)
    assert received == [CLIP]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"", id="empty"),
        pytest.param(raw_part(names("")) + CLOSE, id="status-0-without-a-file"),
        pytest.param(data_part() + data_part(status="1") + CLOSE, id="status-1-after-data"),
    ],
)
async def test_download_stream_without_a_verdict(
    client: IproClient, nvr_sim: NvrSimulator, answer: bytes
) -> None:
    nvr_sim.faults.download_answer = answer
    with pytest.raises(IproProtocolError):
        await read_stream(client, [])


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(download_bytes_per_second=3_000_000)], ids=["slow"]
)
async def test_a_streamed_download_holds_one_of_the_two_slots(
    make_client: ClientMaker, nvr_sim: NvrSimulator, tmp_path: Path
) -> None:
    # No retries: if a download ran beside the stream and another, the NVR's status 3
    # would fail it.
    client = make_client(download_retry_delays=())
    async with (
        peak_downloads(nvr_sim) as peak,
        client.download_stream(1, minute(6), minute(2), DownloadKind.MP4) as chunks,
    ):
        assert (await anext(chunks))[4:8] == b"ftyp"
        results = await asyncio.gather(
            *(
                client.download(cam, minute(6), minute(2), DownloadKind.MP4, tmp_path / str(cam))
                for cam in (2, 3)
            )
        )
    assert peak.most == 2
    assert all(len(files) == 1 for files in results)


@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "delimited"])
async def test_files_sent_in_one_part_each(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path, sized: bool
) -> None:
    # Two 10-minute files of about 6.5 MiB, each in one part: over the live reader's bound.
    start, end = minute(25), minute(5)
    nvr_sim.faults.download_split_files = 2
    expected = await client.download(1, start, end, DownloadKind.MP4, tmp_path / "parts")
    nvr_sim.config.download_part_size = 0
    nvr_sim.config.download_content_length = sized
    files = await client.download(1, start, end, DownloadKind.MP4, tmp_path / "whole")
    assert [f.path.name for f in files] == [f.path.name for f in expected]
    assert [f.size for f in files] == [f.size for f in expected]
    assert min(f.size for f in files) > MAX_PART_SIZE
    assert [f.path.read_bytes() for f in files] == [f.path.read_bytes() for f in expected]
    async with client.download_stream(1, start, end, DownloadKind.MP4) as chunks:
        streamed = [chunk async for chunk in chunks]
    assert b"".join(streamed) == b"".join(f.path.read_bytes() for f in expected)
    assert max(map(len, streamed)) <= READ_SIZE


def digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


HD: dict[str, Any] = {"width": 1280, "height": 720, "download_file_seconds": 3600.0}
"""50 minutes of this recording is one MP4 file of about 70 MiB."""


@pytest.mark.parametrize("sim_config", [SimulatorConfig(**HD)], ids=["hd"])
@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "delimited"])
async def test_a_64_mib_part_costs_a_chunk_not_its_size(
    client: IproClient, http_session: aiohttp.ClientSession, tmp_path: Path, sized: bool
) -> None:
    start, end = minute(55), minute(5)
    # The file as the simulator sends it in 64 KiB parts (its recording is the same in
    # every process).
    [expected] = await client.download(1, start, end, DownloadKind.MP4, tmp_path / "parts")
    assert expected.size > 64 * MIB
    reference = await asyncio.to_thread(digest, expected.path)
    # The same file in one part, from a simulator whose memory is not traced here.
    async with simulator_process(**HD, download_part_size=0, download_content_length=sized) as port:
        other = IproClient(
            http_session,
            "127.0.0.1",
            port,
            username=SimulatorConfig.username,
            password=SimulatorConfig.password,
            pacer=Pacer(command_interval=COMMAND_INTERVAL, control_interval=CONTROL_INTERVAL),
        )
        streamed = hashlib.sha256()
        tracemalloc.start()
        try:
            [file] = await other.download(1, start, end, DownloadKind.MP4, tmp_path / "whole")
            _, file_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            async with other.download_stream(1, start, end, DownloadKind.MP4) as chunks:
                async for chunk in chunks:
                    streamed.update(chunk)
            _, stream_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await other.close()
    assert await asyncio.to_thread(digest, file.path) == reference
    assert streamed.hexdigest() == reference
    # A few reads and chunks (about 2 MiB measured), not the part's 70 MiB.
    assert file_peak < 8 * MIB
    assert stream_peak < 8 * MIB


@pytest.mark.parametrize("step", ["_create_exclusive", "_place"])
async def test_download_cancelled_while_a_file_operation_runs_leaves_nothing(
    client: IproClient, nvr_sim: NvrSimulator, tmp_path: Path, step: str
) -> None:
    """A cancel cannot stop a file operation already running in its thread.

    The writer must still learn what that operation created (a temp file, or the finished
    file under its name) and remove it; it once lost both when the cancel came first.
    """
    done, release = threading.Event(), threading.Event()
    operation = getattr(downloads, step)

    def held(*args: Any) -> Any:
        result = operation(*args)
        done.set()
        release.wait(5)
        return result

    with patch.object(downloads, step, held):
        task = asyncio.create_task(
            client.download(1, minute(15), minute(5), DownloadKind.MP4, tmp_path)
        )
        assert await asyncio.to_thread(done.wait, 5)
        assert listing(tmp_path)
        task.cancel()
        await asyncio.sleep(0.05)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert listing(tmp_path) == []

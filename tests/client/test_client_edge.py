"""Answers the simulator never gives: a scripted NVR on loopback for the client's edges.

Each test scripts the answer of one CGI (cut bodies, oversized text, an unknown download
status, a stream that ends without its last part). Everything else answers like the
spec's examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
import re

import aiohttp
from aiohttp import web
import pytest

from custom_components.ipro_nvr.aioipro import (
    DownloadKind,
    IproConnectionError,
    IproProtocolError,
    IproSessionLostError,
)
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.pacer import Pacer

LOGIN_PAGE = (
    "<html>\r\n<head>\r\n<title>Network Disk Recorder WJ-NX400</title>\r\n</head>\r\n"
    '<body>\r\n<script>this.location.href = "./hdrctl.cgi?UID=13313&HTML=caindex.html";'
    "</script>\r\n</body>\r\n</html>\r\n"
)
BOUNDARY = "myboundary"
type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeNvr:
    """A loopback HTTP server answering each CGI with a scripted handler."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {"dlogin.cgi": self.login}
        self.paths: list[str] = []
        self.port = 0

    async def login(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=LOGIN_PAGE, content_type="text/html")

    async def ok(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="<HTML>\r\nOK\r\n</HTML>\r\n", content_type="text/html")

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        cgi = request.path.rsplit("/", 1)[-1]
        self.paths.append(cgi)
        return await self.handlers.get(cgi, self.ok)(request)


def part(headers: dict[str, str], body: bytes) -> bytes:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"--{BOUNDARY}\r\n{lines}Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n"


def download_part(temp: str, prev: str, status: int, body: bytes) -> bytes:
    return part(
        {
            "Content-type": "application/octet-stream",
            "X-Temp-FileName": f'filename = "{temp}"',
            "X-Prev-Filename": f'filename = "{prev}"',
            "X-RecData-Status": str(status),
        },
        body,
    )


def multipart(*parts: bytes, end: bool = True) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if end else b"")
        return web.Response(
            body=body,
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"},
        )

    return handler


def fixed(body: bytes, content_type: str = "application/octet-stream") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handler


async def cut_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    response.content_type = "text/html"
    await response.prepare(request)
    await response.write(b"FILENAME=as_eventlog.html\r\n")
    assert request.transport is not None
    request.transport.close()
    return response


async def empty_binary(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_type = "application/octet-stream"
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write_eof()
    return response


@pytest.fixture
async def fake_nvr(socket_enabled: None) -> AsyncGenerator[FakeNvr]:
    nvr = FakeNvr()
    app = web.Application()
    app.router.add_get("/cgi-bin/{cgi}", nvr.dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    nvr.port = runner.addresses[0][1]
    yield nvr
    await runner.cleanup()


@pytest.fixture
async def edge_client(fake_nvr: FakeNvr) -> AsyncGenerator[IproClient]:
    async with aiohttp.ClientSession() as session:
        client = IproClient(
            session,
            "127.0.0.1",
            fake_nvr.port,
            username="ADMIN",
            password="12345",
            pacer=Pacer(command_interval=0.0, control_interval=0.0),
            download_retry_delays=(),
        )
        yield client
        await client.close()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def window() -> tuple[datetime, datetime]:
    end = datetime.now(UTC) - timedelta(minutes=5)
    return end - timedelta(minutes=10), end


async def test_text_answer_too_large(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    fake_nvr.handlers["loglist.cgi"] = fixed(b"x" * (5 * 1024 * 1024), "text/html")
    with pytest.raises(IproProtocolError, match="larger than"):
        await edge_client.get_event_log()


async def test_body_cut_short(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    fake_nvr.handlers["loglist.cgi"] = cut_body
    with pytest.raises(IproConnectionError, match=re.escape("broke during loglist.cgi")):
        await edge_client.get_event_log()


async def test_login_page_without_uid(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    fake_nvr.handlers["dlogin.cgi"] = fixed(b"<html><title>x</title></html>", "text/html")
    with pytest.raises(IproProtocolError, match="session ID"):
        await edge_client.login()


async def test_empty_answer_without_uid(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    fake_nvr.handlers["recordedtime.cgi"] = fixed(b"", "text/plain")
    with pytest.raises(IproProtocolError, match=re.escape("no data for recordedtime.cgi")):
        await edge_client.get_hdd_info()


async def test_playback_data_answers(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    fake_nvr.handlers["as_getinfo.cgi"] = fixed(b"CAM_CONNECT_01CH=1\r\n", "text/html")
    async with edge_client.playback() as playback:
        await playback.mask([1])
        fake_nvr.handlers["camera.cgi"] = fixed(b"NOT A GOP", "text/plain")
        with pytest.raises(IproProtocolError, match="text instead of data"):
            await playback.gop(1)
        fake_nvr.handlers["camera.cgi"] = fixed(b"")
        with pytest.raises(IproSessionLostError, match="empty answer"):
            await playback.gop(1)
        fake_nvr.handlers["camera.cgi"] = empty_binary
        with pytest.raises(IproSessionLostError, match="empty answer"):
            await playback.gop(1)


async def test_live_jpeg_skips_bad_parts(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 16 + b"\xff\xd9"
    fake_nvr.handlers["push.cgi"] = multipart(
        part({"Content-type": "image/jpeg"}, b"garbage"),
        part({"Content-type": "image/jpeg"}, jpeg),
    )
    async with edge_client.live_jpeg(1) as frames:
        received = [frame async for frame in frames]
        assert frames.skipped_parts == 1
    assert [frame.jpeg for frame in received] == [jpeg]


async def test_audio_part_in_the_video_answer(edge_client: IproClient, fake_nvr: FakeNvr) -> None:
    fake_nvr.handlers["push.cgi"] = multipart(
        part({"Content-type": "audio/48kaac-lc"}, b"\x00\x21\x10"),
    )
    async with edge_client.live_video(1) as stream:
        assert [item async for item in stream] == []
        # Before the first keyframe audio is dropped too: nothing to play it against.
        assert stream.dropped == 1


async def test_download_unknown_status(
    edge_client: IproClient, fake_nvr: FakeNvr, tmp_path: Path
) -> None:
    fake_nvr.handlers["httpdl.cgi"] = multipart(download_part("", "", 7, b""))
    with pytest.raises(IproProtocolError, match="unknown download status 7"):
        await edge_client.download(1, *window(), DownloadKind.MP4, tmp_path)


async def test_download_with_no_part(
    edge_client: IproClient, fake_nvr: FakeNvr, tmp_path: Path
) -> None:
    # No part, so no status either: that is not the NVR saying "nothing recorded".
    fake_nvr.handlers["httpdl.cgi"] = multipart()
    with pytest.raises(IproProtocolError, match="without any download part"):
        await edge_client.download(1, *window(), DownloadKind.MP4, tmp_path)


async def test_download_ending_inside_a_file(
    edge_client: IproClient, fake_nvr: FakeNvr, tmp_path: Path
) -> None:
    fake_nvr.handlers["httpdl.cgi"] = multipart(download_part("a.tmp", "", 0, b"data"))
    with pytest.raises(IproProtocolError, match="ended before its last file"):
        await edge_client.download(1, *window(), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []
    # A stream cannot take back what it passed on, but it must not end as if complete.
    received: list[bytes] = []

    async def receive() -> None:
        async with edge_client.download_stream(1, *window(), DownloadKind.MP4) as chunks:
            async for chunk in chunks:
                received.append(chunk)  # noqa: PERF401 - what came before the error

    with pytest.raises(IproProtocolError, match="ended before its last file"):
        await receive()
    assert received == [b"data"]


async def test_download_last_part_carries_data(
    edge_client: IproClient, fake_nvr: FakeNvr, tmp_path: Path
) -> None:
    # Data in the closing part belongs to the file it closes.
    fake_nvr.handlers["httpdl.cgi"] = multipart(
        download_part("a.tmp", "", 0, b"one"),
        download_part("", "a.mp4", 0, b"two"),
    )
    files = await edge_client.download(1, *window(), DownloadKind.MP4, tmp_path)
    assert [(f.path.name, f.path.read_bytes()) for f in files] == [("a.mp4", b"onetwo")]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            [download_part("a.tmp", "", 0, b"x"), download_part("b.tmp", "", 0, b"y")],
            "without naming",
        ),
        ([download_part("", "a.mp4", 0, b"")], "without sending a file"),
        ([download_part("", "a.mp4", 0, b"x")], "without sending a file"),
    ],
    ids=["switch-without-name", "close-unopened", "data-outside"],
)
async def test_download_protocol_violations(
    edge_client: IproClient,
    fake_nvr: FakeNvr,
    tmp_path: Path,
    parts: list[bytes],
    message: str,
) -> None:
    fake_nvr.handlers["httpdl.cgi"] = multipart(*parts)
    with pytest.raises(IproProtocolError, match=message):
        await edge_client.download(1, *window(), DownloadKind.MP4, tmp_path)
    assert listing(tmp_path) == []


async def test_broken_audio_leaves_the_video(
    edge_client: IproClient, fake_nvr: FakeNvr, caplog: pytest.LogCaptureFixture
) -> None:
    async def push(request: web.Request) -> web.StreamResponse:
        if request.query["CMD"] == "STOP":
            return await fake_nvr.ok(request)
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )
        await response.prepare(request)
        if request.query["COMP"] == "AUDIO":
            await response.write(f"--{BOUNDARY}\r\nContent-Length: 99999999999\r\n\r\n".encode())
        else:
            await asyncio.sleep(0.3)
            await response.write(f"--{BOUNDARY}--\r\n".encode())
        return response

    fake_nvr.handlers["push.cgi"] = push
    async with edge_client.live_video(1, audio=True) as stream:
        assert [item async for item in stream] == []
    assert "Camera 1: the audio stream ended" in caplog.text

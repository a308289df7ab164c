"""The bounded multipart reader, over fake readers and over a real loopback HTTP stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ipro_nvr.aioipro import (
    IproProtocolError,
    Part,
    boundary_from_content_type,
    iter_parts,
)
from custom_components.ipro_nvr.aioipro.multipart import MAX_HEADER_SIZE

from .parser_builders import multipart


class ChunkReader:
    """Hands out the data in chunks of the given sizes (cycled), like a socket would."""

    def __init__(self, data: bytes, sizes: Sequence[int] = (1 << 20,)) -> None:
        self.data = data
        self.sizes = sizes
        self.pos = 0
        self.calls = 0

    async def read(self, n: int = -1) -> bytes:
        size = min(n, self.sizes[self.calls % len(self.sizes)])
        self.calls += 1
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk


async def collect(data: bytes, sizes: Sequence[int] = (1 << 20,), **kwargs: int) -> list[Part]:
    return [part async for part in iter_parts(ChunkReader(data, sizes), "myboundary", **kwargs)]


NVR_PARTS = [
    ({"Content-type": "application/octet-stream", "Content-Length": "5"}, b"\x80\x62abc"[:5]),
    ({"Content-Type": "image/jpeg", "Content-Length": "4"}, b"\xff\xd8\xff\xd9"),
    ({"Content-Type": "audio/48kaac-lc", "Content-Length": "0"}, b""),
]


@pytest.mark.parametrize("sizes", [(1 << 20,), (1,), (3, 7, 2), (13,)])
async def test_nvr_parts_with_content_length(sizes: Sequence[int]) -> None:
    parts = await collect(multipart(NVR_PARTS), sizes)
    assert [p.body for p in parts] == [body for _, body in NVR_PARTS]
    assert parts[0].headers["content-type"] == "application/octet-stream"
    assert parts[0].content_type == "application/octet-stream"
    assert parts[1].headers["CONTENT-LENGTH"] == "4"
    assert parts[2].content_type == "audio/48kaac-lc"


@pytest.mark.parametrize("sizes", [(1 << 20,), (1,), (5, 11)])
async def test_parts_without_content_length(sizes: Sequence[int]) -> None:
    data = (
        b"preamble\r\n--myboundary\r\nContent-Type: image/jpeg\r\n\r\nJPEG-1\r\n"
        b"--myboundary\nContent-Type: image/jpeg\n\nJPEG-2\n--myboundary  \r\n"
        b"Content-Type: image/jpeg\r\n\r\nJPEG-3--myboundary\r\n"
        b"X: 1\r\n\r\nhas --myboundaryX inside\r\n--myboundary--\r\nepilogue"
    )
    parts = await collect(data, sizes)
    assert [p.body for p in parts] == [
        b"JPEG-1",
        b"JPEG-2",
        b"JPEG-3",
        b"has --myboundaryX inside",
    ]
    assert parts[3].content_type == ""


async def test_junk_after_a_counted_body_is_skipped() -> None:
    data = (
        b"--myboundary\r\nContent-Length: 2\r\n\r\nab\r\n\r\nextra junk\r\n"
        b"--myboundary\r\nContent-Length: 1\r\n\r\nc"
    )
    assert [p.body for p in await collect(data)] == [b"ab", b"c"]


async def test_empty_streams_end_quietly() -> None:
    assert await collect(b"") == []
    assert await collect(b"no boundary at all") == []
    assert await collect(b"--myboundary") == []
    assert await collect(b"--myboundary\r\n") == []
    assert await collect(b"--myboundary\r\n\r\n") == []
    assert await collect(b"--myboundary\r\n\r\n\r\n  ") == []
    assert await collect(b"--myboundary--") == []


async def test_part_without_headers() -> None:
    parts = await collect(b"--myboundary\r\n\r\nbody\r\n--myboundary--\r\n")
    assert [p.body for p in parts] == [b"body"]
    assert len(parts[0].headers) == 0


async def test_oversized_content_length_is_rejected_before_reading() -> None:
    reader = ChunkReader(b"--myboundary\r\nContent-Length: 4194305\r\n\r\n")
    with pytest.raises(IproProtocolError, match="over the limit"):
        await anext(iter_parts(reader, "myboundary"))
    with pytest.raises(IproProtocolError, match="over the limit"):
        await collect(b"--myboundary\r\nContent-Length: 11\r\n\r\n", max_part_size=10)


@pytest.mark.parametrize("sizes", [(1 << 20,), (4,)])
async def test_body_without_length_is_bounded(sizes: Sequence[int]) -> None:
    data = b"--myboundary\r\n\r\n" + b"x" * 100 + b"\r\n--myboundary\r\n"
    with pytest.raises(IproProtocolError, match="over the limit"):
        await collect(data, sizes, max_part_size=50)
    assert [len(p.body) for p in await collect(data, sizes, max_part_size=100)] == [100]


async def test_stream_without_boundary_is_bounded() -> None:
    with pytest.raises(IproProtocolError, match="without its boundary"):
        await collect(b"x" * 200, (16,), max_part_size=64)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"--myboundary\r\nContent-Length: 10\r\n\r\nshort", "ended inside a part"),
        (b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\nno end", "ended inside a part"),
        (b"--myboundary\r\nContent-Type: image/jp", "inside part headers"),
        (b"--myboundary\r\nContent-Type: a\r\n", "inside part headers"),
        (b"--myboundary\r\nnot a header\r\n\r\n", "malformed part header"),
        (b"--myboundary\r\n: empty name\r\n\r\n", "malformed part header"),
        (b"--myboundary\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"--myboundary\r\nContent-Length: 1e3\r\n\r\n", "invalid Content-Length"),
    ],
)
async def test_truncated_and_malformed(data: bytes, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        await collect(data, (3,))


async def test_header_and_delimiter_lines_are_bounded() -> None:
    huge_header = b"--myboundary\r\nX: " + b"a" * (MAX_HEADER_SIZE + 10)
    with pytest.raises(IproProtocolError, match="over 16 KiB"):
        await collect(huge_header, (4096,))
    huge_line = b"--myboundary " + b" " * (MAX_HEADER_SIZE + 10)
    with pytest.raises(IproProtocolError, match="overlong multipart delimiter"):
        await collect(huge_line, (4096,))


async def test_stopping_early() -> None:
    parts = iter_parts(ChunkReader(multipart(NVR_PARTS)), "myboundary")
    first = await anext(parts)
    await parts.aclose()
    assert first.body == NVR_PARTS[0][1]


async def test_asyncio_stream_reader() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(multipart(NVR_PARTS, boundary="other"))
    reader.feed_eof()
    bodies = [p.body async for p in iter_parts(reader, "other")]
    assert bodies == [body for _, body in NVR_PARTS]


@pytest.mark.usefixtures("socket_enabled")  # loopback HTTP only
async def test_real_http_stream_over_loopback() -> None:
    """aiohttp's StreamReader from a real response, written in awkward pieces."""
    bodies = [bytes([n]) * (n * 997 % 5000) for n in range(40)]
    data = multipart(
        ({"Content-type": "application/octet-stream", "Content-Length": str(len(b))}, b)
        for b in bodies
    )

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=--myboundary"}
        )
        await response.prepare(request)
        for start in range(0, len(data), 1777):
            await response.write(data[start : start + 1777])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/stream", handler)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/stream")) as response,
    ):
        boundary = boundary_from_content_type(response.headers["Content-Type"])
        received = [p.body async for p in iter_parts(response.content, boundary)]
    assert boundary == "myboundary"
    assert received == bodies


@pytest.mark.parametrize(
    ("value", "boundary"),
    [
        (None, "myboundary"),
        ("", "myboundary"),
        ("multipart/x-mixed-replace", "myboundary"),
        ("multipart/x-mixed-replace; boundary=abc", "abc"),
        ('multipart/mixed; charset=x; Boundary="a b"', "a b"),
        ("multipart/mixed;boundary=--myboundary", "myboundary"),
        ("multipart/mixed; boundary=", "myboundary"),
    ],
)
def test_boundary_from_content_type(value: str | None, boundary: str) -> None:
    assert boundary_from_content_type(value) == boundary


async def _parts_of(data: bytes, sizes: Sequence[int]) -> AsyncIterator[Part]:
    async for part in iter_parts(ChunkReader(data, sizes), "myboundary", max_part_size=4096):
        yield part


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=300), max_size=8),
    sizes=st.lists(st.integers(1, 64), min_size=1, max_size=4),
)
def test_round_trip(bodies: list[bytes], sizes: list[int]) -> None:
    data = multipart(({"Content-Length": str(len(b))}, b) for b in bodies)

    async def run() -> list[bytes]:
        return [p.body async for p in _parts_of(data, sizes)]

    assert asyncio.run(run()) == bodies


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), sizes=st.lists(st.integers(1, 64), min_size=1, max_size=3))
def test_garbage_never_raises_anything_else(data: bytes, sizes: list[int]) -> None:
    async def run() -> None:
        try:
            async for part in _parts_of(b"--myboundary\r\n" + data, sizes):
                assert len(part.body) <= 4096
        except IproProtocolError:
            pass

    asyncio.run(run())

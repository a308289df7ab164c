"""The multipart readers, over fake readers and over a real loopback HTTP stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
import contextlib
import hashlib
import tracemalloc

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
from custom_components.ipro_nvr.aioipro.multipart import (
    MAX_HEADER_SIZE,
    MAX_PART_SIZE,
    READ_SIZE,
    iter_streamed_parts,
)

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


# ---------------------------------------------------------------------- streamed parts


async def stream(
    data: bytes, sizes: Sequence[int] = (1 << 20,), chunk_size: int = READ_SIZE
) -> list[tuple[dict[str, str], list[bytes]]]:
    """Read every streamed part; return its headers and the chunks of its body."""
    reader = ChunkReader(data, sizes)
    return [
        (dict(part.headers), [chunk async for chunk in part.body])
        async for part in iter_streamed_parts(reader, "myboundary", chunk_size=chunk_size)
    ]


def joined(parts: list[tuple[dict[str, str], list[bytes]]]) -> list[bytes]:
    return [b"".join(chunks) for _, chunks in parts]


WITHOUT_LENGTH = (
    b"preamble\r\n--myboundary\r\nContent-Type: image/jpeg\r\n\r\nJPEG-1\r\n"
    b"--myboundary\nContent-Type: image/jpeg\n\nJPEG-2\n--myboundary  \r\n"
    b"Content-Type: image/jpeg\r\n\r\nJPEG-3--myboundary\r\n"
    b"X: 1\r\n\r\nhas --myboundaryX inside\r\n--myboundary--\r\nepilogue"
)


@pytest.mark.parametrize("data", [multipart(NVR_PARTS), WITHOUT_LENGTH], ids=["length", "none"])
@pytest.mark.parametrize("sizes", [(1 << 20,), (1,), (3, 7, 2), (13,)])
@pytest.mark.parametrize("chunk_size", [1, 3, READ_SIZE])
async def test_streamed_parts_are_the_whole_parts_in_chunks(
    data: bytes, sizes: Sequence[int], chunk_size: int
) -> None:
    whole = await collect(data, sizes)
    streamed = await stream(data, sizes, chunk_size)
    assert joined(streamed) == [part.body for part in whole]
    assert [headers for headers, _ in streamed] == [dict(part.headers) for part in whole]
    assert all(0 < len(chunk) <= chunk_size for _, chunks in streamed for chunk in chunks)


class HugePartReader:
    """A stream of one part of ``size`` bytes, made up as it is read: nothing holds it."""

    PATTERN = bytes(range(256)) * 1024

    def __init__(self, size: int, *, length: bool) -> None:
        head = "--myboundary\r\nContent-Type: application/octet-stream\r\n"
        if length:
            head += f"Content-Length: {size}\r\n"
        self.head = (head + "\r\n").encode()
        self.tail = b"\r\n--myboundary--\r\n"
        self.left = size

    async def read(self, n: int = -1) -> bytes:
        if self.head:
            chunk, self.head = self.head, b""
        elif self.left:
            chunk = self.PATTERN[: min(n, self.left, len(self.PATTERN))]
            self.left -= len(chunk)
        else:
            chunk, self.tail = self.tail, b""
        return chunk


@pytest.mark.parametrize("length", [True, False], ids=["length", "none"])
async def test_a_streamed_part_of_any_size_costs_a_chunk(length: bool) -> None:
    size = 64 * 1024 * 1024 + 7
    expected = hashlib.sha256()
    for start in range(0, size, len(HugePartReader.PATTERN)):
        expected.update(HugePartReader.PATTERN[: size - start])
    received = hashlib.sha256()
    count = 0
    tracemalloc.start()
    try:
        async for part in iter_streamed_parts(HugePartReader(size, length=length), "myboundary"):
            async for chunk in part.body:
                received.update(chunk)
                count += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == size
    assert received.digest() == expected.digest()
    # The buffer, one read and one chunk (and their copies), not the 64 MiB.
    assert peak < 8 * READ_SIZE
    # The live reader keeps its bound.
    with pytest.raises(IproProtocolError, match="over the limit"):
        await anext(iter_parts(HugePartReader(MAX_PART_SIZE + 1, length=length), "myboundary"))


async def test_unread_bodies_are_skipped() -> None:
    data = multipart(NVR_PARTS) + WITHOUT_LENGTH
    reader = ChunkReader(data, (5,))
    types = []
    async for part in iter_streamed_parts(reader, "myboundary", chunk_size=2):
        types.append(part.headers.get("Content-Type"))
        if len(types) == 1:
            assert await part.body.read() == b"\x80b"  # then leave the rest
    assert types == [
        "application/octet-stream",
        "image/jpeg",
        "audio/48kaac-lc",
        *["image/jpeg"] * 3,
        None,
    ]


async def test_a_body_read_to_its_end_stays_ended() -> None:
    parts = iter_streamed_parts(ChunkReader(multipart(NVR_PARTS)), "myboundary")
    part = await anext(parts)
    assert [chunk async for chunk in part.body] == [NVR_PARTS[0][1]]
    assert await part.body.read() == b""
    assert (await anext(parts)).headers["Content-Length"] == "4"
    await parts.aclose()


@pytest.mark.parametrize("sizes", [(1 << 20,), (5,)])
async def test_a_last_part_without_body_needs_no_delimiter(sizes: Sequence[int]) -> None:
    # Whitespace after the headers of a last part is no body, however it arrives.
    data = b"--myboundary\r\nX-Temp-FileName: \r\n\r\n" + b"\r\n" * 20
    assert await stream(data, sizes) == [({"X-Temp-FileName": ""}, [])]
    assert [(dict(p.headers), p.body) for p in await collect(data, sizes)] == [
        ({"X-Temp-FileName": ""}, b"")
    ]
    # More whitespace than a chunk is handed out as it comes: then it is a cut body.
    with pytest.raises(IproProtocolError, match="ended inside a part"):
        await stream(data, sizes, chunk_size=8)


@pytest.mark.parametrize(
    "data",
    [
        b"--myboundary\r\nContent-Length: 10\r\n\r\nshort",
        b"--myboundary\r\nContent-Type: image/jpeg\r\n\r\nno end in sight",
    ],
    ids=["length", "none"],
)
@pytest.mark.parametrize("sizes", [(1 << 20,), (3,)])
async def test_a_streamed_part_cut_short(data: bytes, sizes: Sequence[int]) -> None:
    received: list[bytes] = []

    async def read() -> None:
        async for part in iter_streamed_parts(ChunkReader(data, sizes), "myboundary"):
            async for chunk in part.body:
                received.append(chunk)  # noqa: PERF401 - keep what came before the error

    with pytest.raises(IproProtocolError, match="ended inside a part"):
        await read()
    assert data.split(b"\r\n\r\n", 1)[1].startswith(b"".join(received))


async def test_streamed_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await stream(multipart(NVR_PARTS), chunk_size=0)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.tuples(st.binary(max_size=300), st.booleans()), max_size=8),
    sizes=st.lists(st.integers(1, 64), min_size=1, max_size=4),
    chunk_size=st.integers(1, 64),
)
def test_streamed_round_trip(
    parts: list[tuple[bytes, bool]], sizes: list[int], chunk_size: int
) -> None:
    data = multipart(
        ({"X-Part": str(number), **({"Content-Length": str(len(body))} if sized else {})}, body)
        for number, (body, sized) in enumerate(parts)
    )
    data += b"--myboundary--\r\n"

    async def run() -> list[bytes]:
        return joined(await stream(data, sizes, chunk_size))

    assert asyncio.run(run()) == [body for body, _ in parts]


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=400),
    sizes=st.lists(st.integers(1, 64), min_size=1, max_size=3),
    chunk_size=st.integers(1, 64),
)
def test_streamed_garbage_never_raises_anything_else(
    data: bytes, sizes: list[int], chunk_size: int
) -> None:
    async def run() -> None:
        # Garbage may parse (in bounded chunks) or be refused, but never raise otherwise.
        with contextlib.suppress(IproProtocolError):
            for _, chunks in await stream(b"--myboundary\r\n" + data, sizes, chunk_size):
                assert all(0 < len(chunk) <= chunk_size for chunk in chunks)

    asyncio.run(run())

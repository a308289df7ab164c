"""Asynchronous multipart readers for the NVR's streams, with bounded memory.

The NVR streams live video, live JPEG, audio and downloads as multipart bodies
(``--myboundary``). The readers take anything with an ``async read(n)`` that returns at
most ``n`` bytes and ``b""`` at the end (``aiohttp.StreamReader``,
``asyncio.StreamReader``) and keep their own buffer.

Two readers, one grammar:

- :func:`iter_parts` yields whole parts and parses every part that is already buffered
  without awaiting, which is what makes 64 concurrent live streams affordable. Its parts
  are small (RTP packets, JPEGs), so it is bounded by ``max_part_size``: a
  ``Content-Length`` above it is rejected before anything is allocated, and a body
  without one may not grow past it.
- :func:`iter_streamed_parts` yields each part's headers with its body as a stream of
  chunks of at most ``chunk_size`` bytes, so a part of any size (a download's file:
  tens or hundreds of megabytes in one part) costs a chunk and one read, not its size.

Tolerated: delimiter lines with or without the CRLF before them (also glued to the end
of a body), CRLF or bare LF, header names in any case, a preamble, junk between a
part's end and the next delimiter. A part's body is its ``Content-Length`` bytes when
the header is present, otherwise everything up to the next delimiter (minus the line
break before it). Headers are limited to 16 KiB, and junk without a delimiter to
``MAX_PART_SIZE``. The end of the stream (or a close delimiter) ends the iteration; a
part cut short by the end of the stream raises ``IproProtocolError``; a last part with
headers and no body needs no delimiter after it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol, Self

from multidict import CIMultiDict, CIMultiDictProxy

from .errors import IproProtocolError

DEFAULT_BOUNDARY = "myboundary"
MAX_PART_SIZE = 4 * 1024 * 1024
MAX_HEADER_SIZE = 16 * 1024
READ_SIZE = 256 * 1024
_DELIMITER_FOLLOWERS = frozenset(b"\r\n- \t")


class ByteReader(Protocol):
    """What the reader needs from a stream: ``read(n)``, ``b""`` at the end."""

    async def read(self, n: int = -1, /) -> bytes:
        """Return up to ``n`` bytes, at least one unless the stream has ended."""
        ...


@dataclass(frozen=True, slots=True)
class Part:
    """One part: case-insensitive headers and the body."""

    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def content_type(self) -> str:
        """Return the media type, lower case, without parameters."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def boundary_from_content_type(value: str | None) -> str:
    """Return the boundary a multipart Content-Type names, ``myboundary`` if none.

    A boundary written with the delimiter's leading ``--`` (a common camera mistake) is
    taken without it.
    """
    if value:
        for parameter in value.split(";")[1:]:
            name, _, raw = parameter.partition("=")
            if name.strip().lower() == "boundary":
                boundary = raw.strip().strip('"').strip().removeprefix("--")
                if boundary:
                    return boundary
    return DEFAULT_BOUNDARY


class _Buffer:
    """Bytes read but not yet parsed; offsets are absolute within ``data``."""

    __slots__ = ("data", "eof", "pos", "reader")

    def __init__(self, reader: ByteReader) -> None:
        self.reader = reader
        self.data = bytearray()
        self.pos = 0
        self.eof = False

    async def fill(self) -> int:
        """Read more data; return by how much existing offsets moved, or -1 at the end."""
        shift = self.pos
        if shift:
            del self.data[:shift]
            self.pos = 0
        chunk = await self.reader.read(READ_SIZE)
        if not chunk:
            self.eof = True
            return -1
        self.data += chunk
        return shift


def _find_delimiter(buffer: _Buffer, delimiter: bytes, start: int) -> tuple[int, int]:
    """Return the index of a whole delimiter (or -1) and where to search on from."""
    data = buffer.data
    while True:
        index = data.find(delimiter, start)
        if index < 0:
            return -1, max(start, len(data) - len(delimiter) + 1)
        after = index + len(delimiter)
        if after == len(data):
            return (index, after) if buffer.eof else (-1, index)
        if data[after] in _DELIMITER_FOLLOWERS:
            return index, after
        start = index + 1


async def _seek_part(buffer: _Buffer, delimiter: bytes, limit: int) -> bool:
    """Move past the next delimiter line; ``False`` at the end of the stream or a close."""
    start = buffer.pos
    while True:
        index, start = _find_delimiter(buffer, delimiter, start)
        if index >= 0:
            after = index + len(delimiter)
            if buffer.data.startswith(b"--", after):
                return False
            line_end = buffer.data.find(b"\n", after)
            if line_end >= 0:
                buffer.pos = line_end + 1
                return True
            if buffer.eof:
                return False
            if len(buffer.data) - after > MAX_HEADER_SIZE:
                raise IproProtocolError("The NVR sent an overlong multipart delimiter line.")
            start = index
        elif buffer.eof:
            return False
        elif len(buffer.data) - buffer.pos > limit:
            raise IproProtocolError("The NVR sent a multipart stream without its boundary.")
        start -= max(await buffer.fill(), 0)


def _headers_end(data: bytearray, pos: int) -> tuple[int, int]:
    """Return where the header lines at ``pos`` end and where the body starts, or -1s."""
    for blank in (b"\r\n", b"\n"):
        if data.startswith(blank, pos):
            return pos, pos + len(blank)
    limit = pos + MAX_HEADER_SIZE + 3
    crlf = data.find(b"\n\r\n", pos, limit)
    lf = data.find(b"\n\n", pos, limit if crlf < 0 else crlf)
    if lf >= 0:
        return lf, lf + 2
    return (crlf, crlf + 3) if crlf >= 0 else (-1, -1)


async def _read_headers(buffer: _Buffer) -> CIMultiDict[str] | None:
    """Read header lines up to the blank line; ``None`` if the stream ends right away."""
    while True:
        end, body = _headers_end(buffer.data, buffer.pos)
        if end >= 0:
            break
        if len(buffer.data) - buffer.pos > MAX_HEADER_SIZE:
            raise IproProtocolError("The NVR sent multipart headers over 16 KiB.")
        if await buffer.fill() < 0:
            if buffer.data[buffer.pos :].strip():
                raise IproProtocolError("The NVR's stream ended inside part headers.")
            return None
    headers: CIMultiDict[str] = CIMultiDict()
    block = buffer.data[buffer.pos : end].decode("latin-1")
    for line in block.split("\n") if block else ():
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name:
            raise IproProtocolError(f"The NVR sent a malformed part header {line[:60]!r}.")
        headers.add(name, value.strip())
    buffer.pos = body
    return headers


def _content_length(headers: CIMultiDict[str], limit: int | None) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise IproProtocolError(f"The NVR sent an invalid Content-Length {value[:20]!r}.")
    length = int(text)
    if limit is not None and length > limit:
        raise IproProtocolError(
            f"The NVR sent a part of {length} bytes, over the limit of {limit} bytes."
        )
    return length


async def _read_exactly(buffer: _Buffer, length: int) -> bytes:
    while len(buffer.data) - buffer.pos < length:
        if await buffer.fill() < 0:
            raise IproProtocolError("The NVR's stream ended inside a part.")
    start = buffer.pos
    buffer.pos = start + length
    return bytes(buffer.data[start : start + length])


def _body_end(data: bytearray, pos: int, index: int) -> int:
    """Return where a body at ``pos`` ends: before the line break ahead of ``index``."""
    end = index
    if end > pos and data[end - 1] == 0x0A:
        end -= 1
        if end > pos and data[end - 1] == 0x0D:
            end -= 1
    return end


async def _read_to_delimiter(buffer: _Buffer, delimiter: bytes, limit: int) -> bytes | None:
    """Read a body up to the next delimiter (left in the buffer); ``None`` at a clean end."""
    start = buffer.pos
    while True:
        index, start = _find_delimiter(buffer, delimiter, start)
        if index >= 0:
            break
        if buffer.eof:
            if buffer.data[buffer.pos :].strip():
                raise IproProtocolError("The NVR's stream ended inside a part.")
            return None
        if len(buffer.data) - buffer.pos > limit + len(delimiter):
            raise IproProtocolError(f"The NVR sent a part over the limit of {limit} bytes.")
        start -= max(await buffer.fill(), 0)
    end = _body_end(buffer.data, buffer.pos, index)
    if end - buffer.pos > limit:
        raise IproProtocolError(f"The NVR sent a part over the limit of {limit} bytes.")
    body = bytes(buffer.data[buffer.pos : end])
    buffer.pos = index
    return body


async def iter_parts(
    reader: ByteReader, boundary: str, *, max_part_size: int = MAX_PART_SIZE
) -> AsyncGenerator[Part]:
    """Yield the parts of a multipart stream until it ends (``aclose()`` to stop early)."""
    delimiter = b"--" + boundary.encode("utf-8")
    buffer = _Buffer(reader)
    while await _seek_part(buffer, delimiter, max_part_size):
        headers = await _read_headers(buffer)
        if headers is None:
            return
        length = _content_length(headers, max_part_size)
        if length is None:
            body = await _read_to_delimiter(buffer, delimiter, max_part_size)
            if body is None:
                # The stream ended after this part's headers: a last part without a body
                # (the end of a download) still counts.
                if headers:
                    yield Part(CIMultiDictProxy(headers), b"")
                return
        else:
            body = await _read_exactly(buffer, length)
        yield Part(CIMultiDictProxy(headers), body)


class PartBody:
    """The body of one streamed part, handed out in chunks of at most ``chunk_size`` bytes.

    Whatever the part's size, it holds only the chunk it hands out and one read of the
    stream. A body without ``Content-Length`` keeps back the few bytes that may start the
    line break and delimiter after it, and while it has been whitespace alone (less than
    a chunk), those too: a last part whose stream ends after its headers has no body.
    """

    __slots__ = (
        "_buffer",
        "_chunk_size",
        "_delimiter",
        "_done",
        "_end",
        "_next",
        "_remaining",
        "_search",
        "_started",
    )

    def __init__(
        self, buffer: _Buffer, delimiter: bytes, length: int | None, chunk_size: int
    ) -> None:
        self._buffer = buffer
        self._delimiter = delimiter
        self._chunk_size = chunk_size
        self._remaining = length
        self._search = buffer.pos
        self._end = -1
        self._next = -1
        self._started = False
        self._done = False

    def __aiter__(self) -> Self:
        """Iterate over the chunks."""
        return self

    async def __anext__(self) -> bytes:
        """Return the next chunk."""
        chunk = await self.read()
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def read(self) -> bytes:
        """Return the next chunk of the body, ``b""`` once it has all been read."""
        if self._done:
            return b""
        if self._remaining is None:
            chunk = await self._read_delimited()
        else:
            chunk = await self._read_counted(self._remaining)
        self._done = not chunk
        return chunk

    async def skip(self) -> None:
        """Read past what is left of the body."""
        while await self.read():
            pass

    async def _read_counted(self, remaining: int) -> bytes:
        if not remaining:
            return b""
        buffer = self._buffer
        start = buffer.pos
        available = len(buffer.data) - start
        if available:
            size = min(available, remaining, self._chunk_size)
            buffer.pos = start + size
            chunk = bytes(buffer.data[start : start + size])
        else:
            # Nothing buffered: the read itself is the chunk, without a copy.
            buffer.data.clear()
            buffer.pos = 0
            chunk = await buffer.reader.read(min(remaining, self._chunk_size))
            if not chunk:
                buffer.eof = True
                raise IproProtocolError("The NVR's stream ended inside a part.")
        self._remaining = remaining - len(chunk)
        return chunk

    async def _read_delimited(self) -> bytes:
        buffer = self._buffer
        while self._end < 0:
            index, self._search = _find_delimiter(buffer, self._delimiter, self._search)
            if index >= 0:
                self._end = _body_end(buffer.data, buffer.pos, index)
                self._next = index
                break
            if buffer.eof:
                if self._started or buffer.data[buffer.pos :].strip():
                    raise IproProtocolError("The NVR's stream ended inside a part.")
                return b""
            # Up to two bytes before a possible delimiter may be its line break.
            safe = self._search - 2
            pending = safe - buffer.pos
            if pending >= self._chunk_size or (
                pending > 0 and (self._started or buffer.data[buffer.pos : safe].strip())
            ):
                return self._take(safe)
            self._search -= max(await buffer.fill(), 0)
        chunk = self._take(self._end)
        if not chunk:
            buffer.pos = self._next  # the delimiter is the next part's
        return chunk

    def _take(self, end: int) -> bytes:
        buffer = self._buffer
        start = buffer.pos
        stop = min(end, start + self._chunk_size)
        buffer.pos = stop
        self._started = True
        return bytes(buffer.data[start:stop])


@dataclass(frozen=True, slots=True)
class StreamedPart:
    """One part: case-insensitive headers and the body as a stream of chunks."""

    headers: CIMultiDictProxy[str]
    body: PartBody


async def iter_streamed_parts(
    reader: ByteReader, boundary: str, *, chunk_size: int = READ_SIZE
) -> AsyncGenerator[StreamedPart]:
    """Yield the parts of a multipart stream, bodies unread, until it ends.

    Read a part's body before asking for the next part; what is left of it is skipped
    then. Every part whose headers arrived is yielded, even one that turns out to have
    no body at the end of the stream.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    delimiter = b"--" + boundary.encode("utf-8")
    buffer = _Buffer(reader)
    while await _seek_part(buffer, delimiter, MAX_PART_SIZE):
        headers = await _read_headers(buffer)
        if headers is None:
            return
        body = PartBody(buffer, delimiter, _content_length(headers, None), chunk_size)
        yield StreamedPart(CIMultiDictProxy(headers), body)
        await body.skip()

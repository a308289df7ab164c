"""Bounded asynchronous multipart reader for the NVR's endless streams.

The NVR streams live video, live JPEG, audio and downloads as multipart bodies
(``--myboundary``). The reader takes anything with an ``async read(n)`` that returns at
most ``n`` bytes and ``b""`` at the end (``aiohttp.StreamReader``,
``asyncio.StreamReader``), keeps its own buffer and parses every part that is already
buffered without awaiting, which is what makes 64 concurrent live streams affordable.

Tolerated: delimiter lines with or without the CRLF before them (also glued to the end
of a body), CRLF or bare LF, header names in any case, a preamble, junk between a
part's end and the next delimiter. A part's body is its ``Content-Length`` bytes when
the header is present, otherwise everything up to the next delimiter (minus the line
break before it). Bounded: a ``Content-Length`` above ``max_part_size`` is rejected before
anything is allocated, a body without one may not grow past it, and headers are limited
to 16 KiB. The end of the stream (or a close delimiter) ends the iteration; a part cut
short by the end of the stream raises ``IproProtocolError``; a last part with headers and
no body needs no delimiter after it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

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


def _content_length(headers: CIMultiDict[str], limit: int) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise IproProtocolError(f"The NVR sent an invalid Content-Length {value[:20]!r}.")
    length = int(text)
    if length > limit:
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
    data = buffer.data
    end = index
    if end > buffer.pos and data[end - 1] == 0x0A:
        end -= 1
        if end > buffer.pos and data[end - 1] == 0x0D:
            end -= 1
    if end - buffer.pos > limit:
        raise IproProtocolError(f"The NVR sent a part over the limit of {limit} bytes.")
    body = bytes(data[buffer.pos : end])
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

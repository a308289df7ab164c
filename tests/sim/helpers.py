"""Test-local HTTP client and parsers for the simulator's answers.

Deliberately independent of the integration's client package: plain aiohttp, a tiny
multipart reader and RTP depacketizers written from the RFCs, enough to check and
decode what the simulator sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
import re
import struct
from typing import Any

import aiohttp
import av

from ipro_sim import NvrSimulator


@dataclass(frozen=True)
class Part:
    """One multipart part: lower-cased header names to values, and the body."""

    headers: dict[str, str]
    body: bytes


def client_session(
    sim: NvrSimulator, *, user: str | None = None, password: str | None = None
) -> aiohttp.ClientSession:
    """An aiohttp session authenticating the way the simulator is configured."""
    user = sim.config.username if user is None else user
    password = sim.config.password if password is None else password
    if sim.config.auth == "basic":
        headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
        return aiohttp.ClientSession(headers=headers)
    return aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(user, password),))


def url(sim: NvrSimulator, cgi: str, params: Sequence[tuple[str, str]] = ()) -> str:
    """Full URL with the query in exactly the given order."""
    query = "&".join(f"{key}={value}" for key, value in params)
    return f"{sim.url}/cgi-bin/{cgi}" + (f"?{query}" if query else "")


async def get_text(
    session: aiohttp.ClientSession, sim: NvrSimulator, cgi: str, *params: tuple[str, str]
) -> tuple[int, str]:
    """Status and decoded body of a GET."""
    async with session.get(url(sim, cgi, params)) as response:
        return response.status, (await response.read()).decode("latin-1")


async def get_bytes(
    session: aiohttp.ClientSession, sim: NvrSimulator, cgi: str, *params: tuple[str, str]
) -> tuple[int, bytes]:
    """Status and raw body of a GET."""
    async with session.get(url(sim, cgi, params)) as response:
        return response.status, await response.read()


async def login(session: aiohttp.ClientSession, sim: NvrSimulator) -> str:
    """A fresh UID from dlogin.cgi."""
    status, text = await get_text(session, sim, "dlogin.cgi", ("UID", "-1"))
    assert status == 200
    match = re.search(r"hdrctl\.cgi\?UID=(\d+)&", text)
    assert match is not None, text
    return match.group(1)


async def setup_live(session: aiohttp.ClientSession, sim: NvrSimulator, uid: str) -> None:
    """hdrctl.cgi SCREEN=16X, needed before push.cgi START."""
    status, _ = await get_text(
        session, sim, "hdrctl.cgi", ("UID", uid), ("SCREEN", "16X"), ("PC", "AS60")
    )
    assert status == 200


async def read_parts(
    response: aiohttp.ClientResponse, boundary: str = "myboundary"
) -> AsyncIterator[Part]:
    """Parts of a multipart answer, using each part's Content-Length."""
    content = response.content
    while True:
        line = await content.readline()
        if not line:
            return
        text = line.decode("latin-1").strip()
        if not text:
            continue
        if text == f"--{boundary}--":
            return
        assert text == f"--{boundary}", text
        headers: dict[str, str] = {}
        while True:
            header = (await content.readline()).decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await content.readexactly(int(headers["content-length"]))
        assert await content.readexactly(2) == b"\r\n"
        yield Part(headers, body)


async def collect_parts(response: aiohttp.ClientResponse, count: int) -> list[Part]:
    """The first ``count`` parts of a streamed answer."""
    parts = []
    async for part in read_parts(response):
        parts.append(part)
        if len(parts) == count:
            break
    return parts


@dataclass(frozen=True)
class Rtp:
    """A parsed RTP packet with its header-extension TLVs."""

    version: int
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    tlvs: dict[int, bytes]
    payload: bytes


def parse_tlvs(data: bytes) -> dict[int, bytes]:
    """ID -> data of info TLVs (length counts the 4-byte header)."""
    tlvs = {}
    pos = 0
    while pos + 4 <= len(data):
        tag, length = struct.unpack_from(">HH", data, pos)
        if tag == 0 or length < 4:
            break
        tlvs[tag] = data[pos + 4 : pos + length]
        pos += length
    return tlvs


def parse_rtp(packet: bytes) -> Rtp:
    """RFC 3550 header, extension and payload."""
    first, second, sequence, timestamp, ssrc = struct.unpack_from(">BBHII", packet)
    pos = 12
    tlvs: dict[int, bytes] = {}
    if first & 0x10:
        profile, words = struct.unpack_from(">HH", packet, pos)
        assert profile == 0
        tlvs = parse_tlvs(packet[pos + 4 : pos + 4 + words * 4])
        pos += 4 + words * 4
    return Rtp(
        version=first >> 6,
        marker=bool(second & 0x80),
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        tlvs=tlvs,
        payload=packet[pos:],
    )


def split_jpeg_part(
    body: bytes, marker: bytes = b"\xff\xff"
) -> tuple[list[dict[int, bytes]], bytes]:
    """Info chunks (``FFD8`` + marker + u16 length counting itself) and the JPEG after them."""
    chunks = []
    while body[:4] == b"\xff\xd8" + marker:
        (length,) = struct.unpack(">H", body[4:6])
        chunks.append(parse_tlvs(body[6 : 4 + length]))
        body = body[4 + length :]
    return chunks, body


class Depacketizer:
    """RFC 6184 / RFC 7798 payloads back to Annex B access units."""

    def __init__(self, h265: bool) -> None:
        self.h265 = h265
        self.nals: list[bytes] = []
        self.fragment = bytearray()
        self.kinds: set[str] = set()

    def push(self, rtp: Rtp) -> bytes | None:
        """Add a packet; return the access unit when the marker bit ends it."""
        payload = rtp.payload
        if self.h265:
            self._push_h265(payload)
        else:
            self._push_h264(payload)
        if not rtp.marker:
            return None
        unit = b"".join(b"\x00\x00\x00\x01" + nal for nal in self.nals)
        self.nals = []
        return unit

    def _push_h264(self, payload: bytes) -> None:
        kind = payload[0] & 0x1F
        if kind == 24:
            self.kinds.add("aggregate")
            self.nals += _split_sized(payload[1:])
        elif kind == 28:
            self.kinds.add("fragment")
            header = payload[1]
            if header & 0x80:
                self.fragment = bytearray([(payload[0] & 0xE0) | (header & 0x1F)])
            self.fragment += payload[2:]
            if header & 0x40:
                self.nals.append(bytes(self.fragment))
        else:
            self.kinds.add("single")
            self.nals.append(payload)

    def _push_h265(self, payload: bytes) -> None:
        kind = (payload[0] >> 1) & 0x3F
        if kind == 48:
            self.kinds.add("aggregate")
            self.nals += _split_sized(payload[2:])
        elif kind == 49:
            self.kinds.add("fragment")
            header = payload[2]
            if header & 0x80:
                first = (payload[0] & 0x81) | ((header & 0x3F) << 1)
                self.fragment = bytearray([first, payload[1]])
            self.fragment += payload[3:]
            if header & 0x40:
                self.nals.append(bytes(self.fragment))
        else:
            self.kinds.add("single")
            self.nals.append(payload)


def _split_sized(data: bytes) -> list[bytes]:
    nals = []
    pos = 0
    while pos < len(data):
        (size,) = struct.unpack_from(">H", data, pos)
        nals.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return nals


def decode_video(codec: str, units: Sequence[bytes]) -> list[Any]:
    """Decode Annex B access units with PyAV; return the frames."""
    context = av.CodecContext.create(codec, "r")
    frames: list[Any] = []
    for unit in units:
        frames += context.decode(av.Packet(unit))
    frames += context.decode(None)
    return frames

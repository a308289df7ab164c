"""Throughput of the protocol client's hot parsers on one core.

    python benchmarks/bench_parsers.py [--seconds 8]

- live RTP: 64 concurrent live H.264 streams (8 Mbit/s, 30 fps, 1400-byte RTP packets,
  each with a header extension) as multipart over aiohttp StreamReaders, fed in 16 KiB
  network-sized chunks: multipart reader + parse_rtp + depacketizer, interleaved on one
  event loop;
- live RTP, one stream: the same pipeline for a single stream;
- live JPEG: multipart parts of a 200 KB JPEG with both information chunks;
- playback GOP: 1 s GOPs (30 pictures, 1 MB, camera TLVs before every picture).

The process is pinned to one CPU where the OS allows it, and rates are per CPU second
of this process (``time.process_time``), so other load on the machine does not skew
them. Input bytes are random: the parsers never look inside the coded pictures.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
import os
from pathlib import Path
import random
import struct
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader

from custom_components.ipro_nvr.aioipro.h26x import H264Depacketizer
from custom_components.ipro_nvr.aioipro.jpeg import parse_live_jpeg
from custom_components.ipro_nvr.aioipro.multipart import iter_parts
from custom_components.ipro_nvr.aioipro.playback import parse_playback_gop
from custom_components.ipro_nvr.aioipro.rtp import parse_rtp

STREAM_RATE = 8_000_000 / 8  # 8 Mbit/s in bytes/s
FPS = 30
MTU = 1400
NET_CHUNK = 16 * 1024
STREAMS = 64
RNG = random.Random(1)


def tlv(tlv_id: int, data: bytes) -> bytes:
    return struct.pack(">HH", tlv_id, 4 + len(data)) + data


EXTENSION = tlv(4, b"\x00\x01\x00\x00") + tlv(7, struct.pack(">IBBBB", 1_700_000_000, 0, 9, 0, 0))


def rtp(payload: bytes, sequence: int, timestamp: int, marker: bool) -> bytes:
    header = struct.pack(">BBHII", 0x90, (0x80 if marker else 0) | 98, sequence, timestamp, 1)
    return header + struct.pack(">HH", 0, len(EXTENSION) // 4) + EXTENSION + payload


def fu_a(nal: bytes) -> list[bytes]:
    body, chunk = nal[1:], MTU - 2
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    out = []
    for index, piece in enumerate(pieces):
        header = nal[0] & 0x1F | (0x80 if index == 0 else 0)
        header |= 0x40 if index == len(pieces) - 1 else 0
        out.append(bytes(((nal[0] & 0xE0) | 28, header)) + piece)
    return out


def live_stream(seconds: float) -> bytes:
    """Multipart bytes of one 8 Mbit/s H.264 stream, one RTP packet a part."""
    frame_size = int(STREAM_RATE / FPS)
    out = bytearray()
    sequence = 0
    for frame in range(int(seconds * FPS)):
        keyframe = frame % FPS == 0
        size = frame_size * 4 if keyframe else frame_size * 26 // 29
        nal = bytes((0x65 if keyframe else 0x41,)) + RNG.randbytes(size)
        payloads = [b"\x67\x64\x00\x28", b"\x68\xee\x3c\x80"] if keyframe else []
        payloads += fu_a(nal)
        for index, payload in enumerate(payloads):
            packet = rtp(payload, sequence & 0xFFFF, frame * 3000, index == len(payloads) - 1)
            sequence += 1
            out += b"--myboundary\r\nContent-type: application/octet-stream\r\n"
            out += f"Content-Length: {len(packet)}\r\n\r\n".encode() + packet + b"\r\n"
    return bytes(out)


def reader_for(
    data: bytes, loop: asyncio.AbstractEventLoop
) -> tuple[StreamReader, Callable[[], Coroutine[None, None, None]]]:
    protocol = BaseProtocol(loop)
    protocol.transport = asyncio.Transport()  # "connected"; the big limit never pauses it
    reader = StreamReader(protocol, 2**22, loop=loop)

    async def feed() -> None:
        for start in range(0, len(data), NET_CHUNK):
            reader.feed_data(data[start : start + NET_CHUNK])
            await asyncio.sleep(0)
        reader.feed_eof()

    return reader, feed


async def depacketize(reader: StreamReader) -> int:
    depacketizer = H264Depacketizer()
    units = 0
    async for part in iter_parts(reader, "myboundary"):
        units += len(depacketizer.push(parse_rtp(part.body)))
    return units


async def run_live(streams: list[bytes]) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    tasks = []
    for data in streams:
        reader, feed = reader_for(data, loop)
        tasks += [asyncio.ensure_future(depacketize(reader)), asyncio.ensure_future(feed())]
    start = time.process_time()
    results = await asyncio.gather(*tasks)
    return time.process_time() - start, sum(r for r in results if r)


async def run_jpeg(data: bytes) -> tuple[float, int]:
    reader, feed = reader_for(data, asyncio.get_running_loop())
    feeder = asyncio.ensure_future(feed())
    start = time.process_time()
    frames = 0
    async for part in iter_parts(reader, "myboundary"):
        parse_live_jpeg(part.body)
        frames += 1
    await feeder
    return time.process_time() - start, frames


def jpeg_stream(frames: int) -> bytes:
    chunk = b"\xff\xd8\xff\xff" + struct.pack(">H", 2 + len(EXTENSION)) + EXTENSION
    camera = b"\xff\xd8\xff\xff" + struct.pack(">H", 2 + 12) + tlv(0x11, bytes(8))
    jpeg = b"\xff\xd8\xff\xe0" + RNG.randbytes(200_000) + b"\xff\xd9"
    body = chunk + camera + jpeg
    part = b"--myboundary\r\nContent-Type: image/jpeg\r\n"
    part += f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"\r\n"
    return part * frames


def playback_gop(pictures: int = 30) -> bytes:
    recorder = tlv(4, b"\x00\x01\x00\x00") + tlv(9, b"\x01\x2c\x00\x00")
    camera = tlv(0x11, bytes(8)) + tlv(0x12, bytes(4))
    out = bytearray(b"\xff\x15" + struct.pack(">H", len(recorder)) + recorder + camera)
    out += bytes(12) + b"\xff\x06\x00\x44" + bytes(16) + struct.pack(">IIII", 1, 0, 0, 0)
    out += bytes(16) + struct.pack(">I", 0) + bytes(12)
    for index in range(pictures):
        if index:
            out += camera
        data = b"\x00\x00\x00\x01" + RNG.randbytes(150_000 if index == 0 else 30_000 + index)
        padding = -len(data) % 4
        out += struct.pack(">HHI", 0xFF05, padding, len(data)) + bytes(16) + data + bytes(padding)
    out += bytes(-len(out) % 4096)
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="stream length per stream")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"Python {sys.version.split()[0]}, one core, {args.seconds:g} s of each stream\n")
    rows = []

    one = live_stream(args.seconds)
    streams = [one] * STREAMS
    elapsed, units = asyncio.run(run_live(streams))
    megabytes = len(one) * STREAMS / 1e6
    rows.append(
        (
            f"live RTP, {STREAMS} streams",
            megabytes / elapsed,
            (
                f"{megabytes / elapsed / (STREAM_RATE / 1e6):.0f} x 8 Mbit/s, "
                f"{units / elapsed:.0f} AU/s"
            ),
        )
    )
    elapsed, units = asyncio.run(run_live([one]))
    rows.append(
        (
            "live RTP, 1 stream",
            len(one) / 1e6 / elapsed,
            f"{len(one) / elapsed / STREAM_RATE:.0f} x 8 Mbit/s",
        )
    )

    jpegs = jpeg_stream(int(args.seconds * 50))
    elapsed, frames = asyncio.run(run_jpeg(jpegs))
    rows.append(
        ("live JPEG (200 KB)", len(jpegs) / 1e6 / elapsed, f"{frames / elapsed:.0f} frames/s")
    )

    gop = playback_gop()
    count = max(1, int(args.seconds * 20))
    start = time.process_time()
    for _ in range(count):
        parse_playback_gop(gop)
    elapsed = time.process_time() - start
    rows.append(
        (
            "playback GOP (30 pictures)",
            len(gop) * count / 1e6 / elapsed,
            f"{count / elapsed:.0f} GOPs/s",
        )
    )

    print(f"{'pipeline':<28} {'MB/s':>8}  notes")
    for name, rate, notes in rows:
        print(f"{name:<28} {rate:>8.1f}  {notes}")


if __name__ == "__main__":
    main()

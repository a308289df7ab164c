"""Benchmark: a recording to a player, by download (``httpdl.cgi``) or by playback GOPs.

Run from the repository root:

    .venv/bin/python benchmarks/bench_playback.py            # 1 and 10 minute windows
    .venv/bin/python benchmarks/bench_playback.py --full     # and a whole hour
    .venv/bin/python benchmarks/bench_playback.py --fast     # test pacing, no throttle
    .venv/bin/python benchmarks/bench_playback.py --file-minutes 10   # NVR splits files

Both paths run through the real IproClient against the simulator, with the NVR's real
pacing (3 s between commands) unless ``--fast``. The simulator's download is throttled
so one recorded minute takes as long to transfer as on the NVR of the field report
(2-minute clips of 14-21 MB in 3-6 s: about 2.25 s per recorded minute). How long the
NVR's files are is not known; by default one request is one file (``--file-minutes``).

For each window it prints, counted from the moment a viewer asks:

- ``first byte``: the first body byte reaches the client;
- ``first frame``: the bytes received so far let PyAV decode a picture. An MP4 whose
  ``moov`` comes after its ``mdat`` (the NVR's and the simulator's) cannot be decoded
  before its last byte; fragmented MP4 (the playback path) after its first fragment.
  Each figure is checked by decoding exactly that prefix.
- ``all``: the last byte (download), or the whole window at playback speed (playback,
  estimated: it follows the wall clock by design).
- ``remux``: CPU time per GOP of the playback path's fMP4 remux.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import io
from pathlib import Path
import sys
import time

import aiohttp
import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.ipro_nvr.aioipro.client import IproClient  # noqa: E402
from custom_components.ipro_nvr.aioipro.models import DownloadKind, VideoCodec  # noqa: E402
from custom_components.ipro_nvr.aioipro.pacer import Pacer  # noqa: E402
from custom_components.ipro_nvr.aioipro.playback_stream import (  # noqa: E402
    Fmp4Muxer,
    picture_size,
    playback_mp4,
)
from ipro_sim import NvrSimulator, SimulatorConfig  # noqa: E402

SECONDS_PER_RECORDED_MINUTE = 2.25
"""Transfer time of one recorded minute on the field report's NVR (14-21 MB in 3-6 s)."""


@dataclass
class Result:
    path: str
    minutes: int
    first_byte: float
    first_frame: float
    total: float
    size: int


def decodable_prefix(data: bytes) -> int | None:
    """Return the length of the shortest prefix of an MP4 that holds a decodable picture.

    Top-level boxes must be complete: ``ftyp`` and ``moov``, then for a plain MP4 the
    whole ``mdat`` (its samples are indexed by a ``moov`` that may come after it), for a
    fragmented one the first ``moof`` + ``mdat``.
    """
    offset = 0
    seen: set[str] = set()
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if size < 8 or offset + size > len(data):
            return None
        offset += size
        seen.add(kind)
        if {"moov", "mdat"} <= seen:
            return offset
    return None


def frames_in(data: bytes) -> int:
    """Return how many pictures PyAV decodes from ``data`` (0 if it cannot)."""
    try:
        with av.open(io.BytesIO(data)) as container:
            return sum(1 for _ in container.decode(video=0))
    except av.FFmpegError:
        return 0


async def measure(
    name: str,
    minutes: int,
    source: AbstractAsyncContextManager[AsyncIterable[bytes]],
    stop_after_first_frame: bool,
) -> Result:
    began = time.monotonic()
    data = bytearray()
    first_byte = first_frame = None
    async with source as chunks:
        async for chunk in chunks:
            now = time.monotonic() - began
            if first_byte is None:
                first_byte = now
            data += chunk
            if first_frame is None and (prefix := decodable_prefix(bytes(data))):
                first_frame = now
                assert frames_in(bytes(data[:prefix])) > 0, "the prefix must decode"
                if stop_after_first_frame:
                    break
    total = time.monotonic() - began
    assert first_byte is not None
    assert first_frame is not None
    return Result(name, minutes, first_byte, first_frame, total, len(data))


def remux_cost(sim: NvrSimulator, gops: int = 200) -> float:
    """Return the CPU seconds per GOP of remuxing the simulator's pictures to fMP4."""
    clip = sim.recording.clip(1)
    codec = VideoCodec(sim.config.default_codec)
    muxer = Fmp4Muxer(codec, *picture_size(codec, clip.frames[0].data))
    per_gop = clip.gop_frames
    began = time.process_time()
    for number in range(gops * per_gop):
        frame = clip.frame(number)
        muxer.add(frame.data, number * 90000 // sim.config.fps, keyframe=frame.keyframe)
    muxer.close()
    return (time.process_time() - began) / gops


async def run(args: argparse.Namespace) -> None:
    minutes_list = [1, 10, 60] if args.full else [1, 10]
    config = SimulatorConfig(seed=1, download_file_seconds=args.file_minutes * 60.0)
    sim = NvrSimulator(config)
    if not args.fast:
        per_minute = len(sim.recording.mp4(1, time.time() - 7200, time.time() - 7140, True))
        config.download_bytes_per_second = per_minute / SECONDS_PER_RECORDED_MINUTE
    await sim.start("127.0.0.1", 0)
    pacer = Pacer(0.05, 0.01) if args.fast else Pacer()
    results: list[Result] = []
    async with aiohttp.ClientSession() as http:
        client = IproClient(
            http,
            sim.host,
            sim.port,
            username=config.username,
            password=config.password,
            pacer=pacer,
        )
        await client.login()
        for minutes in minutes_list:
            end = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
            start = end - timedelta(minutes=minutes)
            results.append(
                await measure(
                    "download",
                    minutes,
                    client.download_stream(1, start, end, DownloadKind.MP4),
                    stop_after_first_frame=False,
                )
            )
            playback = await measure(
                "playback",
                minutes,
                playback_mp4(client, 1, start, end),
                stop_after_first_frame=True,
            )
            playback.total = playback.first_frame + minutes * 60
            results.append(playback)
        await client.close()
    await sim.stop()

    pacing = "test pacing 0.05 s" if args.fast else "real pacing 3 s"
    throttle = (
        "unthrottled"
        if args.fast
        else f"download throttled to {SECONDS_PER_RECORDED_MINUTE} s per recorded minute"
    )
    print(
        f"simulator {config.width}x{config.height} {config.fps} fps, {pacing}, {throttle}, "
        f"files of {args.file_minutes:g} min"
    )
    print(f"{'path':<9} {'window':>7} {'first byte':>11} {'first frame':>12} {'all':>9} {'MB':>7}")
    for r in results:
        print(
            f"{r.path:<9} {r.minutes:>5} m {r.first_byte:>9.2f} s {r.first_frame:>10.2f} s "
            f"{r.total:>7.1f} s {r.size / 1e6:>7.2f}"
        )
    print(f"remux to fMP4: {remux_cost(sim) * 1e6:.0f} us CPU per GOP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also a whole hour")
    parser.add_argument("--fast", action="store_true", help="test pacing, no throttle")
    parser.add_argument(
        "--file-minutes", type=float, default=60.0, help="length of the NVR's files"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

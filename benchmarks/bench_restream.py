"""Benchmark of the restream: CPU per second of 8 Mbit/s video, streams per core, latency.

Run from the repository root:

    .venv/bin/python benchmarks/bench_restream.py            # the full table
    .venv/bin/python benchmarks/bench_restream.py --quick    # shorter windows

What is measured (all CPU figures are process CPU time, user + system, of the process
doing the work, divided by the seconds of video it handled):

1. ``mux only``: PyAV's MPEG-TS muxer alone over the 8 Mbit/s clip, as fast as it goes.
2. ``restream``: the Restreamer with an injected source replaying the clip in real time
   (30 fps), N cameras, V viewers per camera reading over loopback HTTP in another
   process. The source costs next to nothing, so this is remux + fan-out + HTTP.
3. ``HA stream worker``: Home Assistant's own ``stream_worker`` (PyAV demux of MPEG-TS +
   fMP4 remux into HLS segments, keyframe stash) reading the same video from a plain
   MPEG-TS file, in a thread, as fast as it goes. This is what HA spends on every camera
   it streams, whatever the source; the ratio says what the restream adds on top.
4. ``client + restream``: the real IproClient reading live H.264 from the simulator (in
   another process, its test pattern with noise so it reaches ~8 Mbit/s), depacketizing,
   and the Restreamer serving it: everything this integration spends per camera.
5. ``latency``: a viewer process decodes the restream with PyAV; for each decoded frame,
   decode wall time minus the simulator's capture time of that frame (its RTP time stamp,
   which is also the 0x0007/0x000A time TLV, both from the frame clock).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from fractions import Fraction
import json
import os
from pathlib import Path
import statistics
import sys
import tempfile
import threading
import time
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.ipro_nvr.aioipro.client import IproClient  # noqa: E402
from custom_components.ipro_nvr.aioipro.models import AccessUnit, AudioFrame, VideoCodec  # noqa: E402
from custom_components.ipro_nvr.aioipro.muxer import TsMuxer  # noqa: E402
from custom_components.ipro_nvr.aioipro.pacer import Pacer  # noqa: E402
from custom_components.ipro_nvr.aioipro.restream import Restreamer  # noqa: E402

CLOCK = 90000
FPS = 30
BITRATE = 8_000_000
WIDTH, HEIGHT = 1920, 1080


# ----------------------------------------------------------------------------- media


def encode_clip(codec: VideoCodec, frames: int = 60) -> list[tuple[bytes, bool]]:
    """Encode a 1080p30 clip at 8 Mbit/s (noise keeps the encoder at its target), GOP 1 s."""
    name = "libx264" if codec is VideoCodec.H264 else "libx265"
    encoder = cast(av.VideoCodecContext, av.CodecContext.create(name, "w"))
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base = Fraction(1, CLOCK)
    encoder.framerate = Fraction(FPS)
    encoder.bit_rate = BITRATE
    encoder.gop_size = FPS
    common = f"keyint={FPS}:min-keyint={FPS}:scenecut=0:repeat-headers=1"
    rate = f"vbv-maxrate={BITRATE // 1000}:vbv-bufsize={BITRATE // 4000}:nal-hrd=cbr"
    if codec is VideoCodec.H264:
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "bf": "0",
            "x264-params": f"{common}:{rate}",
        }
    else:
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": f"{common}:bframes=0:{rate}:log-level=error",
        }
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    units: list[tuple[bytes, bool]] = []
    for index in range(frames):
        # Moving noise plus fresh grain: P-frames carry data, as a real scene's do.
        grain = rng.integers(0, 24, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        picture = np.roll(base, index * 16, axis=1) // 2 + grain
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index * CLOCK // FPS
        frame.time_base = encoder.time_base
        units += [(bytes(p), bool(p.is_keyframe)) for p in encoder.encode(frame)]
    units += [(bytes(p), bool(p.is_keyframe)) for p in encoder.encode(None)]
    return units


def bitrate_of(units: list[tuple[bytes, bool]]) -> float:
    return sum(len(data) for data, _ in units) * 8 * FPS / len(units)


@dataclass
class ReplaySource:
    """A LiveSource replaying a clip in real time, like a camera: no client, no network."""

    units: list[tuple[bytes, bool]]
    codec: VideoCodec = VideoCodec.H264

    @asynccontextmanager
    async def __call__(
        self, camera: int, codec: VideoCodec, *, audio: bool = False
    ) -> AsyncIterator[AsyncIterator[AccessUnit | AudioFrame]]:
        yield self._items()

    async def _items(self) -> AsyncIterator[AccessUnit | AudioFrame]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        index = 0
        while True:
            data, key = self.units[index % len(self.units)]
            yield AccessUnit(
                codec=self.codec,
                data=data,
                timestamp=(index * 3000) & 0xFFFFFFFF,
                keyframe=key,
                info=None,
            )
            index += 1
            delay = start + index / FPS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)


# ----------------------------------------------------------------------------- helpers


async def run_child(*args: str) -> asyncio.subprocess.Process:
    """Start this script in another process (a viewer), so its CPU is not ours."""
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )


async def read_child(child: asyncio.subprocess.Process) -> Any:
    out, _ = await child.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


@dataclass
class Cpu:
    """CPU seconds of this process over a window of wall time."""

    cpu: float
    wall: float

    @property
    def share(self) -> float:
        return self.cpu / self.wall


async def measure(seconds: float) -> Cpu:
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return Cpu(time.process_time() - cpu0, time.monotonic() - wall0)


# ----------------------------------------------------------------------------- children


async def child_read(urls: list[str], seconds: float) -> None:
    """Viewer process: read every URL for ``seconds``, discard, report bytes."""
    counts = dict.fromkeys(urls, 0)

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url) as response:
            async for chunk in response.content.iter_any():
                counts[url] += len(chunk)

    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = [asyncio.create_task(one(session, url)) for url in urls]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(counts))


def child_decode(url: str, frames: int) -> None:
    """Latency viewer: decode ``frames`` frames; report (pts, wall time at decode)."""
    seen: list[tuple[int, float]] = []
    with av.open(url, "r", timeout=20) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # frame threads would hold frames back
        for frame in container.decode(stream):
            seen.append((int(frame.pts or 0), time.time()))
            if len(seen) >= frames:
                break
    print(json.dumps(seen))


SIM_BOOT = """
import asyncio, sys
import numpy as np
import ipro_sim.media as media
from ipro_sim import NvrSimulator, SimulatorConfig

noise = np.random.default_rng(3).integers(0, 256, ({h}, {w}, 3), dtype=np.uint8)
_pattern = media.pattern
def pattern(index, total, fps, width, height):
    image = _pattern(index, total, fps, width, height)
    return (image // 2 + np.roll(noise, index * 16, axis=1) // 2).astype(np.uint8)
media.pattern = pattern
_context = media._video_context
def context(key):
    ctx = _context(key)
    if key.codec != "JPEG":
        ctx.bit_rate = {bitrate}
    return ctx
media._video_context = context

async def main():
    sim = NvrSimulator(SimulatorConfig(cameras=16, registered=16, width={w}, height={h},
                                       fps={fps}, gop_seconds=1, clip_gops=2, audio=None,
                                       default_codec="{codec}", uid_lifetime=3600))
    await sim.start()
    print(sim.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


# ----------------------------------------------------------------------------- benchmarks


def bench_mux_only(units: list[tuple[bytes, bool]], codec: VideoCodec, seconds: float) -> float:
    """CPU seconds per second of video for TsMuxer alone."""
    count = int(seconds * FPS)
    start = time.process_time()
    muxer = TsMuxer(codec, audio=False)
    for index in range(count):
        data, key = units[index % len(units)]
        muxer.video(data, index * 3000, keyframe=key)
    muxer.close()
    return (time.process_time() - start) / seconds


def write_ts(units: list[tuple[bytes, bool]], codec: VideoCodec, seconds: float) -> Path:
    muxer = TsMuxer(codec, audio=False)
    chunks = []
    for index in range(int(seconds * FPS)):
        data, key = units[index % len(units)]
        chunks += muxer.video(data, index * 3000, keyframe=key)
    chunks += muxer.close()
    handle, name = tempfile.mkstemp(suffix=".ts")
    with os.fdopen(handle, "wb") as file:
        file.write(b"".join(chunk.data for chunk in chunks))
    return Path(name)


async def bench_ha_worker(source: str, seconds: float) -> float:
    """CPU seconds per second of video of HA's stream worker reading an MPEG-TS source."""
    from homeassistant.components.camera.prefs import DynamicStreamSettings  # noqa: PLC0415
    from homeassistant.components.stream.core import (  # noqa: PLC0415
        STREAM_SETTINGS_NON_LL_HLS,
        KeyFrameConverter,
    )
    from homeassistant.components.stream.diagnostics import Diagnostics  # noqa: PLC0415
    from homeassistant.components.stream.exceptions import (  # noqa: PLC0415
        StreamEndedError,
        StreamWorkerError,
    )
    from homeassistant.components.stream.worker import StreamState, stream_worker  # noqa: PLC0415

    hass = cast(Any, SimpleNamespace(loop=asyncio.get_running_loop()))
    state = StreamState(hass, dict, Diagnostics())
    converter = KeyFrameConverter(hass, STREAM_SETTINGS_NON_LL_HLS, DynamicStreamSettings())
    cpu: list[float] = []

    def work() -> None:
        start = time.thread_time()
        with suppress(StreamEndedError, StreamWorkerError):  # the source ended
            stream_worker(
                source, {}, STREAM_SETTINGS_NON_LL_HLS, state, converter, threading.Event()
            )
        cpu.append(time.thread_time() - start)

    await asyncio.to_thread(work)
    return cpu[0] / seconds


async def serve_paced(path: Path, seconds: float) -> tuple[str, Any]:
    """Serve an MPEG-TS file over loopback HTTP at its real-time rate (a plain TS source)."""
    from aiohttp import web  # noqa: PLC0415

    data = await asyncio.to_thread(path.read_bytes)
    per_tick = len(data) / seconds / FPS

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp2t"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        start, sent, tick = loop.time(), 0, 0
        while sent < len(data):
            tick += 1
            end = min(len(data), int(tick * per_tick) // 188 * 188 or 188)
            await response.write(data[sent:end])
            sent = end
            await asyncio.sleep(max(0.0, start + tick / FPS - loop.time()))
        return response

    app = web.Application()
    app.router.add_get("/clip.ts", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}/clip.ts", runner


async def bench_restream(
    units: list[tuple[bytes, bool]],
    codec: VideoCodec,
    cameras: int,
    viewers: int,
    seconds: float,
) -> tuple[float, float]:
    """CPU share of the restreaming process; returns (share, MB/s delivered)."""
    async with Restreamer(ReplaySource(units, codec), idle_timeout=2) as restreamer:
        urls = [restreamer.url(n, codec) for n in range(1, cameras + 1) for _ in range(viewers)]
        child = await run_child("--read", str(seconds + 2), *urls)
        await asyncio.sleep(2)  # connect, fill the GOP caches
        cpu = await measure(seconds)
        counts = await read_child(child)
    return cpu.share, sum(counts.values()) / (seconds + 2) / 1e6


async def start_sim(codec: VideoCodec) -> tuple[asyncio.subprocess.Process, int]:
    """Start the simulator in its own process (its CPU is not ours); return it and its port."""
    script = SIM_BOOT.format(w=WIDTH, h=HEIGHT, fps=FPS, bitrate=BITRATE, codec=codec.value)
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert sim.stdout is not None
    return sim, int(await sim.stdout.readline())


@dataclass
class FirstKey:
    rtp: int | None = None
    capture: float | None = None
    bytes: int = 0
    units: int = 0
    arrival: list[float] = field(default_factory=list)


def recording_source(client: IproClient, first: dict[int, FirstKey]) -> Any:
    """Wrap client.live_video to note each camera's first keyframe and the bit rate."""

    @asynccontextmanager
    async def source(camera: int, codec: VideoCodec, *, audio: bool = False) -> AsyncIterator[Any]:
        note = first.setdefault(camera, FirstKey())

        async def items(stream: AsyncIterator[AccessUnit | AudioFrame]) -> AsyncIterator[Any]:
            async for item in stream:
                if isinstance(item, AccessUnit):
                    note.bytes += len(item.data)
                    note.units += 1
                    if item.info is not None and item.info.time is not None:
                        capture = (
                            item.info.time.time.timestamp() + (item.info.frame_time_ms or 0) / 1000
                        )
                        note.arrival.append(time.time() - capture)
                        if note.rtp is None and item.keyframe:
                            note.rtp = item.timestamp
                            note.capture = capture
                yield item

        async with client.live_video(camera, codec, audio=audio) as stream:
            yield items(stream)

    return source


async def bench_client(
    codec: VideoCodec, cameras: int, seconds: float, latency_frames: int
) -> dict[str, Any]:
    sim, port = await start_sim(codec)
    try:
        async with aiohttp.ClientSession() as session:
            client = IproClient(
                session,
                "127.0.0.1",
                port,
                username="ADMIN",
                password="12345",
                pacer=Pacer(command_interval=0.05, control_interval=0.01),
            )
            await client.login()
            first: dict[int, FirstKey] = {}
            async with Restreamer(recording_source(client, first), idle_timeout=2) as restreamer:
                urls = [restreamer.url(n, codec) for n in range(1, cameras + 1)]
                reader = (
                    await run_child("--read", str(seconds + 4), *urls[1:]) if cameras > 1 else None
                )
                decoder = await run_child("--decode", urls[0], str(latency_frames))
                await asyncio.sleep(4)
                cpu = await measure(seconds)
                decoded = await read_child(decoder)
                if reader is not None:
                    await read_child(reader)
            await client.close()
    finally:
        sim.terminate()
        await sim.wait()
    note = first[1]
    assert note.capture is not None
    latencies = [wall - (note.capture + pts / CLOCK) for pts, wall in decoded[FPS:]]
    mbits = (
        sum(n.bytes for n in first.values())
        * 8
        / max(1, sum(n.units for n in first.values()))
        * FPS
        / 1e6
    )
    return {"share": cpu.share, "latency": latencies, "mbits": mbits, "arrival": note.arrival[FPS:]}


# ----------------------------------------------------------------------------- main


def row(name: str, value: str, note: str = "") -> None:
    print(f"| {name:<58} | {value:>22} | {note}")


async def main(args: argparse.Namespace) -> None:
    seconds = args.seconds
    codec = VideoCodec(args.codec)
    if args.client_only:
        print(f"| {'measurement':<58} | {'CPU per video-second':>22} | note")
        await client_rows(args, seconds)
        return
    print(
        f"Encoding a {WIDTH}x{HEIGHT} {FPS} fps {codec} clip at {BITRATE / 1e6:.0f} Mbit/s ...",
        file=sys.stderr,
    )
    units = encode_clip(codec)
    rate = bitrate_of(units)
    print(
        f"\nclip: {codec}, {WIDTH}x{HEIGHT}, {FPS} fps, {rate / 1e6:.2f} Mbit/s, GOP 1 s; "
        f"window {seconds:.0f} s; {os.cpu_count()} CPUs\n"
    )
    print(f"| {'measurement':<58} | {'CPU per video-second':>22} | note")
    print(f"|{'-' * 60}|{'-' * 24}|------")

    mux = bench_mux_only(units, codec, 60)
    row("PyAV MPEG-TS mux only (TsMuxer), as fast as possible", f"{mux * 1000:.2f} ms")

    single, _ = await bench_restream(units, codec, 1, 1, seconds)
    row(
        "restream, 1 camera x 1 viewer, real time",
        f"{single * 1000:.1f} ms",
        f"{single * 100:.2f} % of a core",
    )
    many, mbs = await bench_restream(units, codec, args.streams, 1, seconds)
    row(
        f"restream, {args.streams} cameras x 1 viewer, real time",
        f"{many / args.streams * 1000:.1f} ms",
        f"{many * 100:.1f} % of a core in total; {1 / (many / args.streams):.0f} streams/core; "
        f"{mbs * 8:.0f} Mbit/s out",
    )
    fan, mbs = await bench_restream(units, codec, args.streams, 2, seconds)
    row(
        f"restream, {args.streams} cameras x 2 viewers, real time",
        f"{fan / args.streams * 1000:.1f} ms",
        f"{fan * 100:.1f} % of a core in total; {mbs * 8:.0f} Mbit/s out",
    )

    path = write_ts(units, codec, seconds)
    try:
        worker = await bench_ha_worker(str(path), seconds)
        url, runner = await serve_paced(path, seconds)
        try:
            paced = await bench_ha_worker(url, seconds)
        finally:
            await runner.cleanup()
    finally:
        path.unlink()
    row(
        "HA stream_worker, MPEG-TS file, as fast as possible",
        f"{worker * 1000:.1f} ms",
        "demux + fMP4/HLS segments + keyframe stash",
    )
    row(
        "HA stream_worker, MPEG-TS over loopback HTTP, real time",
        f"{paced * 1000:.1f} ms",
        f"restream 1x1 / HA worker = {single / paced:.2f}; "
        f"{args.streams}x1: {many / args.streams / paced:.2f}",
    )

    if not args.no_client:
        await client_rows(args, seconds)


async def client_rows(args: argparse.Namespace, seconds: float) -> None:
    """Rows 4 and 5 of the module docstring: the real client reading the simulator."""
    result = await bench_client(
        VideoCodec.H264, args.client_streams, seconds, latency_frames=int((seconds + 3) * FPS)
    )
    share = result["share"]
    row(
        f"client + restream from the simulator, {args.client_streams} camera(s), H.264",
        f"{share / args.client_streams * 1000:.1f} ms",
        f"{share * 100:.1f} % of a core; {result['mbits']:.1f} Mbit/s per camera; "
        f"{1 / (share / args.client_streams):.0f} streams/core",
    )
    lat = sorted(result["latency"])
    arrival = sorted(result["arrival"])
    row(
        "latency, simulator frame clock -> access unit from client",
        f"p50 {statistics.median(arrival) * 1000:.0f} ms",
        f"p95 {arrival[int(len(arrival) * 0.95)] * 1000:.0f} ms (the NVR side)",
    )
    row(
        "latency, simulator frame clock -> frame decoded (PyAV)",
        f"p50 {statistics.median(lat) * 1000:.0f} ms",
        f"p95 {lat[int(len(lat) * 0.95)] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms, "
        f"{len(lat)} frames",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--client-streams", type=int, default=4)
    parser.add_argument("--codec", choices=["H264", "H265"], default="H264")
    parser.add_argument("--no-client", action="store_true", help="skip the simulator rows")
    parser.add_argument("--client-only", action="store_true", help="only the simulator rows")
    parser.add_argument("--quick", action="store_true", help="5 s windows")
    parser.add_argument("--read", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--decode", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.read:
        asyncio.run(child_read(arguments.read[1:], float(arguments.read[0])))
    elif arguments.decode:
        child_decode(arguments.decode[0], int(arguments.decode[1]))
    else:
        if arguments.quick:
            arguments.seconds = 5.0
        asyncio.run(main(arguments))

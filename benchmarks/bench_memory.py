"""Benchmark: memory of live streams through the integration - the bound per stream, and flat.

Run from the repository root:

    .venv/bin/python benchmarks/bench_memory.py                    # 10 minutes, 4 streams
    .venv/bin/python benchmarks/bench_memory.py --minutes 2 --streams 8
    .venv/bin/python benchmarks/bench_memory.py --no-tracemalloc   # RSS only, less overhead

The NVR is bench_restream.py's simulator (16 cameras, 1080p30 H.264 at about 8 Mbit/s,
its own process). Home Assistant and the integration run here with the production
pacer; ``--streams`` camera entities' stream sources (the integration's restream) are
read by bench_restream.py's viewer process, as Home Assistant's stream worker or go2rtc
would read them. After ``--warmup`` seconds (every GOP cache full, the allocator
settled) this process's RSS and, unless ``--no-tracemalloc``, the Python heap
(tracemalloc) are sampled every ``--sample`` seconds for ``--minutes``.

Reported: memory per stream (heap with the streams minus before them, over the
streams), growth from the end of the warm-up to the end, the slope over the second half
(a leak shows as a steady slope; a bounded buffer as a plateau), the allocation sites
that grew most, and the bound per stream that the code's limits give.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import statistics
import sys
import time
import tracemalloc
from types import SimpleNamespace

from bench_restream import start_sim
from harness import header, home_assistant, loaded_entry, row, run

MIB = 1024 * 1024


def rss() -> int:
    """Return this process's resident set size in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def heap() -> int:
    """Return the bytes Python allocated and still holds (tracemalloc), 0 when off."""
    return tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0


def slope(samples: list[tuple[float, int]]) -> float:
    """Return the least-squares slope of (seconds, bytes) samples in MiB per minute."""
    if len(samples) < 2:
        return 0.0
    times = [t for t, _ in samples]
    values = [v for _, v in samples]
    return statistics.linear_regression(times, values).slope * 60 / MIB


def code_bound() -> list[tuple[str, int, str]]:
    """Return the limits the code puts on one live stream's buffers, largest first."""
    from custom_components.ipro_nvr.aioipro import h26x, live, multipart, restream  # noqa: PLC0415

    defaults = restream.Restreamer.__init__.__kwdefaults__
    assert defaults is not None
    return [
        ("viewer backlog (per viewer)", defaults["viewer_buffer"], "restream._Viewer"),
        ("access unit being assembled", h26x.MAX_ACCESS_UNIT_SIZE, "h26x"),
        ("GOP cache for new viewers", defaults["gop_cache"], "restream._publish"),
        ("multipart part being read", multipart.MAX_PART_SIZE, "multipart"),
        (
            f"client queue ({live.DEFAULT_VIDEO_QUEUE} access units, by count)",
            live.DEFAULT_VIDEO_QUEUE,
            "live.DropBuffer",
        ),
    ]


async def bench(args: argparse.Namespace) -> None:
    from custom_components.ipro_nvr.aioipro.models import VideoCodec  # noqa: PLC0415
    from custom_components.ipro_nvr.camera import live_media  # noqa: PLC0415

    if not args.no_tracemalloc:
        tracemalloc.start(1)
    sim_process, port = await start_sim(VideoCodec.H264)
    viewers: asyncio.subprocess.Process | None = None
    try:
        async with home_assistant() as hass:
            entry = await loaded_entry(hass, SimpleNamespace(host="127.0.0.1", port=port))
            media = live_media(hass, entry)
            assert media is not None
            await asyncio.sleep(5)
            rss_before, heap_before = rss(), heap()

            cameras = range(1, args.streams + 1)
            seconds = args.warmup + args.minutes * 60 + 120
            viewers = await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).with_name("bench_restream.py")),
                "--read",
                str(seconds),
                *(media.stream_url(camera) for camera in cameras),
                stdout=asyncio.subprocess.DEVNULL,
            )
            started = time.monotonic()
            print(f"warming up for {args.warmup:.0f} s ...", file=sys.stderr, flush=True)
            await asyncio.sleep(args.warmup)
            stats = [media.restreamer.stats(camera) for camera in cameras]
            if not all(s is not None and s.keyframes for s in stats):
                raise RuntimeError(f"not every stream runs after the warm-up: {stats}")
            snapshot = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
            bytes0 = sum(s.bytes_out for s in stats if s is not None)
            t0 = time.monotonic()
            rss_samples = [(0.0, rss())]
            heap_samples = [(0.0, heap())]
            end = t0 + args.minutes * 60
            while (now := time.monotonic()) < end:
                await asyncio.sleep(min(args.sample, end - now))
                rss_samples.append((time.monotonic() - t0, rss()))
                heap_samples.append((time.monotonic() - t0, heap()))
                print(
                    f"  {rss_samples[-1][0]:5.0f} s  RSS {rss_samples[-1][1] / MIB:7.1f} MiB"
                    f"  heap {heap_samples[-1][1] / MIB:7.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
            stats = [media.restreamer.stats(camera) for camera in cameras]
            wall = time.monotonic() - t0
            streamed = sum(s.bytes_out for s in stats if s is not None) - bytes0
            skips = sum(s.skips for s in stats if s is not None)
            connects = sum(s.connects for s in stats if s is not None)
            growth = (
                tracemalloc.take_snapshot().compare_to(snapshot, "lineno")[:6]
                if snapshot is not None
                else []
            )
            await hass.config_entries.async_unload(entry.entry_id)
    finally:
        if viewers is not None and viewers.returncode is None:
            viewers.terminate()
            await viewers.wait()
        sim_process.terminate()
        await sim_process.wait()

    header(
        f"Memory of {args.streams} live streams (1080p30 H.264 ~8 Mbit/s) through the "
        f"integration, {wall / 60:.1f} min after {time.monotonic() - started - wall:.0f} s "
        "of warm-up"
    )
    half = [s for s in rss_samples if s[0] >= wall / 2]
    half_heap = [s for s in heap_samples if s[0] >= wall / 2]
    row(
        "restreamed",
        f"{streamed * 8 / wall / 1e6 / args.streams:.1f} Mbit/s a stream",
        f"{connects} NVR connections, {skips} viewer skips (a skip drops a backlog)",
    )
    if heap_samples[0][1]:
        per_stream = (heap_samples[0][1] - heap_before) / args.streams
        row(
            "Python heap per stream (tracemalloc)",
            f"{per_stream / MIB:.2f} MiB",
            f"{heap_before / MIB:.1f} MiB before the streams, "
            f"{heap_samples[0][1] / MIB:.1f} MiB after the warm-up",
        )
        row(
            "heap growth over the run",
            f"{(heap_samples[-1][1] - heap_samples[0][1]) / MIB:+.2f} MiB",
            f"max {max(v for _, v in heap_samples) / MIB:.1f} MiB; second-half slope "
            f"{slope(half_heap):+.3f} MiB/min",
        )
    row(
        "RSS per stream",
        f"{(rss_samples[0][1] - rss_before) / args.streams / MIB:.1f} MiB",
        f"{rss_before / MIB:.0f} MiB before the streams (PyAV/FFmpeg buffers count here)",
    )
    row(
        "RSS growth over the run",
        f"{(rss_samples[-1][1] - rss_samples[0][1]) / MIB:+.1f} MiB",
        f"max {max(v for _, v in rss_samples) / MIB:.0f} MiB; second-half slope "
        f"{slope(half):+.3f} MiB/min",
    )
    for stat in growth:
        frame = stat.traceback[0]
        row(
            f"  grew: {Path(frame.filename).name}:{frame.lineno}",
            f"{stat.size_diff / 1024:+.0f} KiB",
            f"{stat.count_diff:+d} blocks, {stat.size / 1024:.0f} KiB now",
        )
    total = sum(size for name, size, _ in code_bound() if "client queue" not in name)
    for name, size, where in code_bound():
        value = f"{size} items" if "client queue" in name else f"{size / MIB:g} MiB"
        row(f"bound: {name}", value, where)
    row(
        "bound per stream with one viewer",
        f"{total / MIB:g} MiB + queue",
        "worst case, every limit full at once; in steady state one GOP and a few frames",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes sampled")
    parser.add_argument("--streams", type=int, default=4, help="live streams (default 4)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before sampling")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="RSS only (tracemalloc costs CPU)"
    )
    args = parser.parse_args()
    run(lambda: bench(args))


if __name__ == "__main__":
    main()

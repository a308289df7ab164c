"""Benchmark: memory a download costs when the NVR's answer is junk, and when it is good.

Run from the repository root:

    .venv/bin/python benchmarks/bench_download_faults.py
    .venv/bin/python benchmarks/bench_download_faults.py --junk-mib 8 64 256 --minutes 30 \
        --one-part-video 1280x720@10 --one-part-minutes 50

For each size in ``--junk-mib`` the simulator answers ``httpdl.cgi`` with that many random
bytes (multipart content type, no boundary); then it serves a real ``--minutes`` MP4
download in its usual 64 KiB parts for comparison; then a ``--one-part-minutes`` MP4 of a
``--one-part-video`` recording as one file sent as a single part, with and without
Content-Length, downloaded to a file and streamed (the clip view's path). The simulator
runs in its own process, so the traced peak is what the client spent reading the answer.

Reported per answer: the outcome (the error the client raised, or what it received), the
Python heap's peak while it ran (tracemalloc) and the wall time to the error or the end
(for the one-part rows, the simulator's building of the file included). The bound to
compare junk with is the multipart reader's limit on junk (4 MiB) plus one read
(256 KiB); a part's body is streamed in chunks of one read, whatever its size.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sys
import tempfile
import time
import tracemalloc

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from custom_components.ipro_nvr.aioipro import DownloadKind, IproError  # noqa: E402
from custom_components.ipro_nvr.aioipro.client import IproClient  # noqa: E402
from custom_components.ipro_nvr.aioipro.pacer import Pacer  # noqa: E402
from ipro_sim import SimulatorConfig  # noqa: E402

MIB = 1024 * 1024


SIM_BOOT = """
import asyncio, os, sys
from ipro_sim import NvrSimulator, SimulatorConfig

async def main():
    sim = NvrSimulator(SimulatorConfig(seed=1, **{options!r}))
    await sim.start("127.0.0.1", 0)
    if {junk}:
        sim.faults.download_answer = os.urandom({junk})
    print(sim.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def receive(
    client: IproClient, start: datetime, end: datetime, folder: Path, stream: bool
) -> str:
    """Download ``start``..``end`` of camera 1 to ``folder`` or as a stream; say what came."""
    if not stream:
        files = await client.download(1, start, end, DownloadKind.MP4, folder)
        return f"{len(files)} file(s), {sum(f.size for f in files) / MIB:.1f} MiB"
    size = largest = 0
    async with client.download_stream(1, start, end, DownloadKind.MP4) as chunks:
        async for chunk in chunks:
            size += len(chunk)
            largest = max(largest, len(chunk))
    return f"{size / MIB:.1f} MiB, chunks <= {largest // 1024} KiB"


async def measure(
    minutes: int,
    folder: Path,
    *,
    junk: int = 0,
    options: dict[str, object] | None = None,
    stream: bool = False,
) -> tuple[str, float, float]:
    """Download ``minutes`` of camera 1; return the outcome, the traced peak and the time."""
    boot = SIM_BOOT.format(junk=junk, options=options or {})
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-c", boot, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert sim.stdout is not None
    port = int(await sim.stdout.readline())
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    config = SimulatorConfig()
    try:
        async with aiohttp.ClientSession() as session:
            client = IproClient(
                session,
                "127.0.0.1",
                port,
                username=config.username,
                password=config.password,
                pacer=Pacer(command_interval=0.01, control_interval=0.01),
            )
            tracemalloc.start()
            began = time.perf_counter()
            try:
                start = end - timedelta(minutes=minutes)
                outcome = await receive(client, start, end, folder, stream)
            except IproError as err:
                outcome = type(err).__name__
            elapsed = time.perf_counter() - began
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            await client.close()
    finally:
        sim.terminate()
        await sim.wait()
    return outcome, peak / MIB, elapsed


def video(text: str) -> dict[str, object]:
    """``"1280x720@10"`` -> the simulator's picture size and frame rate."""
    size, _, fps = text.partition("@")
    width, _, height = size.partition("x")
    try:
        return {"width": int(width), "height": int(height), "fps": int(fps or 10)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not WIDTHxHEIGHT@FPS: {text!r}") from None


async def main(
    junk_mib: list[int], minutes: int, one_part: dict[str, object], one_part_minutes: int
) -> None:
    """Print one row per answer."""
    print("| answer | outcome | traced peak | time |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for size in junk_mib:
            outcome, peak, elapsed = await measure(2, Path(folder), junk=size * MIB)
            print(f"| {size} MiB of junk | {outcome} | {peak:.1f} MiB | {elapsed:.2f} s |")
        outcome, peak, elapsed = await measure(minutes, Path(folder))
        print(f"| {minutes} min MP4, 64 KiB parts | {outcome} | {peak:.1f} MiB | {elapsed:.2f} s |")
        described = f"{one_part['width']}x{one_part['height']}@{one_part['fps']}"
        for sized in (True, False):
            options = {
                **one_part,
                "download_file_seconds": 3600.0,
                "download_part_size": 0,
                "download_content_length": sized,
            }
            framing = "Content-Length" if sized else "no Content-Length"
            for stream in (False, True):
                outcome, peak, elapsed = await measure(
                    one_part_minutes, Path(folder), options=options, stream=stream
                )
                how = "streamed" if stream else "to a file"
                answer = f"{one_part_minutes} min {described} MP4 in one part, {framing}, {how}"
                print(f"| {answer} | {outcome} | {peak:.1f} MiB | {elapsed:.2f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junk-mib", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--minutes", type=int, default=30, help="length of the good download")
    parser.add_argument(
        "--one-part-video",
        type=video,
        default=video("1280x720@10"),
        help="recording of the one-part downloads, WIDTHxHEIGHT@FPS",
    )
    parser.add_argument(
        "--one-part-minutes", type=int, default=50, help="length of the one-part downloads (<= 60)"
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.junk_mib,
            arguments.minutes,
            arguments.one_part_video,
            arguments.one_part_minutes,
        )
    )

"""Benchmark: memory a download costs when the NVR's answer is junk, and when it is good.

Run from the repository root:

    .venv/bin/python benchmarks/bench_download_faults.py
    .venv/bin/python benchmarks/bench_download_faults.py --junk-mib 8 64 256 --minutes 30

For each size in ``--junk-mib`` the simulator answers ``httpdl.cgi`` with that many random
bytes (multipart content type, no boundary); then it serves a real ``--minutes`` MP4
download for comparison. The simulator runs in its own process, so the traced peak is
what the client spent reading the answer.

Reported per answer: the error the client raised, the Python heap's peak while it ran
(tracemalloc) and the wall time to the error or the files. The bound to compare with is
the multipart reader's part limit (4 MiB) plus one read (256 KiB).
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
    sim = NvrSimulator(SimulatorConfig(seed=1))
    await sim.start("127.0.0.1", 0)
    if {junk}:
        sim.faults.download_answer = os.urandom({junk})
    print(sim.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def measure(junk: int, minutes: int, folder: Path) -> tuple[str, float, float]:
    """Download ``minutes`` of camera 1; return the outcome, the traced peak and the time."""
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SIM_BOOT.format(junk=junk), stdout=asyncio.subprocess.PIPE, cwd=ROOT
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
                files = await client.download(
                    1, end - timedelta(minutes=minutes), end, DownloadKind.MP4, folder
                )
                outcome = f"{len(files)} file(s), {sum(f.size for f in files) / MIB:.1f} MiB"
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


async def main(junk_mib: list[int], minutes: int) -> None:
    """Print one row per answer."""
    print("| answer | outcome | traced peak | time |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for size in junk_mib:
            outcome, peak, elapsed = await measure(size * MIB, 2, Path(folder))
            print(f"| {size} MiB of junk | {outcome} | {peak:.1f} MiB | {elapsed:.2f} s |")
        outcome, peak, elapsed = await measure(0, minutes, Path(folder))
        print(f"| {minutes} min MP4 | {outcome} | {peak:.1f} MiB | {elapsed:.2f} s |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junk-mib", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--minutes", type=int, default=30, help="length of the good download")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.junk_mib, arguments.minutes))

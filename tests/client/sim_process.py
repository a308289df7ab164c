"""The simulator in a process of its own, for tests that trace the client's memory.

``tracemalloc`` counts every allocation of the process: a simulator in the test's own
process building a 64 MiB file would hide what the client spent receiving it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[2]

BOOT = """
import asyncio, sys
from ipro_sim import NvrSimulator, SimulatorConfig

async def main():
    sim = NvrSimulator(SimulatorConfig(**{options!r}))
    await sim.start("127.0.0.1", 0)
    print(sim.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.stop()

asyncio.run(main())
"""


@asynccontextmanager
async def simulator_process(**options: object) -> AsyncIterator[int]:
    """Run ``NvrSimulator(SimulatorConfig(**options))`` on 127.0.0.1; yield its port.

    ``options`` must be literals (numbers, strings, booleans). The simulator stops when
    its standard input closes.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BOOT.format(options=options),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            port = int(await process.stdout.readline())
        yield port
    finally:
        process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

"""Benchmark: opening a recording while the integration polls, at the real 3 s pacing.

A recording opened from the media browser plays through ``playback_mp4``: a login for its
own session and two playback commands (MASK, GOTODATE), all in the 3 s command lane that
the coordinator's polls use too, then GOPs (not paced) until the first fragment decodes.
This measures the time from opening to the first decodable fragment with the entry
loaded at its default options, under the pacer's rule (after two polls in a row a
waiting request goes next) and, in the same run, under the former rule (polls always
first), alternating, so that the ratio compares like with like on a noisy machine.

Run: ``.venv/bin/python benchmarks/bench_recording_start.py [--runs N]``
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
import random
import time

from bench_playback import decodable_prefix
from harness import SimProcess, entry_for, header, home_assistant, percentile, row, run, summary

from custom_components.ipro_nvr.aioipro import pacer
from custom_components.ipro_nvr.aioipro.playback_stream import playback_mp4

RULES = ("turn after 2 polls", "polls first")


@contextmanager
def polls_always_first() -> Iterator[None]:
    """The former rule: a waiting poll always goes next."""
    turns = pacer._LaneQueue._turns  # the benchmark's point of comparison

    def first(self: pacer._LaneQueue) -> tuple[object, ...]:
        return (self._priority, self._ordinary)

    pacer._LaneQueue._turns = first  # type: ignore[assignment, method-assign]
    try:
        yield
    finally:
        pacer._LaneQueue._turns = turns  # type: ignore[method-assign]


async def open_recording(client: object, camera: int) -> float:
    """Seconds from opening camera ``camera``'s recording of 2 h ago to its first fragment."""
    start = datetime.now(UTC) - timedelta(hours=2)
    began = time.monotonic()
    data = bytearray()
    async with playback_mp4(client, camera, start) as stream:  # type: ignore[arg-type]
        async for chunk in stream:
            data += chunk
            if decodable_prefix(bytes(data)):
                return time.monotonic() - began
    raise RuntimeError("the playback ended before its first fragment")


async def bench(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    config = {"model": "WJ-NX400", "seed": 1, "audio": None}
    times: dict[str, list[float]] = {rule: [] for rule in RULES}
    async with SimProcess(config) as sim, home_assistant() as hass:
        entry = entry_for(hass, sim)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await asyncio.sleep(args.warmup)
        client = entry.runtime_data.client
        for _ in range(args.runs):
            for rule in RULES:
                # Open at a random moment of the poll cycle.
                await asyncio.sleep(rng.uniform(0, 5))
                if rule == RULES[0]:
                    times[rule].append(await open_recording(client, 1))
                else:
                    with polls_always_first():
                        times[rule].append(await open_recording(client, 1))
        await hass.config_entries.async_unload(entry.entry_id)

    header(
        f"Opening a recording while the entry polls (default options, real pacing), "
        f"{args.runs} runs per rule, alternating"
    )
    for rule in RULES:
        row(
            f"{rule}: open -> first decodable fragment",
            f"median {percentile(times[rule], 0.5):.1f} s",
            summary(times[rule]),
        )
    ratio = percentile(times["polls first"], 0.5) / percentile(times[RULES[0]], 0.5)
    row("median, polls first / turn after 2 polls", f"{ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=6, help="recordings opened per rule")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds of polling first")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the moments")
    args = parser.parse_args()

    async def go() -> None:
        await bench(args)

    run(go)


if __name__ == "__main__":
    main()

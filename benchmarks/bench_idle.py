"""Benchmark: the idle cost of a 128-camera NVR entry - CPU per minute and state writes.

Run from the repository root:

    .venv/bin/python benchmarks/bench_idle.py                  # 5 minutes of polling
    .venv/bin/python benchmarks/bench_idle.py --minutes 11     # past a disk poll (600 s)

Budget: under 1 % of a core for steady polling; no state writes when nothing changed.

Home Assistant runs in this process, the simulated NVR (128 cameras, no random log
growth, so nothing changes) in another. First Home Assistant alone is measured
(``--baseline`` seconds: HTTP, the event loop's own timers), then the entry is set up
with the production pacer and default options, left to reach its steady cadence
(``--warmup``), and measured for ``--minutes``. CPU is this process's user + system
time (``getrusage``), all threads included.

State writes of the integration's entities are counted three ways: ``state_changed``
events, ``state_reported`` events (the same state written again) and calls of
``Entity.async_write_ha_state``, per domain. Home Assistant's camera component
rotates every camera entity's access token every 5 minutes (``entity_picture``
changes): those 128 ``state_changed`` per 5 minutes are core behaviour, listed
apart.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
import time

from harness import (
    SimProcess,
    count_writes,
    cpu_seconds,
    header,
    home_assistant,
    loaded_entry,
    ptz_options,
    row,
    run,
    sim_config_128,
)

BUDGET = 0.01  # share of one core


async def bench(args: argparse.Namespace) -> None:
    from custom_components.ipro_nvr.const import DOMAIN, EVENT_IPRO_NVR  # noqa: PLC0415

    async with SimProcess(sim_config_128()) as sim, home_assistant() as hass:
        await hass.async_block_till_done()
        await asyncio.sleep(2)
        wall0, cpu0 = time.monotonic(), cpu_seconds()
        await asyncio.sleep(args.baseline)
        baseline = (cpu_seconds() - cpu0) / (time.monotonic() - wall0)

        entry = await loaded_entry(hass, sim, ptz_options(args.ptz) if args.ptz else {})
        await asyncio.sleep(args.warmup)

        async with count_writes(hass, DOMAIN) as writes:
            first_request = await sim.request_count()
            sim_cpu0 = await sim.cpu()
            wall0, cpu0 = time.monotonic(), cpu_seconds()
            samples: list[float] = []
            for _ in range(int(args.minutes)):
                minute_cpu = cpu_seconds()
                await asyncio.sleep(60)
                samples.append(cpu_seconds() - minute_cpu)
            wall, cpu = time.monotonic() - wall0, cpu_seconds() - cpu0
            sim_cpu = await sim.cpu() - sim_cpu0
            requests = await sim.requests(first_request)

        # New log entries, one a poll: which entities write, and what it costs.
        async with count_writes(hass, DOMAIN) as event_writes:
            arrived = asyncio.Event()
            unsub = hass.bus.async_listen(EVENT_IPRO_NVR, lambda _event: arrived.set())
            event_cpu = event_wall = 0.0
            for index in range(args.events):
                arrived.clear()
                wall1, cpu1 = time.monotonic(), cpu_seconds()
                await sim.add_event("SITE(VMD)", camera=index % 128 + 1)
                await asyncio.wait_for(arrived.wait(), 60)
                # The refresh is a background task: its listeners run after the bus event.
                await hass.async_block_till_done(wait_background_tasks=True)
                event_cpu += cpu_seconds() - cpu1
                event_wall += time.monotonic() - wall1
            unsub()
        await hass.config_entries.async_unload(entry.entry_id)

    share = cpu / wall
    header(f"Idle cost of a 128-camera NVR entry over {wall / 60:.1f} min (default options)")
    row("Home Assistant alone (baseline)", f"{baseline * 100:.3f} % of a core", "same process")
    row(
        "with the entry, polling",
        f"{share * 100:.3f} % of a core",
        f"{cpu / wall * 60:.3f} CPU s per minute; the entry adds "
        f"{(share - baseline) * 100:.3f} % (budget {BUDGET * 100:g} %: "
        f"{'met' if share - baseline < BUDGET else 'MISSED'})",
    )
    row(
        "per minute (CPU s)",
        f"max {max(samples):.3f}",
        ", ".join(f"{s:.3f}" for s in samples),
    )
    row("simulator process (not ours)", f"{sim_cpu / wall * 100:.3f} % of a core", "")
    by_cgi = Counter(r.cgi for r in requests if r.status != 401)
    row(
        "requests to the NVR",
        f"{sum(by_cgi.values()) / wall * 60:.1f} per minute",
        ", ".join(f"{cgi} {n}" for cgi, n in sorted(by_cgi.items())),
    )
    changed, reported, calls = writes.total()
    core = writes.changed.get("camera", 0)
    row(
        "state_changed (integration's entities)",
        str(changed),
        ", ".join(f"{d} {n}" for d, n in sorted(writes.changed.items()))
        + (f"; camera: {core} = access-token rotation (core, 5 min)" if core else ""),
    )
    row(
        "state_reported (same state written again)",
        str(reported),
        ", ".join(f"{d} {n}" for d, n in sorted(writes.reported.items())) or "none",
    )
    row(
        "async_write_ha_state calls",
        str(calls),
        ", ".join(f"{d} {n}" for d, n in sorted(writes.writes.items())) or "none",
    )
    changed, reported, calls = event_writes.total()
    events = max(args.events, 1)
    # The window also holds idle polling until the entry's poll: take its idle share off.
    per_event = (event_cpu - event_wall * share) / events
    row(
        f"a new event (x{args.events}): CPU of its refresh",
        f"{per_event * 1000:.1f} ms",
        "over the idle cost; the poll, parse, bus event and the writes below",
    )
    row(
        "  state_changed per event",
        f"{changed / events:.1f}",
        ", ".join(f"{d} {n / events:g}" for d, n in sorted(event_writes.changed.items())),
    )
    row(
        "  state_reported per event (nothing new)",
        f"{reported / events:.1f}",
        ", ".join(f"{d} {n / events:g}" for d, n in sorted(event_writes.reported.items()))
        or "none",
    )
    row(
        "  async_write_ha_state calls per event",
        f"{calls / events:.1f}",
        ", ".join(f"{d} {n / events:g}" for d, n in sorted(event_writes.writes.items())) or "none",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=int, default=5, help="minutes measured (default 5)")
    parser.add_argument(
        "--baseline", type=float, default=60.0, help="seconds of HA alone (default 60)"
    )
    parser.add_argument(
        "--warmup", type=float, default=45.0, help="seconds before measuring (default 45)"
    )
    parser.add_argument(
        "--events", type=int, default=5, help="new events timed after the idle window"
    )
    parser.add_argument(
        "--ptz", type=int, default=21, help="PTZ cameras with 3 presets (default 21)"
    )
    args = parser.parse_args()
    run(lambda: bench(args))


if __name__ == "__main__":
    main()

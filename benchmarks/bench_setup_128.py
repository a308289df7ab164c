"""Benchmark: set-up of a config entry for a simulated 128-camera NVR, with the real pacing.

Run from the repository root:

    .venv/bin/python benchmarks/bench_setup_128.py              # budget: under 30 s
    .venv/bin/python benchmarks/bench_setup_128.py --ptz 0      # no PTZ entities

The simulator (128 cameras, all registered, the first ``--ptz`` marked PTZ with three
named presets each) runs in its own process; Home Assistant and the integration run in
this one with the production pacer (3 s between commands). The set-up is timed from
``hass.config_entries.async_setup`` until every entity is in the state machine, split
into:

- ``login``: ``IproClient.login`` (the first command; nothing to wait for);
- ``first poll``: the coordinator's first refresh, four commands (camera status, event
  log, error log, disks), each 3 s after the previous answer: about 12 s of pacing;
- ``entities``: forwarding to the platforms until the entities are written;
- ``block_till_done``: whatever the set-up left running.

CPU is this process's user + system time in each phase.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
import time
from unittest.mock import patch

from harness import (
    REAL_COMMAND_INTERVAL,
    SimProcess,
    cpu_seconds,
    entry_for,
    header,
    home_assistant,
    ptz_options,
    row,
    run,
    sim_config_128,
)

BUDGET = 30.0


class Phases:
    """Wall and CPU time at the start and end of each timed call."""

    def __init__(self) -> None:
        self.marks: dict[str, tuple[float, float, float, float]] = {}

    def timed[**P, R](
        self, name: str, func: Callable[P, Awaitable[R]]
    ) -> Callable[P, Awaitable[R]]:
        """Wrap ``func`` so the first call's wall and CPU span is kept under ``name``."""

        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            wall, cpu = time.monotonic(), cpu_seconds()
            try:
                return await func(*args, **kwargs)
            finally:
                self.marks.setdefault(name, (wall, time.monotonic(), cpu, cpu_seconds()))

        return wrapper


async def bench(args: argparse.Namespace) -> None:
    from homeassistant.config_entries import ConfigEntries, ConfigEntryState  # noqa: PLC0415
    from homeassistant.helpers import device_registry as dr, entity_registry as er  # noqa: PLC0415

    from custom_components.ipro_nvr.aioipro.client import IproClient  # noqa: PLC0415
    from custom_components.ipro_nvr.coordinator import IproNvrCoordinator  # noqa: PLC0415

    phases = Phases()
    async with (
        SimProcess(sim_config_128(ptz_cameras=max(args.ptz, 1))) as sim,
        home_assistant() as hass,
    ):
        entry = entry_for(hass, sim, ptz_options(args.ptz) if args.ptz else {})
        with (
            patch.object(IproClient, "login", phases.timed("login", IproClient.login)),
            patch.object(
                IproNvrCoordinator,
                "async_config_entry_first_refresh",
                phases.timed("first poll", IproNvrCoordinator.async_config_entry_first_refresh),
            ),
            patch.object(
                ConfigEntries,
                "async_forward_entry_setups",
                phases.timed("entities", ConfigEntries.async_forward_entry_setups),
            ),
        ):
            wall0, cpu0 = time.monotonic(), cpu_seconds()
            assert await hass.config_entries.async_setup(entry.entry_id)
            wall1, cpu1 = time.monotonic(), cpu_seconds()
            await hass.async_block_till_done()
            wall2, cpu2 = time.monotonic(), cpu_seconds()
        assert entry.state is ConfigEntryState.LOADED, entry.state

        entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        states = [e for e in entities if hass.states.get(e.entity_id) is not None]
        by_domain: dict[str, int] = {}
        for item in entities:
            by_domain[item.domain] = by_domain.get(item.domain, 0) + 1
        requests = await sim.requests()

        header(
            f"Set-up of a 128-camera NVR entry (pacing {REAL_COMMAND_INTERVAL:g} s, "
            f"{args.ptz} PTZ cameras)"
        )
        last = wall0
        for name in ("login", "first poll", "entities"):
            start, end, c0, c1 = phases.marks[name]
            row(
                name,
                f"{end - start:.2f} s",
                f"starts at +{start - wall0:.2f} s (gap {start - last:.2f} s); CPU {c1 - c0:.2f} s",
            )
            last = end
        row("async_setup returned", f"{wall1 - wall0:.2f} s", f"CPU {cpu1 - cpu0:.2f} s")
        row(
            "block_till_done afterwards",
            f"{wall2 - wall1:.2f} s",
            f"CPU {cpu2 - cpu1:.2f} s",
        )
        total = wall2 - wall0
        row(
            "total set-up",
            f"{total:.2f} s",
            f"budget {BUDGET:g} s: {'met' if total < BUDGET else 'MISSED'}; "
            f"CPU {cpu2 - cpu0:.2f} s",
        )
        row(
            "entities (registry) / with a state",
            f"{len(entities)} / {len(states)}",
            ", ".join(f"{d} {n}" for d, n in sorted(by_domain.items())),
        )
        row("devices", str(len(devices)), "the NVR and one per registered camera")
        row(
            "requests to the NVR during set-up",
            str(len(requests)),
            ", ".join(
                f"{r.cgi}{' (401 challenge)' if r.status == 401 else ''} +{r.time - wall0:.2f}"
                for r in requests
            ),
        )
        await hass.config_entries.async_unload(entry.entry_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--ptz",
        type=int,
        default=21,
        help="PTZ cameras with three named presets each (default 21: about 640 entities)",
    )
    args = parser.parse_args()
    run(lambda: bench(args))


if __name__ == "__main__":
    main()

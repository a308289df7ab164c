"""Shared harness of the scale benchmarks: the simulator in its own process, HA in this one.

Why two processes: the CPU budgets are about what Home Assistant and the integration
spend, so the simulated NVR must not run on this process's clock. The simulator runs in
a child process (``python benchmarks/harness.py --sim-child CONFIG``) driven over its
stdin/stdout with one JSON object a line; ``time.monotonic()`` is the same clock in both
processes on Linux (CLOCK_MONOTONIC), so request arrival times at the NVR compare with
times taken here.

Home Assistant runs in this process the way its test plugin starts it
(``async_test_home_assistant``: real core, registries, config entries, event bus), on
Home Assistant's own event loop (``runner.create_event_loop``: its executor, its
``loop.time``), with HTTP bound to a free loopback port. The integration runs unchanged,
with its production pacer (3 s commands, 0.2 s camera control) unless a benchmark says
otherwise.

Not a test module: nothing here runs under pytest.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import json
import logging
from pathlib import Path
import resource
import socket
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REAL_COMMAND_INTERVAL = 3.0
REAL_CONTROL_INTERVAL = 0.2
CAMERAS_128 = 128


# ----------------------------------------------------------------------------- figures


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads, the executor included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], share: float) -> float:
    """Return the value below which ``share`` (0..1) of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: list[float], scale: float = 1.0, unit: str = "s") -> str:
    """Return ``median, p95, max`` of ``values`` (seconds, times ``scale`` in ``unit``)."""
    if not values:
        return "no samples"
    digits = 2 if scale == 1 else 0
    median, p95, top = (
        statistics.median(values) * scale,
        percentile(values, 0.95) * scale,
        max(values) * scale,
    )
    return (
        f"median {median:.{digits}f} {unit}, p95 {p95:.{digits}f} {unit}, "
        f"max {top:.{digits}f} {unit} (n={len(values)})"
    )


def row(name: str, value: str, note: str = "") -> None:
    """Print one row of a benchmark's result table."""
    print(f"| {name:<46} | {value:>28} | {note}", flush=True)


def header(title: str) -> None:
    """Print a result table's title and column header."""
    print(f"\n{title}\n", flush=True)
    print(f"| {'measurement':<46} | {'figure':>28} | note")
    print(f"|{'-' * 48}|{'-' * 30}|------", flush=True)


# ----------------------------------------------------------------------------- simulator


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the simulator saw it: arrival time (monotonic), CGI, query, status."""

    time: float
    cgi: str
    query: list[tuple[str, str]]
    status: int | None


def sim_config_128(ptz_cameras: int = 21, **overrides: Any) -> dict[str, Any]:
    """Return the simulator configuration of a fully populated 128-camera NVR.

    Small pictures and no audio: these benchmarks are about polling, events and control;
    the video path has its own benchmark (bench_restream.py). The random log growth is
    off, so every event in the log is one a benchmark added and timed.
    """
    return {
        "model": "WJ-NX400",
        "cameras": CAMERAS_128,
        "registered": CAMERAS_128,
        "ptz_cameras": list(range(1, ptz_cameras + 1)),
        "jpeg_cameras": [1],
        "audio": None,
        "seed": 1,
        **overrides,
    }


class SimProcess:
    """An ``NvrSimulator`` in a child process, so its CPU is not counted as ours."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> SimProcess:
        """Start the child and wait until it listens."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--sim-child",
            json.dumps(self.config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            limit=64 * 1024 * 1024,
        )
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process did not start")
        self.port = int(json.loads(line)["port"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop the child."""
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()

    @property
    def host(self) -> str:
        """The simulator's address."""
        return "127.0.0.1"

    async def call(self, op: str, **arguments: Any) -> Any:
        """Send one command to the child and return its answer."""
        process = self._process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        async with self._lock:
            process.stdin.write(json.dumps({"op": op, **arguments}).encode() + b"\n")
            await process.stdin.drain()
            line = await process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process ended")
        return json.loads(line)["result"]

    async def add_event(self, kind: str, camera: int | None = None) -> float:
        """Append an event-log entry now; return the child's monotonic time of the append."""
        return float(await self.call("add_event", kind=kind, camera=camera))

    async def requests(self, since: int = 0) -> list[Request]:
        """Return the requests the simulator logged from index ``since`` on."""
        rows = await self.call("requests", since=since)
        return [Request(r[0], r[1], [tuple(pair) for pair in r[2]], r[3]) for r in rows]

    async def request_count(self) -> int:
        """Return how many requests the simulator has logged."""
        return int(await self.call("request_count"))

    async def slow(self, seconds: float, path: str | None = None) -> None:
        """Delay the simulator's answers (to one CGI, or all) by ``seconds``; 0 ends it."""
        await self.call("slow", seconds=seconds, path=path)

    async def cpu(self) -> float:
        """Return the child's CPU seconds so far."""
        return float(await self.call("cpu"))


def _sim_child(config_json: str) -> None:
    """Child process: run the simulator and answer commands on stdin."""
    from ipro_sim import NvrSimulator, SimulatorConfig  # noqa: PLC0415

    raw = json.loads(config_json)
    for key in ("ptz_cameras", "jpeg_cameras"):
        if key in raw:
            raw[key] = frozenset(raw[key])
    if "camera_status" in raw:  # JSON object keys are strings
        raw["camera_status"] = {int(cam): status for cam, status in raw["camera_status"].items()}
    config = SimulatorConfig(**raw)

    async def main() -> None:
        sim = NvrSimulator(config)
        await sim.start("127.0.0.1", 0)
        print(json.dumps({"port": sim.port}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1024 * 1024)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        try:
            while line := await reader.readline():
                command = json.loads(line)
                result = _sim_command(sim, command)
                sys.stdout.write(json.dumps({"result": result}) + "\n")
                sys.stdout.flush()
        finally:
            await sim.stop()

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())


def _sim_command(sim: Any, command: dict[str, Any]) -> Any:
    op = command["op"]
    if op == "add_event":
        sim.add_event(command["kind"], camera=command.get("camera"))
        return time.monotonic()
    if op == "requests":
        return [[r.time, r.cgi, r.query, r.status] for r in sim.requests[int(command["since"]) :]]
    if op == "request_count":
        return len(sim.requests)
    if op == "cpu":
        return cpu_seconds()
    if op == "slow":
        sim.faults.slow(float(command["seconds"]), command.get("path"))
        return None
    raise ValueError(f"unknown simulator command {op!r}")


# ----------------------------------------------------------------------------- Home Assistant


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def home_assistant(config_dir: Path | None = None) -> AsyncIterator[Any]:
    """Yield a running ``HomeAssistant`` that loads custom integrations, HTTP on loopback."""
    from homeassistant import loader  # noqa: PLC0415
    from homeassistant.components.http.config import async_get_and_load_store  # noqa: PLC0415
    from homeassistant.setup import async_setup_component  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import (  # noqa: PLC0415
        async_test_home_assistant,
    )

    import custom_components.ipro_nvr  # noqa: F401, PLC0415 - ours, not the plugin's

    with tempfile.TemporaryDirectory(prefix="ipro-bench-") as tmp:
        directory = config_dir or Path(tmp)
        async with async_test_home_assistant(config_dir=str(directory)) as hass:
            # The test helper blocks custom integrations until a fixture allows them.
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            http = {"server_host": ["127.0.0.1"], "server_port": free_port()}
            assert await async_setup_component(hass, "http", {"http": http})
            # 2026.10 takes YAML HTTP settings as a trial and restarts Home Assistant
            # five minutes later unless they are confirmed, as the UI would.
            store = await async_get_and_load_store(hass)
            if store.pending is not None:
                await store.async_promote_pending()
            try:
                yield hass
            finally:
                await hass.async_stop(force=True)


def entry_for(hass: Any, sim: Any, options: dict[str, Any] | None = None) -> Any:
    """Add (not set up) a config entry for the NVR at ``sim.host``/``sim.port``; return it.

    The title is the model, so entity ids start with ``wj_nx400_``.
    """
    from homeassistant.const import (  # noqa: PLC0415
        CONF_HOST,
        CONF_PASSWORD,
        CONF_PORT,
        CONF_SSL,
        CONF_USERNAME,
        CONF_VERIFY_SSL,
    )
    from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: PLC0415

    from custom_components.ipro_nvr.const import DOMAIN  # noqa: PLC0415

    entry = MockConfigEntry(
        domain=DOMAIN,
        title="WJ-NX400",
        unique_id=f"{sim.host}:{sim.port}",
        data={
            CONF_HOST: sim.host,
            CONF_PORT: sim.port,
            CONF_SSL: False,
            CONF_VERIFY_SSL: False,
            CONF_USERNAME: "ADMIN",
            CONF_PASSWORD: "12345",
        },
        options=options or {},
    )
    entry.add_to_hass(hass)
    return entry


async def loaded_entry(hass: Any, sim: Any, options: dict[str, Any] | None = None) -> Any:
    """Add a config entry for the NVR at ``sim.host``/``sim.port``, set it up, return it.

    Returns once the set-up and what it started (first poll, platforms) are done.
    """
    entry = entry_for(hass, sim, options)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def ptz_options(cameras: int, presets: int = 3) -> dict[str, Any]:
    """Return entry options marking cameras ``1..cameras`` PTZ, each with named presets."""
    from custom_components.ipro_nvr.ptz import CONF_PTZ_CAMERAS, CONF_PTZ_PRESETS  # noqa: PLC0415

    names = ("Gate", "Door", "Yard", "Road", "Dock")
    return {
        CONF_PTZ_CAMERAS: list(range(1, cameras + 1)),
        CONF_PTZ_PRESETS: {
            str(camera): {str(n): names[(n - 1) % len(names)] for n in range(1, presets + 1)}
            for camera in range(1, cameras + 1)
        },
    }


@dataclass
class WriteCounter:
    """Counts what reaches the state machine from one integration's entities.

    ``changed``: ``state_changed`` events (a new state or attributes). ``reported``:
    ``state_reported`` events (the entity wrote the same state again). ``writes``: calls
    of ``Entity.async_write_ha_state`` by the integration's entities, by domain.
    """

    platform: str
    changed: Counter[str] = field(default_factory=Counter)
    reported: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)
    _entity_ids: set[str] = field(default_factory=set)

    def total(self) -> tuple[int, int, int]:
        """Return (changed, reported, writes) over every domain."""
        return sum(self.changed.values()), sum(self.reported.values()), sum(self.writes.values())

    def reset(self) -> None:
        """Start counting from zero."""
        self.changed.clear()
        self.reported.clear()
        self.writes.clear()


@asynccontextmanager
async def count_writes(hass: Any, platform: str) -> AsyncIterator[WriteCounter]:
    """Count the state writes of ``platform``'s entities while the context is open."""
    from unittest.mock import patch  # noqa: PLC0415

    from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED  # noqa: PLC0415
    from homeassistant.core import callback  # noqa: PLC0415
    from homeassistant.helpers.entity import Entity  # noqa: PLC0415

    counter = WriteCounter(platform)
    original = Entity.async_write_ha_state

    def write(entity: Any) -> None:
        if entity.platform is not None and entity.platform.platform_name == platform:
            counter.writes[entity.entity_id.partition(".")[0]] += 1
        original(entity)

    def ours(entity_id: str) -> bool:
        if entity_id in counter._entity_ids:
            return True
        from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

        entry = er.async_get(hass).async_get(entity_id)
        if entry is not None and entry.platform == platform:
            counter._entity_ids.add(entity_id)
            return True
        return False

    @callback
    def changed(event: Any) -> None:
        if ours(event.data["entity_id"]):
            counter.changed[event.data["entity_id"].partition(".")[0]] += 1

    @callback
    def reported(event: Any) -> None:
        counter.reported[event.data["entity_id"].partition(".")[0]] += 1

    @callback
    def reported_filter(data: Any) -> bool:
        return ours(data["entity_id"])

    unsubs = [
        hass.bus.async_listen(EVENT_STATE_CHANGED, changed),
        hass.bus.async_listen(EVENT_STATE_REPORTED, reported, event_filter=reported_filter),
    ]
    with patch.object(Entity, "async_write_ha_state", write):
        try:
            yield counter
        finally:
            for unsub in unsubs:
                unsub()


# ----------------------------------------------------------------------------- live streams


async def open_viewers(
    hass: Any, entry: Any, streams: int, seconds: float
) -> asyncio.subprocess.Process:
    """Read the restreams of cameras 1..``streams`` in another process (bench_restream's)."""
    from custom_components.ipro_nvr.camera import live_media  # noqa: PLC0415

    media = live_media(hass, entry)
    assert media is not None
    urls = [media.stream_url(camera) for camera in range(1, streams + 1)]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "benchmarks" / "bench_restream.py"),
        "--read",
        str(seconds),
        *urls,
        stdout=asyncio.subprocess.DEVNULL,
    )


def all_streaming(hass: Any, entry: Any, streams: int) -> bool:
    """Return whether cameras 1..``streams`` have each restreamed a keyframe."""
    from custom_components.ipro_nvr.camera import live_media  # noqa: PLC0415

    media = live_media(hass, entry)
    assert media is not None
    return all(
        (stats := media.restreamer.stats(camera)) is not None and stats.keyframes > 0
        for camera in range(1, streams + 1)
    )


def stream_bytes(hass: Any, entry: Any, streams: int) -> int:
    """Return the bytes the restreams of cameras 1..``streams`` sent so far."""
    from custom_components.ipro_nvr.camera import live_media  # noqa: PLC0415

    media = live_media(hass, entry)
    assert media is not None
    return sum(
        stats.bytes_out
        for camera in range(1, streams + 1)
        if (stats := media.restreamer.stats(camera)) is not None
    )


# ----------------------------------------------------------------------------- running


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` on Home Assistant's own event loop (executor, ``loop.time``)."""
    from homeassistant import runner  # noqa: PLC0415

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # Noise for these benchmarks: the custom-integration notice, and the missing
    # libturbojpeg (used only to scale snapshots, which no benchmark here takes).
    logging.getLogger("homeassistant.loader").setLevel(logging.ERROR)
    logging.getLogger("homeassistant.components.camera.img_util").setLevel(logging.CRITICAL)
    loop = runner.create_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sim-child":
        _sim_child(sys.argv[2])
    else:
        print(__doc__)

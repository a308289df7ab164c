"""PTZ cameras and their named presets (entry options), and motion control per camera.

One PTZ command moves an i-PRO camera for about 2 s. A move that should last longer is
repeated by a background task, one per camera, and ended with a stop. A later motion
command for the same camera (move, centre, go to preset) cancels that repeat and sends
its stop first, so the camera never keeps following an order that was replaced.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
import logging
import math
import re
from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.hass_dict import HassKey

from .aioipro.client import IproClient
from .aioipro.errors import IproError
from .const import DOMAIN
from .data import IproNvrConfigEntry, IproNvrData
from .entity import IproCameraEntityDescription, async_add_camera_entities

_LOGGER = logging.getLogger(__name__)

# Options: the cameras marked PTZ (list of numbers) and their named presets
# ({"<camera>": {"<preset number>": "<name>"}}; JSON keys are strings).
CONF_PTZ_CAMERAS: Final = "ptz_cameras"
CONF_PTZ_PRESETS: Final = "ptz_presets"

PRESET_NUMBERS: Final = range(1, 257)
AUX_OUTPUTS: Final = range(1, 9)
PAN_TILT_LIMIT: Final = 256
ZOOM_LIMIT: Final = 4
# A command moves the camera for about 2 s: repeat well before it stops by itself.
PTZ_REPEAT_INTERVAL = 1.5

_CONTROLLERS: HassKey[dict[str, PtzController]] = HassKey(f"{DOMAIN}_ptz")


def ptz_cameras(options: Mapping[str, Any]) -> tuple[int, ...]:
    """Return the camera numbers the user marked as PTZ, in order."""
    return tuple(sorted({int(camera) for camera in options.get(CONF_PTZ_CAMERAS, ())}))


def ptz_presets(options: Mapping[str, Any], camera: int) -> dict[int, str]:
    """Return the named presets of a PTZ camera, by preset number, in order."""
    if camera not in ptz_cameras(options):
        return {}
    named: Mapping[str, str] = options.get(CONF_PTZ_PRESETS, {}).get(str(camera), {})
    return {int(number): named[number] for number in sorted(named, key=int)}


class PresetSyntaxError(ValueError):
    """A line of the preset text the options flow cannot take; ``key`` names the form error."""

    def __init__(self, key: str, line: str) -> None:
        super().__init__(f"{key}: {line}")
        self.key = key
        self.line = line


def parse_presets(text: str) -> dict[int, str]:
    """Parse one preset a line, ``number = name`` (blank lines ignored).

    Numbers must be 1..256 and names unique (ignoring case): each name becomes a button
    and a select option that Assist finds by name.
    """
    presets: dict[int, str] = {}
    names: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        number_text, separator, name_text = line.partition("=")
        number_text, name = number_text.strip(), " ".join(name_text.split())
        if not separator or not number_text.isdecimal() or not name:
            raise PresetSyntaxError("invalid_preset_line", line)
        number = int(number_text)
        if number not in PRESET_NUMBERS:
            raise PresetSyntaxError("invalid_preset_number", line)
        if number in presets:
            raise PresetSyntaxError("duplicate_preset_number", line)
        if name.casefold() in names:
            raise PresetSyntaxError("duplicate_preset_name", line)
        presets[number] = name
        names.add(name.casefold())
    return dict(sorted(presets.items()))


def format_presets(presets: Mapping[int, str]) -> str:
    """Return presets as the options flow shows them, one ``number = name`` a line."""
    return "\n".join(f"{number} = {name}" for number, name in sorted(presets.items()))


@callback
def async_remove_stale_entities(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    domain: Platform,
    own_key: re.Pattern[str],
    expected: set[str],
) -> None:
    """Remove a platform's PTZ entities the options no longer ask for.

    Only camera entities whose unique-id key matches ``own_key`` are considered, so
    other entities of the platform stay. A camera that is PTZ but not registered on the
    NVR right now keeps its entities: ``expected`` comes from the options alone.
    """
    entity_registry = er.async_get(hass)
    camera_key = re.compile(rf"{re.escape(entry.entry_id)}_camera_\d+_(.+)")
    for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id):
        match = camera_key.fullmatch(entity.unique_id)
        if (
            entity.domain == domain
            and entity.platform == DOMAIN
            and match is not None
            and own_key.fullmatch(match.group(1))
            and entity.unique_id not in expected
        ):
            entity_registry.async_remove(entity.entity_id)


@callback
def async_add_ptz_entities[D: IproCameraEntityDescription](
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    domain: Platform,
    own_key: re.Pattern[str],
    descriptions: Callable[[int], Iterable[D]],
    create: Callable[[IproNvrData, D, int], Entity],
) -> None:
    """Add a platform's PTZ entities to each camera; remove those the options dropped.

    ``descriptions(camera)`` are the candidates; a camera gets those it supports.
    """
    data = entry.runtime_data

    def supported(camera: int) -> Iterable[D]:
        return (d for d in descriptions(camera) if d.supported(data, camera))

    expected = {
        f"{entry.entry_id}_camera_{camera}_{description.key}"
        for camera in ptz_cameras(entry.options)
        for description in supported(camera)
    }
    async_remove_stale_entities(hass, entry, domain, own_key, expected)
    async_add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: (create(data, description, camera) for description in supported(camera)),
    )


@callback
def async_get_ptz_controller(hass: HomeAssistant, entry: IproNvrConfigEntry) -> PtzController:
    """Return the motion controller of a loaded entry, creating it on first use."""
    controllers = hass.data.setdefault(_CONTROLLERS, {})
    if (controller := controllers.get(entry.entry_id)) is None:
        controller = controllers[entry.entry_id] = PtzController(hass, entry)

        @callback
        def forget() -> None:
            controllers.pop(entry.entry_id, None)

        entry.async_on_unload(forget)
        entry.async_on_unload(entry.async_on_state_change(controller.async_entry_state_changed))
    return controller


class PtzController:
    """Send the camera-control commands that move cameras; remember the last preset."""

    def __init__(self, hass: HomeAssistant, entry: IproNvrConfigEntry) -> None:
        self._hass = hass
        self._entry = entry
        self._repeats: dict[int, asyncio.Task[None]] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._presets: dict[int, int] = {}
        self._listeners: defaultdict[int, list[CALLBACK_TYPE]] = defaultdict(list)

    @property
    def _client(self) -> IproClient:
        return self._entry.runtime_data.client

    def current_preset(self, camera: int) -> int | None:
        """Return the preset a camera was last sent to, until something else moved it."""
        return self._presets.get(camera)

    @callback
    def async_add_listener(self, camera: int, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` when the camera's current preset changes; return the remover."""
        self._listeners[camera].append(update)
        return lambda: self._listeners[camera].remove(update)

    @callback
    def _set_current_preset(self, camera: int, number: int | None) -> None:
        if self._presets.get(camera) == number:
            return
        if number is None:
            del self._presets[camera]
        else:
            self._presets[camera] = number
        for update in list(self._listeners[camera]):
            update()

    async def async_move(
        self,
        camera: int,
        pan: int = 0,
        tilt: int = 0,
        zoom: int = 0,
        duration: float | None = None,
    ) -> None:
        """Move (or, all zero, stop) a camera; with ``duration``, keep moving, then stop.

        Returns once the first command is sent; the repeats and the stop run in a task.
        """
        stop = not (pan or tilt or zoom)
        async with self._locks[camera]:
            await self._async_supersede(camera, send_stop=not stop)
            await self._client.ptz(camera, pan=pan, tilt=tilt, zoom=zoom)
            self._set_current_preset(camera, None)
            if duration is None or stop:
                return
            started = asyncio.get_running_loop().time()
            task = self._entry.async_create_background_task(
                self._hass,
                self._async_repeat(camera, (pan, tilt, zoom), duration, started),
                f"{DOMAIN} PTZ move of camera {camera}",
            )
            self._repeats[camera] = task

    async def async_center(self, camera: int, x: int, y: int) -> None:
        """Move image point ``x``, ``y`` to the centre of the picture."""
        async with self._locks[camera]:
            await self._async_supersede(camera, send_stop=True)
            await self._client.center(camera, x, y)
            self._set_current_preset(camera, None)

    async def async_goto_preset(self, camera: int, number: int) -> None:
        """Move a camera to one of its presets."""
        async with self._locks[camera]:
            await self._async_supersede(camera, send_stop=True)
            await self._client.goto_preset(camera, number)
            self._set_current_preset(camera, number)

    async def async_set_preset(self, camera: int, number: int) -> None:
        """Store where the camera looks now as a preset; it is then at that preset."""
        await self._client.set_preset(camera, number)
        self._set_current_preset(camera, number)

    async def _async_supersede(self, camera: int, *, send_stop: bool) -> None:
        """Cancel a repeating move of the camera and send the stop it would have sent."""
        task = self._repeats.pop(camera, None)
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait([task])
        if send_stop:
            await self._client.ptz(camera)

    async def _async_repeat(
        self, camera: int, speeds: tuple[int, int, int], duration: float, started: float
    ) -> None:
        """Repeat a move on a fixed schedule from ``started``, then stop at ``duration``.

        The number of repeats follows from the duration alone, so a busy event loop delays
        commands but never adds or drops one.
        """
        loop = asyncio.get_running_loop()
        interval = PTZ_REPEAT_INTERVAL
        pan, tilt, zoom = speeds
        try:
            for repeat in range(1, math.ceil(round(duration / interval, 6))):
                await asyncio.sleep(max(0.0, started + repeat * interval - loop.time()))
                await self._client.ptz(camera, pan=pan, tilt=tilt, zoom=zoom)
            await asyncio.sleep(max(0.0, started + duration - loop.time()))
            await self._client.ptz(camera)
        except IproError as err:
            # The camera stops by itself about 2 s after the last command it got.
            _LOGGER.warning("Moving camera %s stopped early: %s", camera, err)

    @callback
    def async_entry_state_changed(self) -> None:
        """Cancel repeating moves as soon as the entry starts unloading.

        The client is closed next; the cameras stop by themselves within about 2 s.
        """
        if self._entry.state is ConfigEntryState.LOADED:
            return
        for task in self._repeats.values():
            task.cancel()
        self._repeats.clear()

"""The i-PRO NVR integration: i-PRO network disk recorders over their CGI interface."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .aioipro.errors import IproAuthError, IproError, IproNoFreeSessionError
from .const import DOMAIN
from .coordinator import IproNvrCoordinator, async_remove_seen_store
from .data import IproNvrConfigEntry, IproNvrData
from .devices import camera_from_identifiers, nvr_device_info
from .issues import async_update_no_free_session_issue
from .services import async_setup_services
from .util import create_client, translation_key
from .views import async_setup_views

# Later platforms (camera, button, select, ...) are added here; each reads
# entry.runtime_data (IproNvrData) and builds on the base entities in entity.py.
PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CAMERA,
    Platform.EVENT,
    Platform.SELECT,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the services and the recording views once, whatever entries load later."""
    async_setup_services(hass)
    async_setup_views(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: IproNvrConfigEntry) -> bool:
    """Log in, register the NVR device, poll once, then set up the platforms."""
    client = create_client(hass, entry.data)
    try:
        info = await client.login()
    except IproError as err:
        await client.close()
        async_update_no_free_session_issue(
            hass, entry, active=isinstance(err, IproNoFreeSessionError)
        )
        placeholders = {"error": str(err)}
        if isinstance(err, IproAuthError):
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="invalid_auth",
                translation_placeholders=placeholders,
            ) from err
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key=translation_key(err),
            translation_placeholders=placeholders,
        ) from err
    async_update_no_free_session_issue(hass, entry, active=False)

    # The NVR device comes first: camera devices link to it by its registry id.
    nvr_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **nvr_device_info(entry, info)
    )
    coordinator = IproNvrCoordinator(hass, entry, client, nvr_device.id)
    try:
        await coordinator.async_config_entry_first_refresh()
    except BaseException:
        # Write what the failed first poll saw now, before a retry's coordinator starts.
        await coordinator.async_stop()
        await client.close()
        raise
    entry.runtime_data = IproNvrData(
        client=client, coordinator=coordinator, info=info, nvr_device_id=nvr_device.id
    )

    async def _async_stop(_event: Event) -> None:
        """Give the session back to the NVR when Home Assistant stops."""
        await coordinator.async_stop()
        await client.close()

    # Not listen_once: its remover complains when called on unload after the event fired.
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _async_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: IproNvrConfigEntry) -> bool:
    """Unload the platforms, stop polling, remember what was seen and log out."""
    if unload_ok := await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        data = entry.runtime_data
        await data.coordinator.async_stop()
        await data.client.close()
    return unload_ok


async def async_remove_entry(hass: HomeAssistant, entry: IproNvrConfigEntry) -> None:
    """Forget what was seen in the logs of a removed NVR."""
    await async_remove_seen_store(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: IproNvrConfigEntry, device: dr.AnyDeviceEntry
) -> bool:
    """Let the user remove a camera device the NVR no longer has registered.

    The NVR device itself stays as long as the entry does, and so does the device of a
    camera the NVR still reports (it would come straight back).
    """
    camera = camera_from_identifiers(entry, device.identifiers)
    if camera is None:
        return False
    if entry.state is not ConfigEntryState.LOADED:
        return True
    return camera not in entry.runtime_data.coordinator.data.cameras.registered

"""Device triggers for log entries, so automations are built in the UI without event data.

Each trigger is a log (``subtype``: event log or error log) and an event type (``type``:
motion, alarm, ...). On the NVR device a trigger matches every new entry of that NVR; on a
camera device only the entries that name the camera. Both listen to ``ipro_nvr_event``.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import probatio

from .aioipro.models import LogType
from .const import (
    ATTR_DEVICE_ID,
    ATTR_ENTRY_ID,
    ATTR_LOG,
    ATTR_TYPE,
    DOMAIN,
    EVENT_IPRO_NVR,
    LOG_EVENT_TYPES,
)

CONF_SUBTYPE: Final = "subtype"
# Subtype values name the log: "event_log" / "error_log".
SUBTYPES: Final = {f"{log.value}_log": log for log in LogType}

TRIGGER_SCHEMA: Final = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        probatio.Required(CONF_TYPE): probatio.In(LOG_EVENT_TYPES),
        probatio.Required(CONF_SUBTYPE): probatio.In(list(SUBTYPES)),
    }
)


def _device_filter(hass: HomeAssistant, device_id: str) -> dict[str, str]:
    """Return the event data that selects a device's entries.

    The NVR device (identified by its config entry id) takes every entry of its NVR; a
    camera device those sent with its own device id. Home Assistant checked that the
    device exists and belongs to this integration before asking.
    """
    device = dr.async_get(hass).async_get(device_id)
    if device is not None and (DOMAIN, device.config_entry_id) in device.identifiers:
        return {ATTR_ENTRY_ID: device.config_entry_id}
    return {ATTR_DEVICE_ID: device_id}


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """Check the trigger's type and log."""
    validated: ConfigType = TRIGGER_SCHEMA(config)
    return validated


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """List a trigger per log and event type for the NVR and for each camera."""
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: event_type,
            CONF_SUBTYPE: subtype,
        }
        for subtype in SUBTYPES
        for event_type in LOG_EVENT_TYPES
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen to ``ipro_nvr_event`` for the device's entries of one log and type."""
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: CONF_EVENT,
            event_trigger.CONF_EVENT_TYPE: EVENT_IPRO_NVR,
            CONF_EVENT_DATA: {
                **_device_filter(hass, config[CONF_DEVICE_ID]),
                ATTR_LOG: SUBTYPES[config[CONF_SUBTYPE]].value,
                ATTR_TYPE: config[CONF_TYPE],
            },
        }
    )
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )

"""Diagnostics: what the NVR reported, with credentials, address and session ids redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .aioipro.models import LogEntry, LogList
from .camera import live_media
from .data import IproNvrConfigEntry

# The unique id carries host and port; "uid" is the NVR's session id wherever it shows.
TO_REDACT = {CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_USERNAME, "unique_id", "uid"}
LOG_ENTRIES_SHOWN = 20


def _entry(entry: LogEntry) -> dict[str, Any]:
    return {
        "number": entry.number,
        "local_time": entry.local_time.isoformat(),
        "summer_time": entry.summer_time,
        "kind": entry.kind,
        "zone": entry.zone,
        "time": entry.time.isoformat(),
        "camera": entry.camera,
    }


def _log(log: LogList) -> dict[str, Any]:
    return {
        "count": len(log.entries),
        "newest": [_entry(entry) for entry in log.entries[:LOG_ENTRIES_SHOWN]],
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: IproNvrConfigEntry
) -> dict[str, Any]:
    """Return the entry, the NVR's info and the latest answer to each poll."""
    data = entry.runtime_data
    state = data.coordinator.data
    pacer = data.client.pacer
    return async_redact_data(
        {
            "entry": entry.as_dict(),
            "nvr": asdict(data.info),
            "coordinator": {
                "last_update_success": data.coordinator.last_update_success,
                "update_interval": str(data.coordinator.update_interval),
            },
            "pacer": {
                "command_interval": pacer.command_interval,
                "control_interval": pacer.control_interval,
                "commands_sent": pacer.count,
            },
            "cameras": {
                "status": {str(n): status.name for n, status in state.cameras.cameras.items()},
                "max_uid": state.cameras.max_uid,
                "used_uid": state.cameras.used_uid,
                # Codec each camera was found to stream, JPEG or not, restream state.
                "live": (
                    {str(n): media.diagnostics(n) for n in state.cameras.registered}
                    if (media := live_media(hass, entry)) is not None
                    else None
                ),
            },
            "disks": [
                {
                    **asdict(disk),
                    "oldest": disk.oldest.isoformat() if disk.oldest else None,
                    "newest": disk.newest.isoformat() if disk.newest else None,
                }
                for disk in state.hdd.disks
            ],
            "event_log": _log(state.event_log),
            "error_log": _log(state.error_log),
        },
        TO_REDACT,
    )

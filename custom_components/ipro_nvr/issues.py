"""Repair issues that mirror a condition on the NVR and go away when it clears."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .aioipro.models import LogEntry
from .const import DOMAIN, ISSUE_DISK_FAULT, ISSUE_NO_FREE_SESSION


def issue_id(issue: str, entry: ConfigEntry) -> str:
    """Return the id of one NVR's issue (each NVR has its own)."""
    return f"{issue}_{entry.entry_id}"


@callback
def async_update_disk_fault_issue(
    hass: HomeAssistant, entry: ConfigEntry, fault: LogEntry | None
) -> None:
    """Raise the disk fault issue while the error log reports one, remove it after."""
    if fault is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_DISK_FAULT, entry))
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_DISK_FAULT, entry),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_DISK_FAULT,
        translation_placeholders={
            "name": entry.title,
            "kind": fault.kind,
            "time": fault.time.isoformat(),
        },
    )


@callback
def async_update_no_free_session_issue(
    hass: HomeAssistant, entry: ConfigEntry, *, active: bool
) -> None:
    """Raise the issue while every session of the NVR is taken, remove it after."""
    if not active:
        ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_NO_FREE_SESSION, entry))
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_NO_FREE_SESSION, entry),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_NO_FREE_SESSION,
        translation_placeholders={"name": entry.title},
    )

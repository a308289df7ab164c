"""Entity states and registry entries of each core platform, and diagnostics, as snapshots.

The clock is frozen before the simulator starts, so its seeded log entries and recording
range are the same on every run; the clients get no pacing (a frozen clock never ends a
sleep).
"""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from tests.conftest import setup_entry

pytestmark = pytest.mark.freeze_time("2026-01-15 12:00:00+00:00")


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """No pacing: the clock is frozen."""
    return (0.0, 0.0)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR])
async def test_platform_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    with patch("custom_components.ipro_nvr.PLATFORMS", [platform]):
        await setup_entry(hass, config_entry)
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


async def test_devices_snapshot(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    with patch("custom_components.ipro_nvr.PLATFORMS", [Platform.BINARY_SENSOR]):
        await setup_entry(hass, config_entry)
    devices = sorted(
        dr.async_entries_for_config_entry(device_registry, config_entry.entry_id),
        key=lambda device: device.name or "",
    )
    assert devices == snapshot


async def test_diagnostics_redact_credentials_and_address(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    config_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    with patch("custom_components.ipro_nvr.PLATFORMS", [Platform.SENSOR]):
        await setup_entry(hass, config_entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    text = str(diagnostics)
    for secret in ("12345", "127.0.0.1", str(config_entry.data["port"])):
        assert secret not in text
    # Later platforms add their own parts; this snapshot covers what the core reports.
    assert diagnostics == snapshot(exclude=props("live", "created_at", "modified_at"))

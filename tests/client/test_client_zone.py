"""Disk recording times are the NVR's wall clock: the client reads them in the NVR's zone."""

from datetime import UTC, datetime, timedelta

from custom_components.ipro_nvr.aioipro import IproClient
from ipro_sim import NvrSimulator


async def test_recording_range_uses_the_zone_of_the_logs(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    assert nvr_sim.config.tz_offset_minutes == 540
    nvr_sim.add_event("SITE(VMD)", camera=1)
    await client.login()
    before = await client.get_hdd_info()
    await client.get_event_log()
    after = await client.get_hdd_info()

    now = datetime.now(UTC)
    newest_before = next(d.newest for d in before.disks if d.newest is not None)
    newest_after = next(d.newest for d in after.disks if d.newest is not None)
    # Before any log named the zone the wall clock reads as UTC: 9 h in the future.
    assert newest_before - now > timedelta(hours=8)
    assert abs(newest_after - now) < timedelta(minutes=5)

"""Text answers: log lists, camera connection info and HDD information, as spec 5 shows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import re
import time

from ipro_sim import DiskConfig, NvrSimulator, SimulatorConfig
from ipro_sim.encoders import DiskLine, LogLine, hdd_text, log_list_text, wrap_value_line

from .helpers import client_session, get_text, login

QUIET = {"initial_events": 0, "initial_errors": 0}


def wall(*fields: int) -> datetime:
    """A naive local wall-clock time, as the NVR prints them."""
    return datetime(*fields, tzinfo=UTC).replace(tzinfo=None)  # type: ignore[misc]


def loglist(uid: str, kind: str) -> tuple[tuple[str, str], ...]:
    html = "as_errorlog.html" if kind == "ERR" else "as_eventlog.html"
    return (("UID", uid), ("KIND", kind), ("HTML", html))


async def test_event_log_reproduces_the_spec_example() -> None:
    async with NvrSimulator(SimulatorConfig(tz_offset_minutes=540, **QUIET)) as sim:
        sim.add_event("SITE(VMD)", camera=1, at=datetime(2024, 4, 24, 2, 45, tzinfo=UTC))
        sim.add_event("SITE(VMD)-2", at=datetime(2024, 4, 24, 3, 30, tzinfo=UTC).timestamp())
        async with client_session(sim) as session:
            uid = await login(session, sim)
            async with session.get(
                f"{sim.url}/cgi-bin/loglist.cgi?UID={uid}&KIND=EVENT&HTML=as_eventlog.html"
            ) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "text/html"
                body = await response.read()
    assert body == (
        b"FILENAME=as_eventlog.html\r\n"
        b"EVENT_LOG_NO=2\r\n"
        b'EVENT_LOG="001","2024/04/24 12:30:00","0","SITE(VMD)-2","GMT+09:00","002","2024/04/24'
        b'\r\n11:45:00","0","SITE(VMD)-1","GMT+09:00"\r\n\r\n'
    )


def test_error_log_encoder_reproduces_the_spec_example() -> None:
    lines = [
        LogLine(wall(2021, 11, 14, 14, 10), False, "CAM 3 COMMUNICATION ERROR", "GMT+03:00"),
        LogLine(wall(2021, 11, 14, 14, 48), False, "CAM 3 COMMUNICATION RECOVERED", "GMT+03:00"),
    ]
    assert log_list_text("ERR", lines, 88) == (
        "FILENAME=as_errorlog.html\r\n"
        "ERROR_LOG_NO=2\r\n"
        'ERROR_LOG="001","2021/11/14 14:10:00","0","CAM 3 COMMUNICATION ERROR","GMT+03:00","002"'
        '\r\n,"2021/11/14 14:48:00","0","CAM 3 COMMUNICATION RECOVERED","GMT+03:00"\r\n\r\n'
    )
    assert "\r\n," not in log_list_text("ERR", lines, None)


def test_wrapping_edge_cases() -> None:
    assert wrap_value_line("short", 88) == ["short"]
    assert wrap_value_line("X=" + "a" * 100, 20) == ["X=" + "a" * 100]
    long_field = 'K="' + "b" * 30 + '","c"'
    assert wrap_value_line(long_field, 10) == ['K="' + "b" * 30 + '"', ',"c"']


async def test_error_log_summer_time_and_negative_zone() -> None:
    config = SimulatorConfig(tz_offset_minutes=-330, summer_time=True, **QUIET)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        sim.add_error("COMMUNICATION ERROR", camera=3, at=datetime(2024, 1, 2, 12, 0, tzinfo=UTC))
        uid = await login(session, sim)
        status, text = await get_text(session, sim, "loglist.cgi", *loglist(uid, "ERR"))
    assert status == 200
    assert text == (
        "FILENAME=as_errorlog.html\r\nERROR_LOG_NO=1\r\n"
        'ERROR_LOG="001","2024/01/02 07:30:00","1","CAM 3 COMMUNICATION ERROR","GMT-05:30"'
        "\r\n\r\n"
    )


async def test_logs_keep_1000_newest_and_clear(nvr_sim: NvrSimulator) -> None:
    nvr_sim.clear_logs()
    base = time.time() - 5000
    for number in range(1005):
        nvr_sim.add_event(f"SITE(VMD)-{number % 16 + 1}", at=base + number)
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        _, text = await get_text(session, nvr_sim, "loglist.cgi", *loglist(uid, "EVENT"))
        flat = text.replace("\r\n", "")
        assert "EVENT_LOG_NO=1000" in text
        numbers = re.findall(r'"(\d{3,4})","\d{4}/', flat)
        assert numbers[0] == "001"
        assert numbers[-1] == "1000"
        assert len(numbers) == 1000
        assert flat.count("SITE(VMD)-") == 1000
        nvr_sim.clear_logs()
        _, text = await get_text(session, nvr_sim, "loglist.cgi", *loglist(uid, "EVENT"))
        assert text == "FILENAME=as_eventlog.html\r\nEVENT_LOG_NO=0\r\nEVENT_LOG=\r\n\r\n"


async def test_an_old_entry_goes_to_its_place(nvr_sim: NvrSimulator) -> None:
    nvr_sim.clear_logs()
    nvr_sim.add_event("NEW", at=2000.0)
    nvr_sim.add_event("OLD", at=1000.0)
    nvr_sim.add_event("NEWEST")
    assert [entry.kind for entry in nvr_sim.event_log.entries] == ["NEWEST", "NEW", "OLD"]


async def test_logs_grow_over_time() -> None:
    config = SimulatorConfig(event_interval=0.02, error_interval=0.02, seed=3, **QUIET)
    async with NvrSimulator(config) as sim:
        await asyncio.sleep(0.4)
        assert len(sim.event_log.entries) > 2
        assert len(sim.error_log.entries) > 2
    kinds = {entry.kind for entry in sim.event_log.entries}
    assert all(re.search(r"SITE|TERMINAL|ALARM|LOSS", kind) for kind in kinds)


async def test_loglist_parameters_are_checked(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        for params in (
            (("UID", uid), ("KIND", "ALL"), ("HTML", "as_errorlog.html")),
            (("UID", uid), ("KIND", "ERR"), ("HTML", "as_eventlog.html")),
            (("UID", uid), ("KIND", "EVENT")),
        ):
            status, _ = await get_text(session, nvr_sim, "loglist.cgi", *params)
            assert status == 400


async def test_camera_connection_info_128() -> None:
    config = SimulatorConfig(cameras=128, registered=4, camera_status={3: 2, 4: 2, 100: 1}, **QUIET)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        async with session.get(f"{sim.url}/cgi-bin/as_getinfo.cgi?FILE=2") as response:
            assert response.headers["Content-Type"] == "text/html"
            text = await response.text()
        status, _ = await get_text(session, sim, "as_getinfo.cgi", ("FILE", "1"))
        assert status == 400
    lines = text.split("\r\n")
    assert lines[0] == "<HTML>"
    assert lines[1:5] == [f"CAM_CONNECT_0{n}CH={s}" for n, s in ((1, 1), (2, 1), (3, 2), (4, 2))]
    assert lines[5] == "CAM_CONNECT_05CH=0"
    assert "CAM_CONNECT_99CH=0" in lines
    assert "CAM_CONNECT_100CH=1" in lines
    assert lines[128] == "CAM_CONNECT_128CH=0"
    assert lines[129:] == ["MAXUID=16", "USEDUID=0", "</HTML>", ""]


async def test_getinfo_with_uid_refreshes_it() -> None:
    config = SimulatorConfig(uid_lifetime=0.3)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        for _ in range(3):
            await asyncio.sleep(0.15)
            await get_text(session, sim, "as_getinfo.cgi", ("UID", uid), ("FILE", "2"))
        assert sim.sessions.count == 1


async def test_recordedtime_format(nvr_sim: NvrSimulator) -> None:
    async with (
        client_session(nvr_sim) as session,
        session.get(f"{nvr_sim.url}/cgi-bin/recordedtime.cgi") as response,
    ):
        assert response.headers["Content-Type"] == "text/plain"
        text = await response.text()
    lines = text.split("\r\n")
    assert lines[:3] == [
        "Recording information",
        "",
        "Disk,Capacity,Remain capacity,Recorded time range",
    ]
    assert re.fullmatch(
        r"MAIN-1,4001GB\(R\),1529GB,\d{4}/\d\d/\d\d,0,\d\d:\d\d:\d\d,\d{4}/\d\d/\d\d,0,"
        r"\d\d:\d\d:\d\d",
        lines[3],
    )
    assert lines[4:7] == [f"MAIN-{n},4001GB,3710GB,.....," for n in (2, 3, 4)]
    assert lines[7] == "MAIN-5,.....,"
    assert lines[-2] == "EXT5-9,.....,"
    assert lines[-1] == ""
    assert len(lines) == 3 + 9 + 45 + 1
    newest = datetime.strptime(lines[3][-21:] + "+0000", "%Y/%m/%d,0,%H:%M:%S%z")
    local_now = nvr_sim.tz.local(time.time()).replace(tzinfo=UTC)
    assert abs((local_now - newest).total_seconds()) < 5


def test_hdd_encoder_reproduces_the_spec_example() -> None:
    lines = [
        DiskLine(
            name="MAIN-1",
            capacity_gb=4001,
            flag="R",
            remain_gb=1529,
            oldest=wall(2021, 11, 14, 13, 0, 0),
            newest=wall(2021, 12, 24, 15, 30, 12),
            summer=False,
        ),
        DiskLine("MAIN-2", 4001, "", 3710, None, None, False),
        DiskLine("MAIN-5", None, "", 0, None, None, False),
    ]
    assert hdd_text(lines) == (
        "Recording information\r\n\r\n"
        "Disk,Capacity,Remain capacity,Recorded time range\r\n"
        "MAIN-1,4001GB(R),1529GB,2021/11/14,0,13:00:00,2021/12/24,0,15:30:12\r\n"
        "MAIN-2,4001GB,3710GB,.....,\r\n"
        "MAIN-5,.....,\r\n"
    )


async def test_custom_disks() -> None:
    disks = (
        DiskConfig(name="MAIN-1", capacity_gb=2000, remain_gb=10, recording=True),
        DiskConfig(name="EXT1-1", capacity_gb=8000, remain_gb=8000, flag="X"),
    )
    config = SimulatorConfig(disks=disks, summer_time=True)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        _, text = await get_text(session, sim, "recordedtime.cgi")
    lines = text.split("\r\n")
    assert lines[3].startswith("MAIN-1,2000GB,10GB,")
    assert ",1," in lines[3]
    assert lines[4] == "EXT1-1,8000GB(X),8000GB,.....,"


async def test_bare_lf_knob() -> None:
    async with NvrSimulator(SimulatorConfig(bare_lf=True)) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        for cgi, params in (
            ("recordedtime.cgi", ()),
            ("as_getinfo.cgi", (("FILE", "2"),)),
            ("status.cgi", (("UID", uid), ("PC", "AS60"))),
            ("loglist.cgi", loglist(uid, "EVENT")),
            ("dlogin.cgi", (("UID", "-1"),)),
        ):
            _, text = await get_text(session, sim, cgi, *params)
            assert "\n" in text
            assert "\r" not in text

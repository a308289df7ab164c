"""Text responses: every example of the spec, verbatim, and the variants the notes list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from custom_components.ipro_nvr.aioipro import (
    CameraStatus,
    IproProtocolError,
    LogType,
    format_download_time,
    format_timef,
    is_login_page,
    parse_camera_connection,
    parse_hdd_info,
    parse_key_values,
    parse_log_list,
    parse_login,
)
from custom_components.ipro_nvr.aioipro.text import camera_from_kind, decode_text, parse_zone


def spec_body(example: str) -> str:
    """Turn a spec response example into the bytes on the wire, minus the HTTP head."""
    wire = example.replace("[CR] [LF]\n", "\r\n").replace("[CR][LF]\n", "\r\n")
    wire = wire.replace("[CR][LF]", "\r\n")
    head, sep, body = wire.partition("\r\n\r\n")
    return body if sep and head.startswith("HTTP/1.1") else wire


# Section 5.1.1, verbatim.
SPEC_ERROR_LOG = """HTTP/1.1 200 OK[CR][LF]
Connection: Keep-Alive[CR][LF]
Cache-Control: no-cache[CR][LF]
Content-type: text/html[CR][LF]
Content-Length: *****[CR][LF][CR][LF]
FILENAME=as_errorlog.html[CR][LF]
ERROR_LOG_NO=2[CR][LF]
ERROR_LOG="001","2021/11/14 14:10:00","0","CAM 3 COMMUNICATION ERROR","GMT+03:00","002"
,"2021/11/14 14:48:00","0","CAM 3 COMMUNICATION RECOVERED","GMT+03:00"[CR][LF][CR][LF]
"""

# Section 5.1.2, verbatim.
SPEC_EVENT_LOG = """HTTP/1.1 200 OK[CR][LF]
Connection: Keep-Alive[CR][LF]
Cache-Control: no-cache[CR][LF]
Content-type: text/html[CR][LF]
Content-Length: *****[CR][LF][CR][LF]
FILENAME=as_eventlog.html[CR][LF]
EVENT_LOG_NO=2[CR][LF]
EVENT_LOG="001","2024/04/24 12:30:00","0","SITE(VMD)-2","GMT+09:00","002","2024/04/24
11:45:00","0","SITE(VMD)-1","GMT+09:00" [CR][LF][CR][LF]
"""

# Section 5.2.1, verbatim.
SPEC_HDD = """HTTP/1.1 200 OK[CR][LF]
Content-type: text/plain[CR][LF]
Connection: Keep-Alive[CR][LF]
Content-Length: *****[CR][LF][CR][LF]
Recording information[CR][LF][CR][LF]
Disk,Capacity,Remain capacity,Recorded time range[CR][LF]
MAIN-1,4001GB(R),1529GB,2021/11/14,0,13:00:00,2021/12/24,0,15:30:12[CR][LF]
MAIN-2,4001GB,3710GB,.....,[CR][LF]
MAIN-3,4001GB,3710GB,.....,[CR][LF]
MAIN-4,4001GB,3710GB,.....,[CR][LF]
MAIN-5,.....,[CR][LF]
.....
MAIN-9,.....,[CR][LF]
EXT1-1,.....,[CR][LF]
EXT1-2,.....,[CR][LF]
.....
EXT5-8,.....,[CR][LF]
EXT5-9,.....,[CR][LF]
"""

# Section 5.3.1, verbatim.
SPEC_CAMERA_CONNECTION = """HTTP/1.1 200 OK[CR][LF]
Connection: Keep-Alive[CR][LF]
Cache-Control: no-cache[CR][LF]
Content-Type: text/html[CR][LF]
Content-Length: ****[CR][LF][CR][LF]
<HTML>[CR][LF]
CAM_CONNECT_01CH=1[CR][LF]
CAM_CONNECT_02CH=1[CR][LF]
CAM_CONNECT_03CH=2[CR][LF]
CAM_CONNECT_04CH=2[CR][LF]
CAM_CONNECT_05CH=0[CR][LF]
: : :
CAM_CONNECT_99CH=0[CR][LF]
CAM_CONNECT_100CH=0[CR][LF]
: : :
CAM_CONNECT_128CH=0[CR][LF]
MAXUID=16[CR][LF]
USEDUID=1[CR][LF]
</HTML>[CR][LF]
"""

# Section 6.1.1, verbatim.
SPEC_LOGIN = """
<html>[CR] [LF]
<head>[CR] [LF]
<meta http-equiv="X-UA-Compatible" content="IE=edge">[CR] [LF]
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">[CR] [LF]
<meta http-equiv="Content-Script-Type" content="text/javascript">[CR] [LF]
<meta http-equiv="Pragma" content="no-cache">[CR] [LF]
<link rel="stylesheet" type="text/css" href="../rec_common_mlt.css">[CR] [LF]
<title>Network Disk Recorder WJ-NX400</title>[CR] [LF]
<script language="JavaScript" src="../setup_mlt.js"></script>[CR] [LF]
</head>[CR] [LF]
<body leftmargin="0" topmargin="0" marginwidth="0" marginheight="0" oncontextmenu="return false">[CR] [LF]
<script type="text/javascript">[CR] [LF]
<!--[CR] [LF]
#if("J" == "G") [CR] [LF]
$t[[CR] [LF]
$t$document.title = "Network Disk Recorder WJ-NX400";[CR] [LF]
$t[[CR] [LF]
$telse[CR] [LF]
$t[[CR] [LF]
$t$document.title = "Network Disk Recorder WJ-NX400";[CR] [LF]
$t[[CR] [LF]
[CR] [LF]
$tthis.location.href = "./hdrctl.cgi?UID=13313&HTML=caindex.html"+ RetTempParam();[CR] [LF]
//-->[CR] [LF]
</script>[CR] [LF]
</body>[CR] [LF]
</html>[CR] [LF]

"""  # noqa: E501


def test_spec_error_log() -> None:
    log = parse_log_list(spec_body(SPEC_ERROR_LOG), LogType.ERROR)
    assert log.log is LogType.ERROR
    first, second = log.entries
    assert first.number == 1
    assert first.local_time == datetime(2021, 11, 14, 14, 10)  # noqa: DTZ001
    assert first.summer_time is False
    assert first.kind == "CAM 3 COMMUNICATION ERROR"
    assert first.zone == "GMT+03:00"
    assert first.time == datetime(2021, 11, 14, 11, 10, tzinfo=UTC)
    assert first.camera == 3
    assert first.identity == (
        "2021/11/14 14:10:00",
        False,
        "CAM 3 COMMUNICATION ERROR",
        "GMT+03:00",
    )
    assert second.number == 2
    assert second.kind == "CAM 3 COMMUNICATION RECOVERED"
    assert second.time == datetime(2021, 11, 14, 11, 48, tzinfo=UTC)
    assert second.camera == 3


def test_spec_event_log_wrapped_inside_a_time() -> None:
    log = parse_log_list(spec_body(SPEC_EVENT_LOG), LogType.EVENT)
    first, second = log.entries
    assert first.kind == "SITE(VMD)-2"
    assert first.camera == 2
    assert first.time == datetime(2024, 4, 24, 3, 30, tzinfo=UTC)
    assert second.local_time == datetime(2024, 4, 24, 11, 45)  # noqa: DTZ001
    assert second.time == datetime(2024, 4, 24, 2, 45, tzinfo=UTC)
    assert second.camera == 1
    assert second.identity == ("2024/04/24 11:45:00", False, "SITE(VMD)-1", "GMT+09:00")


def test_log_wrap_with_lf_only_and_html_wrapper() -> None:
    text = spec_body(SPEC_EVENT_LOG).replace("\r\n", "\n")
    log = parse_log_list(f"<HTML>\n{text}</HTML>\n", LogType.EVENT)
    assert [e.camera for e in log.entries] == [2, 1]


def test_log_summer_time_and_negative_zone() -> None:
    text = 'EVENT_LOG_NO=1\r\nEVENT_LOG="001","2024/07/01 10:00:00","1","TRM-1","GMT-05:00"\r\n'
    (entry,) = parse_log_list(text, LogType.EVENT).entries
    assert entry.summer_time is True
    assert entry.time == datetime(2024, 7, 1, 14, 0, tzinfo=UTC)
    assert entry.camera is None


@pytest.mark.parametrize(
    "text",
    [
        "EVENT_LOG_NO=0\r\nEVENT_LOG=\r\n",
        'EVENT_LOG_NO=0\r\nEVENT_LOG=""\r\n',
        "EVENT_LOG_NO=0\r\n",
        "FILENAME=as_eventlog.html\nEVENT_LOG=\n",
    ],
)
def test_empty_log(text: str) -> None:
    assert parse_log_list(text, LogType.EVENT).entries == ()


def test_log_of_1000_entries_and_more_is_capped() -> None:
    fields = ",".join(
        f'"{n:03d}","2024/01/01 00:{n // 60 % 60:02d}:{n % 60:02d}","0",'
        f'"CAM {n % 16 + 1} VIDEO LOSS","GMT+00:00"'
        for n in range(1, 1011)
    )
    log = parse_log_list(f"ERROR_LOG_NO=1010\r\nERROR_LOG={fields}\r\n", LogType.ERROR)
    assert len(log.entries) == 1000
    assert log.entries[-1].number == 1000
    assert log.entries[0].camera == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FILENAME=as_eventlog.html\r\n", "not the event log"),
        ("EVENT_LOG_NO=2\r\nEVENT_LOG=\r\n", "announced 2"),
        ('EVENT_LOG_NO=1\r\nEVENT_LOG="001","2024/01/01 00:00:00","0","X"\r\n', "groups of five"),
        ('EVENT_LOG_NO=x\r\nEVENT_LOG=""\r\n', "not a number"),
        ('EVENT_LOG="001";"a"\r\n', "malformed"),
        ('EVENT_LOG=x"001"\r\n', "malformed"),
        ('EVENT_LOG="001","a","0","b","GMT" junk\r\n', "malformed"),
        ('EVENT_LOG="001","2024/13/01 00:00:00","0","X","GMT+01:00"\r\n', "invalid date"),
        ('EVENT_LOG="001","yesterday","0","X","GMT+01:00"\r\n', "invalid time"),
        ('EVENT_LOG="001","2024/01/01 00:00:00","2","X","GMT+01:00"\r\n', "summer-time"),
        ('EVENT_LOG="001","2024/01/01 00:00:00","0","X","Tokyo"\r\n', "time zone"),
        ('EVENT_LOG="001","2024/01/01 00:00:00","0","X",""\r\n', "time zone"),
        ('EVENT_LOG="001","2024/01/01 00:00:00","0","X","GMT+15:00"\r\n', "time zone"),
        ('EVENT_LOG="one","2024/01/01 00:00:00","0","X","GMT"\r\n', "not a number"),
    ],
)
def test_log_garbage(text: str, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_log_list(text, LogType.EVENT)


@pytest.mark.parametrize(
    ("kind", "camera"),
    [
        ("CAM 3 COMMUNICATION ERROR", 3),
        ("CAM3 VIDEO LOSS", 3),
        ("CAMERA-12 RECOVERED", 12),
        ("cam 128 error", 128),
        ("CAM 129 ERROR", None),
        ("SITE(VMD)-2", 2),
        ("SITE(SCENE CHANGE)-16", 16),
        ("SITE-7", 7),
        ("TRM-1", None),
        ("COM(ALARM)", None),
        ("HDD MAIN-1 ERROR", None),
        ("CAMPAIGN 3", None),
    ],
)
def test_camera_from_kind(kind: str, camera: int | None) -> None:
    assert camera_from_kind(kind) == camera


@pytest.mark.parametrize(
    ("zone", "offset"),
    [
        ("GMT+09:00", timedelta(hours=9)),
        ("GMT-03:30", timedelta(hours=-3, minutes=-30)),
        ("GMT", timedelta()),
        ("UTC+0530", timedelta(hours=5, minutes=30)),
        ("gmt+1", timedelta(hours=1)),
    ],
)
def test_parse_zone(zone: str, offset: timedelta) -> None:
    assert parse_zone(zone) == offset


def test_spec_hdd_info() -> None:
    info = parse_hdd_info(spec_body(SPEC_HDD))
    names = [d.name for d in info.disks]
    assert names == [
        "MAIN-1",
        "MAIN-2",
        "MAIN-3",
        "MAIN-4",
        "MAIN-5",
        "MAIN-9",
        "EXT1-1",
        "EXT1-2",
        "EXT5-8",
        "EXT5-9",
    ]
    main1 = info.disks[0]
    assert main1.capacity_gb == 4001
    assert main1.capacity_flag == "R"
    assert main1.remain_gb == 1529
    assert main1.oldest == datetime(2021, 11, 14, 13, 0, tzinfo=UTC)
    assert main1.newest == datetime(2021, 12, 24, 15, 30, 12, tzinfo=UTC)
    assert main1.installed
    assert main1.used_percent == pytest.approx((4001 - 1529) / 4001 * 100)
    main2 = info.disks[1]
    assert (main2.capacity_gb, main2.capacity_flag, main2.remain_gb) == (4001, None, 3710)
    assert main2.oldest is None
    assert main2.newest is None
    empty = info.disks[4]
    assert not empty.installed
    assert empty.used_percent is None
    assert empty.remain_gb is None


def test_hdd_times_with_zones() -> None:
    line = "Disk,Capacity\r\nMAIN-1,2000GB,100GB,2024/07/01,1,12:00:00,2024/12/01,0,12:00:00\r\n"
    fixed = parse_hdd_info(line, timezone(timedelta(hours=-5))).disks[0]
    assert fixed.oldest == datetime(2024, 7, 1, 16, 0, tzinfo=UTC)
    assert fixed.newest == datetime(2024, 12, 1, 17, 0, tzinfo=UTC)
    zoned = parse_hdd_info(line, ZoneInfo("America/New_York")).disks[0]
    assert zoned.oldest == datetime(2024, 7, 1, 16, 0, tzinfo=UTC)
    assert zoned.newest == datetime(2024, 12, 1, 17, 0, tzinfo=UTC)
    assert parse_hdd_info(line).disks[0].oldest == datetime(2024, 7, 1, 11, 0, tzinfo=UTC)


def test_hdd_summer_flag_picks_the_side_of_an_ambiguous_hour() -> None:
    zone = ZoneInfo("Europe/Berlin")
    summer = "MAIN-1,1GB,1GB,2024/10/27,1,02:30:00,2024/10/27,0,02:30:00\n"
    disk = parse_hdd_info(summer, zone).disks[0]
    assert disk.oldest == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert disk.newest == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)
    wrong_flag = "MAIN-1,1GB,1GB,2024/01/10,1,02:30:00,.....\n"
    assert parse_hdd_info(wrong_flag, zone).disks[0].oldest == datetime(
        2024, 1, 10, 1, 30, tzinfo=UTC
    )


def test_hdd_variants() -> None:
    text = (
        "Recording information\n\nDisk,Capacity,Remain capacity,Recorded time range\n"
        "MAIN-1, 500 GB ,0GB,2024/01/02,0,03:04:05,.....,\n"
        "EXT2-3,100GB(RAID),200GB\n"
        "MAIN-2\t,\n"
    )
    first, second, third = parse_hdd_info(text).disks
    assert first.capacity_gb == 500
    assert first.used_percent == 100.0
    assert first.oldest == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.newest is None
    assert second.capacity_flag == "RAID"
    assert second.used_percent == 0.0
    assert not third.installed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Recording information\r\n", "no disks"),
        ("<html><title>x</title></html>", "no disks"),
        ("MAIN-1,lots,1GB\n", "disk capacity"),
        ("MAIN-1,1GB,some\n", "remaining capacity"),
        ("MAIN-1,1GB,1GB,2024/01/01,0\n", "recording range"),
        ("MAIN-1,1GB,1GB,2024/01/01,0,25:00:00,.....,.....,.....\n", "invalid date"),
        ("MAIN-1,1GB,1GB,01.01.2024,0,12:00:00\n", "recording time"),
        ("MAIN-1,1GB,1GB,2024/01/01,0,00:00:00,.....,extra\n", "recording range"),
    ],
)
def test_hdd_garbage(text: str, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_hdd_info(text)


def test_spec_camera_connection() -> None:
    info = parse_camera_connection(spec_body(SPEC_CAMERA_CONNECTION))
    assert info.cameras[1] is CameraStatus.NORMAL
    assert info.cameras[3] is CameraStatus.CONNECTION_ERROR
    assert info.cameras[5] is CameraStatus.NOT_REGISTERED
    assert info.cameras[100] is CameraStatus.NOT_REGISTERED
    assert info.cameras[128] is CameraStatus.NOT_REGISTERED
    assert info.registered == (1, 2, 3, 4)
    assert (info.max_uid, info.used_uid) == (16, 1)


@pytest.mark.parametrize("count", [16, 32, 64, 128])
def test_camera_connection_full_lists(count: int) -> None:
    lines = "".join(f"CAM_CONNECT_{n:02d}CH={n % 3}\n" for n in range(count, 0, -1))
    info = parse_camera_connection(f"<HTML>\n{lines}</HTML>\n")
    assert info.camera_count == count
    assert list(info.cameras) == list(range(1, count + 1))
    assert info.max_uid is None
    assert info.used_uid is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MAXUID=16\nUSEDUID=1\n", "lists no cameras"),
        ("CAM_CONNECT_00CH=1\n", "out of range"),
        ("CAM_CONNECT_129CH=1\n", "out of range"),
        ("CAM_CONNECT_01CH=5\n", "unknown camera state"),
        ("CAM_CONNECT_01CH=\n", "not a number"),
        ("CAM_CONNECT_01CH=1\nMAXUID=many\n", "not a number"),
    ],
)
def test_camera_connection_garbage(text: str, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_camera_connection(text)


def test_spec_login_page() -> None:
    page = spec_body(SPEC_LOGIN)
    uid, info = parse_login(page)
    assert uid == "13313"
    assert info.model == "WJ-NX400"
    assert info.title == "Network Disk Recorder WJ-NX400"
    assert is_login_page(page)
    assert is_login_page(page.encode())


def test_login_variants() -> None:
    uid, info = parse_login(
        '<script>document.title = "Recorder &amp; more";\n'
        'location.href="hdrctl.cgi?uid=0000000000000000001&HTML=x"</script>'
    )
    assert uid == "0000000000000000001"
    assert info.title == "Recorder & more"
    assert info.model == "more"
    uid, info = parse_login("hdrctl.cgi?UID=42")
    assert (uid, info.model, info.title) == ("42", "", "")
    _, info = parse_login("<title>WJ-NU101 recorder</title> UID=1")
    assert info.model == "WJ-NU101"


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("<html><title>Login</title></html>", "did not issue"),
        ("dlogin.cgi?UID=-1", "did not issue"),
        ("hdrctl.cgi?UID=12345678901234567890&", "20 digits"),
    ],
)
def test_login_failures(page: str, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_login(page)


@pytest.mark.parametrize(
    "data",
    [
        spec_body(SPEC_CAMERA_CONNECTION),
        spec_body(SPEC_ERROR_LOG),
        spec_body(SPEC_HDD),
        "",
        b"\xff\x15\x00\x10",
    ],
)
def test_data_is_not_a_login_page(data: str | bytes) -> None:
    assert not is_login_page(data)


def test_key_values() -> None:
    text = (
        "preamble line\n<HTML><BODY>\nA=1\r\n  B = 2 \nC=x=y\n: : :\n"
        'L="a",\n"b"\n\nA=3</BODY></HTML>\n'
    )
    assert parse_key_values(text) == {"A": "3", "C": "x=y", "L": '"a",\n"b"'}


def test_decode_text_never_fails() -> None:
    assert decode_text("Grüße".encode()) == "Grüße"
    assert decode_text(b"\xff\xfeA") == "\ufffd\ufffdA"


def test_format_timef() -> None:
    moment = datetime(2024, 4, 24, 21, 5, 6, 789000, tzinfo=timezone(timedelta(hours=9)))
    assert format_timef(moment) == "24042412050600"
    assert format_timef(moment, 78) == "24042412050678"
    with pytest.raises(ValueError, match="hundredths"):
        format_timef(moment, 100)
    with pytest.raises(ValueError, match="aware"):
        format_timef(datetime(2024, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="1999"):
        format_timef(datetime(1999, 12, 31, tzinfo=UTC))


def test_format_download_time_is_utc_and_floors_seconds() -> None:
    moment = datetime(2023, 11, 15, 9, 30, 59, tzinfo=timezone(timedelta(hours=9)))
    assert format_download_time(moment) == "231115003000"

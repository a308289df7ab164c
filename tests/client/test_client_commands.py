"""Every command's path, parameter order and lane, as built (before any simulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custom_components.ipro_nvr.aioipro import commands
from custom_components.ipro_nvr.aioipro.models import (
    AuxAction,
    DownloadKind,
    FocusAction,
    IrisAction,
    VideoCodec,
)
from custom_components.ipro_nvr.aioipro.pacer import Lane

WHEN = datetime(2024, 4, 24, 3, 30, 15, 250_000, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))

CASES: list[tuple[commands.CgiCommand, str, Lane | None]] = [
    (commands.login(), "/cgi-bin/dlogin.cgi?UID=-1", Lane.COMMAND),
    (commands.logout(), "/cgi-bin/logout.cgi?UID=77", Lane.COMMAND),
    (commands.keep_alive(), "/cgi-bin/status.cgi?UID=77&PC=AS60", Lane.COMMAND),
    (commands.setup_live(), "/cgi-bin/hdrctl.cgi?UID=77&SCREEN=16X&PC=AS60", Lane.COMMAND),
    (
        commands.push_http(3, True, VideoCodec.H265),
        "/cgi-bin/push.cgi?UID=77&CAM=3&CMD=START&COMP=H265&INTERNETMODE=ON",
        Lane.COMMAND,
    ),
    (
        commands.push_http(3, False, "AUDIO"),
        "/cgi-bin/push.cgi?UID=77&CAM=3&CMD=STOP&COMP=AUDIO&INTERNETMODE=ON",
        Lane.COMMAND,
    ),
    (
        commands.push_rtp(2, True, VideoCodec.H264, 50000),
        "/cgi-bin/push.cgi?UID=77&CAM=2&CMD=START&COMP=H264&PORT=50000",
        Lane.COMMAND,
    ),
    (commands.playback_video(5), "/cgi-bin/camera.cgi?UID=77&CAM=5", None),
    (commands.playback_audio(5), "/cgi-bin/playaudio.cgi?UID=77&CAM=5", None),
    (
        commands.playback_mask([2], 16),
        "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&MASK=0100000000000000",
        Lane.COMMAND,
    ),
    (
        commands.play(),
        "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=PLAY&2ND=OFF&TIMEF=AS60_UNKNOWN&NOTIME=ON",
        Lane.COMMAND,
    ),
    (
        commands.reverse(WHEN),
        ("/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=BPLAY&2ND=OFF&TIMEF=24042403301500&NOTIME=ON"),
        Lane.COMMAND,
    ),
    (
        commands.pause(WHEN),
        (
            "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=PAUSE&2ND=OFF&TIMEF=24042403301500"
            "&SMOOTH=OFF&NOTIME=ON"
        ),
        Lane.COMMAND,
    ),
    (
        commands.step(WHEN, forward=True),
        (
            "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=NEXTFRAME&2ND=OFF&TIMEF=24042403301525"
            "&NOTIME=ON"
        ),
        Lane.COMMAND,
    ),
    (
        commands.step(WHEN.astimezone(TOKYO), forward=False),
        (
            "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=PREVFRAME&2ND=OFF&TIMEF=24042403301525"
            "&NOTIME=ON"
        ),
        Lane.COMMAND,
    ),
    (
        commands.goto_date(WHEN),
        (
            "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=GOTODATE&2ND=OFF&TIMEF=24042403301500"
            "&SDBACKUP=0&NOTIME=ON"
        ),
        Lane.COMMAND,
    ),
    (
        commands.fast(WHEN, forward=True),
        (
            "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=FF&2ND=OFF&TIMEF=24042403301500"
            "&SMOOTH=OFF&NOTIME=ON"
        ),
        Lane.COMMAND,
    ),
    (
        commands.fast(WHEN, forward=False),
        (
            "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=REW&2ND=OFF&TIMEF=24042403301500"
            "&SMOOTH=OFF&NOTIME=ON"
        ),
        Lane.COMMAND,
    ),
    (
        commands.stop(WHEN),
        "/cgi-bin/hdrctl.cgi?UID=77&PC=AS60&PLAYCMD=STOP&2ND=OFF&TIMEF=24042403301500",
        Lane.COMMAND,
    ),
    (
        commands.ptz(1, -256, 256, -4),
        "/cgi-bin/directctrl.cgi?UID=77&CH=1&PAN=-256&TILT=256&ZOOM=-4&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.center(1, 320, 240),
        "/cgi-bin/camctl.cgi?UID=77&CH=1&CMD=CENTERING&CTRL=START&X=320&Y=240&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.focus(1, FocusAction.FAR),
        "/cgi-bin/camctl.cgi?UID=77&CH=1&CMD=FOCUS&CTRL=FAR&CTRL=START&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.iris(1, IrisAction.RESET),
        "/cgi-bin/camctl.cgi?UID=77&CH=1&CMD=IRIS&CTRL=RESET&CTRL=START&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.set_preset(1, 256),
        "/cgi-bin/camctl.cgi?UID=77&CH=1&CMD=PRESETPRG&NO=256&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.goto_preset(1, 1),
        "/cgi-bin/camctl.cgi?UID=77&CH=1&CMD=PRESET&NO=1&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.aux(1, 8, AuxAction.CLOSE),
        "/cgi-bin/camctl.cgi?UID=77&CH=1&CMD=AUX8&CTRL=CLOSE&PC=AS60",
        Lane.CONTROL,
    ),
    (
        commands.error_log(),
        "/cgi-bin/loglist.cgi?UID=77&KIND=ERR&HTML=as_errorlog.html",
        Lane.COMMAND,
    ),
    (
        commands.event_log(),
        "/cgi-bin/loglist.cgi?UID=77&KIND=EVENT&HTML=as_eventlog.html",
        Lane.COMMAND,
    ),
    (commands.recorded_time(), "/cgi-bin/recordedtime.cgi", Lane.COMMAND),
    (commands.camera_connection(), "/cgi-bin/as_getinfo.cgi?FILE=2", Lane.COMMAND),
    (
        commands.download(4, WHEN, WHEN + timedelta(minutes=30), DownloadKind.MP4_VIDEO_ONLY),
        (
            "/cgi-bin/httpdl.cgi?UID=77&STARTTIME=240424033000&ENDTIME=240424040000&KIND=MP4VO"
            "&CAM=4&PC=AS60"
        ),
        Lane.COMMAND,
    ),
]


@pytest.mark.parametrize(("command", "expected", "lane"), CASES)
def test_url_and_lane(command: commands.CgiCommand, expected: str, lane: Lane | None) -> None:
    query = command.query("77")
    assert (f"{command.path}?{query}" if query else command.path) == expected
    assert command.lane == lane


def test_command_with_uid_needs_one() -> None:
    with pytest.raises(ValueError):
        commands.logout().query(None)


def test_mask_of_larger_models() -> None:
    query = commands.playback_mask([1, 64], 64).query("1")
    mask = query.split("MASK=")[1]
    assert len(mask) == 64
    assert mask[0] == "1"
    assert mask[63] == "1"
    assert mask.count("1") == 2


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: commands.ptz(1, 257, 0, 0), "pan"),
        (lambda: commands.ptz(1, 0, -257, 0), "tilt"),
        (lambda: commands.ptz(1, 0, 0, 5), "zoom"),
        (lambda: commands.set_preset(1, 0), "preset"),
        (lambda: commands.goto_preset(1, 257), "preset"),
        (lambda: commands.aux(1, 9, AuxAction.OPEN), "AUX"),
        (lambda: commands.playback_mask([], 16), "at least one"),
        (lambda: commands.playback_mask([17], 16), "outside"),
        (lambda: commands.push_http(0, True, VideoCodec.H264), "camera"),
        (lambda: commands.push_rtp(1, True, VideoCodec.H264, 0), "port"),
    ],
)
def test_invalid_values_rejected(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()

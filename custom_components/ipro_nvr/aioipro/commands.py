"""Every CGI command of the spec as a value: path, ordered parameters, pacing lane.

Query strings are built here, by hand, in the order the spec's URLs show. A dict would
lose the repeated ``CTRL`` of FOCUS and IRIS (``CTRL=FAR&CTRL=START``) and some devices
are picky about order. ``UID`` is not part of ``params``: the client puts the UID of the
session it uses first, as every spec URL does, so a re-login can re-send the same
command with a fresh UID.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from .models import AuxAction, DownloadKind, FocusAction, IrisAction, VideoCodec
from .pacer import Lane
from .text import format_download_time, format_timef

CGI_PREFIX = "/cgi-bin/"
PC = ("PC", "AS60")
PTZ_SPEED_LIMIT = 256
ZOOM_SPEED_LIMIT = 4
PRESET_RANGE = range(1, 257)
AUX_RANGE = range(1, 9)
_PLAY_TAIL = ("NOTIME", "ON")

type Param = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CgiCommand:
    """One request: CGI name, parameters after the UID, lane (``None``: stream data).

    ``priority`` commands (the polls) go before waiting ordinary ones in their lane.
    """

    cgi: str
    params: tuple[Param, ...] = ()
    lane: Lane | None = Lane.COMMAND
    with_uid: bool = True
    expects_data: bool = False
    priority: bool = False

    @property
    def path(self) -> str:
        """Return the request path, e.g. ``/cgi-bin/hdrctl.cgi``."""
        return CGI_PREFIX + self.cgi

    def query(self, uid: str | None) -> str:
        """Return the query string with ``uid`` first when the command carries one."""
        pairs: Iterable[Param] = self.params
        if self.with_uid:
            if uid is None:
                raise ValueError(f"{self.cgi} needs a session (UID)")
            pairs = (("UID", uid), *self.params)
        return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def _camera(camera: int) -> str:
    if camera < 1:
        raise ValueError(f"camera numbers start at 1, got {camera}")
    return str(camera)


# Session (section 6)


def login() -> CgiCommand:
    """``dlogin.cgi?UID=-1``: issue a UID."""
    return CgiCommand("dlogin.cgi", (("UID", "-1"),), with_uid=False, expects_data=True)


def logout() -> CgiCommand:
    """``logout.cgi?UID=``: release a UID."""
    return CgiCommand("logout.cgi")


def keep_alive() -> CgiCommand:
    """``status.cgi?UID=&PC=AS60``: restart the UID's 90 s clock."""
    return CgiCommand("status.cgi", (PC,))


# Live (section 2)


def setup_live() -> CgiCommand:
    """``hdrctl.cgi?UID=&SCREEN=16X&PC=AS60``: prepare the UID for live streams."""
    return CgiCommand("hdrctl.cgi", (("SCREEN", "16X"), PC))


def push_http(camera: int, start: bool, comp: VideoCodec | str) -> CgiCommand:
    """``push.cgi`` START/STOP of an HTTP(S) stream (``INTERNETMODE=ON``)."""
    return CgiCommand(
        "push.cgi",
        (
            ("CAM", _camera(camera)),
            ("CMD", "START" if start else "STOP"),
            ("COMP", str(comp)),
            ("INTERNETMODE", "ON"),
        ),
    )


def push_rtp(camera: int, start: bool, comp: VideoCodec | str, port: int) -> CgiCommand:
    """``push.cgi`` START/STOP of an RTP stream sent to UDP ``port``."""
    if not 0 < port < 65536:
        raise ValueError(f"UDP port must be 1..65535, got {port}")
    return CgiCommand(
        "push.cgi",
        (
            ("CAM", _camera(camera)),
            ("CMD", "START" if start else "STOP"),
            ("COMP", str(comp)),
            ("PORT", str(port)),
        ),
    )


# Playback (section 3)


def playback_video(camera: int) -> CgiCommand:
    """``camera.cgi``: one GOP; stream data, so not paced by the 3 s rule."""
    return CgiCommand("camera.cgi", (("CAM", _camera(camera)),), lane=None, expects_data=True)


def playback_audio(camera: int) -> CgiCommand:
    """``playaudio.cgi``: about a second of audio; stream data, not paced."""
    return CgiCommand("playaudio.cgi", (("CAM", _camera(camera)),), lane=None, expects_data=True)


def playback_mask(cameras: Iterable[int], camera_count: int) -> CgiCommand:
    """``hdrctl.cgi?...&MASK=``: one digit per camera slot, camera 1 leftmost."""
    selected = set(cameras)
    if not selected:
        raise ValueError("select at least one camera to play back")
    for camera in selected:
        if not 1 <= camera <= camera_count:
            raise ValueError(f"camera {camera} is outside 1..{camera_count}")
    mask = "".join("1" if n in selected else "0" for n in range(1, camera_count + 1))
    return CgiCommand("hdrctl.cgi", (PC, ("MASK", mask)))


def _playcmd(cmd: str, timef: str, *tail: Param) -> CgiCommand:
    return CgiCommand("hdrctl.cgi", (PC, ("PLAYCMD", cmd), ("2ND", "OFF"), ("TIMEF", timef), *tail))


def play() -> CgiCommand:
    """PLAYCMD=PLAY: start playback where the recorder is (fixed TIMEF)."""
    return _playcmd("PLAY", "AS60_UNKNOWN", _PLAY_TAIL)


def reverse(when: datetime) -> CgiCommand:
    """PLAYCMD=BPLAY: reverse playback from ``when``."""
    return _playcmd("BPLAY", format_timef(when), _PLAY_TAIL)


def pause(when: datetime) -> CgiCommand:
    """PLAYCMD=PAUSE at the displayed time ``when``."""
    return _playcmd("PAUSE", format_timef(when), ("SMOOTH", "OFF"), _PLAY_TAIL)


def step(when: datetime, *, forward: bool) -> CgiCommand:
    """PLAYCMD=NEXTFRAME/PREVFRAME; ``ff`` carries 10 ms units here."""
    cmd = "NEXTFRAME" if forward else "PREVFRAME"
    return _playcmd(cmd, format_timef(when, when.microsecond // 10_000), _PLAY_TAIL)


def goto_date(when: datetime) -> CgiCommand:
    """PLAYCMD=GOTODATE: play from ``when``."""
    return _playcmd("GOTODATE", format_timef(when), ("SDBACKUP", "0"), _PLAY_TAIL)


def fast(when: datetime, *, forward: bool) -> CgiCommand:
    """PLAYCMD=FF/REW; sending it again speeds up."""
    return _playcmd("FF" if forward else "REW", format_timef(when), ("SMOOTH", "OFF"), _PLAY_TAIL)


def stop(when: datetime) -> CgiCommand:
    """PLAYCMD=STOP."""
    return _playcmd("STOP", format_timef(when))


# Camera control (section 4): the 0.2 s lane


def _control(camera: int, *params: Param) -> CgiCommand:
    return CgiCommand("camctl.cgi", (("CH", _camera(camera)), *params, PC), lane=Lane.CONTROL)


def ptz(camera: int, pan: int, tilt: int, zoom: int) -> CgiCommand:
    """``directctrl.cgi``: pan/tilt -256..256 (the 16-step form is the same URL), zoom -4..4."""
    for name, value, limit in (
        ("pan", pan, PTZ_SPEED_LIMIT),
        ("tilt", tilt, PTZ_SPEED_LIMIT),
        ("zoom", zoom, ZOOM_SPEED_LIMIT),
    ):
        if not -limit <= value <= limit:
            raise ValueError(f"{name} speed must be within -{limit}..{limit}, got {value}")
    return CgiCommand(
        "directctrl.cgi",
        (
            ("CH", _camera(camera)),
            ("PAN", str(pan)),
            ("TILT", str(tilt)),
            ("ZOOM", str(zoom)),
            PC,
        ),
        lane=Lane.CONTROL,
    )


def center(camera: int, x: int, y: int) -> CgiCommand:
    """CENTERING on image position ``x``, ``y`` (the URL says ``CH``, the table ``CAM``)."""
    return _control(camera, ("CMD", "CENTERING"), ("CTRL", "START"), ("X", str(x)), ("Y", str(y)))


def focus(camera: int, action: FocusAction) -> CgiCommand:
    """FOCUS: ``CTRL`` twice, the action then ``START``."""
    return _control(camera, ("CMD", "FOCUS"), ("CTRL", str(action)), ("CTRL", "START"))


def iris(camera: int, action: IrisAction) -> CgiCommand:
    """IRIS: ``CTRL`` twice, the action then ``START``."""
    return _control(camera, ("CMD", "IRIS"), ("CTRL", str(action)), ("CTRL", "START"))


def _preset_no(number: int) -> str:
    if number not in PRESET_RANGE:
        raise ValueError(f"preset numbers are 1..256, got {number}")
    return str(number)


def set_preset(camera: int, number: int) -> CgiCommand:
    """PRESETPRG: store the current position as preset ``number``."""
    return _control(camera, ("CMD", "PRESETPRG"), ("NO", _preset_no(number)))


def goto_preset(camera: int, number: int) -> CgiCommand:
    """PRESET: move to preset ``number``."""
    return _control(camera, ("CMD", "PRESET"), ("NO", _preset_no(number)))


def aux(camera: int, number: int, action: AuxAction) -> CgiCommand:
    """AUX1..AUX8 OPEN/CLOSE."""
    if number not in AUX_RANGE:
        raise ValueError(f"AUX numbers are 1..8, got {number}")
    return _control(camera, ("CMD", f"AUX{number}"), ("CTRL", str(action)))


# Recorder information (section 5)


def error_log() -> CgiCommand:
    """``loglist.cgi`` KIND=ERR."""
    return CgiCommand(
        "loglist.cgi",
        (("KIND", "ERR"), ("HTML", "as_errorlog.html")),
        expects_data=True,
        priority=True,
    )


def event_log() -> CgiCommand:
    """``loglist.cgi`` KIND=EVENT."""
    return CgiCommand(
        "loglist.cgi",
        (("KIND", "EVENT"), ("HTML", "as_eventlog.html")),
        expects_data=True,
        priority=True,
    )


def recorded_time() -> CgiCommand:
    """``recordedtime.cgi``: HDD capacity and recording range; no UID."""
    return CgiCommand("recordedtime.cgi", with_uid=False, expects_data=True, priority=True)


def camera_connection() -> CgiCommand:
    """``as_getinfo.cgi?FILE=2``: camera slots and UID usage; no UID."""
    return CgiCommand(
        "as_getinfo.cgi", (("FILE", "2"),), with_uid=False, expects_data=True, priority=True
    )


# Download (section 6.3)


def download(camera: int, start: datetime, end: datetime, kind: DownloadKind) -> CgiCommand:
    """``httpdl.cgi``: at most one hour of recording as files."""
    return CgiCommand(
        "httpdl.cgi",
        (
            ("STARTTIME", format_download_time(start)),
            ("ENDTIME", format_download_time(end)),
            ("KIND", str(kind)),
            ("CAM", _camera(camera)),
            PC,
        ),
    )

"""Data returned by the NVR, as immutable values.

Times are aware ``datetime`` objects in UTC unless the field name says ``local``; the NVR
reports local times with a separate summer-time flag and a standard zone offset, and the
parsers do the conversion once so callers never have to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from pathlib import Path
from types import MappingProxyType

_LOCAL_TIME_FORMAT = "%Y/%m/%d %H:%M:%S"
_SUMMER_SHIFT = timedelta(hours=1)


def _empty_mapping() -> Mapping[int, bytes]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class NvrInfo:
    """What the login page tells about the recorder."""

    model: str
    title: str


class CameraStatus(IntEnum):
    """Connection state of a camera slot (``CAM_CONNECT_xxCH``)."""

    NOT_REGISTERED = 0
    NORMAL = 1
    CONNECTION_ERROR = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraConnectionInfo:
    """Camera slots and session usage from ``as_getinfo.cgi?FILE=2``."""

    cameras: Mapping[int, CameraStatus]
    max_uid: int | None
    used_uid: int | None

    @property
    def camera_count(self) -> int:
        """Return how many camera slots the model supports (16, 32, 64 or 128)."""
        return len(self.cameras)

    @property
    def registered(self) -> tuple[int, ...]:
        """Return the numbers of the cameras that are registered, ascending."""
        return tuple(
            sorted(n for n, s in self.cameras.items() if s is not CameraStatus.NOT_REGISTERED)
        )


class LogType(StrEnum):
    """Which of the NVR's two logs."""

    EVENT = "event"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One log line.

    ``number`` is the entry's position (1 is the newest), not an id: use ``identity`` to
    recognise an entry across polls.
    """

    number: int
    local_time: datetime
    summer_time: bool
    kind: str
    zone: str
    time: datetime
    camera: int | None

    @property
    def identity(self) -> tuple[str, bool, str, str]:
        """Return what identifies the entry: local time text, summer flag, kind, zone."""
        return (
            self.local_time.strftime(_LOCAL_TIME_FORMAT),
            self.summer_time,
            self.kind,
            self.zone,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogList:
    """A log as the NVR returned it, newest entry first."""

    log: LogType
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Disk:
    """One disk slot from ``recordedtime.cgi``; empty slots have every value ``None``.

    ``oldest``/``newest`` are the recording range; the response gives them as local time
    with a summer flag, and the parser converts them with the zone it is given.
    """

    name: str
    capacity_gb: int | None
    capacity_flag: str | None
    remain_gb: int | None
    oldest: datetime | None
    newest: datetime | None

    @property
    def installed(self) -> bool:
        """Return whether a disk sits in the slot (its capacity is known)."""
        return self.capacity_gb is not None

    @property
    def used_percent(self) -> float | None:
        """Return the used share of the disk in percent, ``None`` when unknown."""
        if not self.capacity_gb or self.remain_gb is None:
            return None
        used = (self.capacity_gb - self.remain_gb) / self.capacity_gb * 100
        return min(100.0, max(0.0, used))


@dataclass(frozen=True, slots=True, kw_only=True)
class HddInfo:
    """Every disk slot the NVR reports, in response order."""

    disks: tuple[Disk, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeInfo:
    """A time stamp with the zone the NVR was set to (TLV 0x0007 / 0x0011).

    ``tz_offset`` is the standard offset; summer time adds one hour on top of it.
    """

    time: datetime
    tz_offset: timedelta
    summer_time: bool

    @property
    def utc_offset(self) -> timedelta:
        """Return the offset of the NVR's wall clock, summer time included."""
        return self.tz_offset + _SUMMER_SHIFT if self.summer_time else self.tz_offset

    @property
    def local_time(self) -> datetime:
        """Return the time as the NVR's wall clock showed it (aware, fixed offset)."""
        return self.time.astimezone(timezone(self.utc_offset))


class VideoCodec(StrEnum):
    """Video compression of a stream."""

    H264 = "H264"
    H265 = "H265"
    JPEG = "JPEG"


_COMPRESSION_CODECS = {3: VideoCodec.H264, 4: VideoCodec.H265}


@dataclass(frozen=True, slots=True, kw_only=True)
class RecorderInfo:
    """Recorder or camera information TLVs (spec section 7); absent items are ``None``.

    ``framerate`` is in images per second (the TLV carries ten times that). IDs without a
    field here (0x000B reserved, and any unknown ID) are kept raw in ``unknown``.
    """

    camera: int | None = None
    compression: int | None = None
    data_size: int | None = None
    time: TimeInfo | None = None
    frame_count: int | None = None
    framerate: float | None = None
    frame_time_ms: int | None = None
    has_image: bool | None = None
    status: int | None = None
    speed: int | None = None
    camera_time: TimeInfo | None = None
    camera_frame_time_ms: int | None = None
    start_code: bool | None = None
    long_term_ref: int | None = None
    idr_display: int | None = None
    unknown: Mapping[int, bytes] = field(default_factory=_empty_mapping)

    @property
    def codec(self) -> VideoCodec | None:
        """Return the video codec named by the compression TLV, if known."""
        if self.compression is None:
            return None
        return _COMPRESSION_CODECS.get(self.compression)


@dataclass(frozen=True, slots=True, kw_only=True)
class JpegFrame:
    """A live JPEG with the information chunks that preceded it."""

    jpeg: bytes
    recorder: RecorderInfo
    camera: RecorderInfo | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RtpPacket:
    """One RTP packet; ``extension`` holds the TLVs of the header extension, if any."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    extension: RecorderInfo | None
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessUnit:
    """One picture in Annex B form (start codes), ready for a decoder or muxer."""

    codec: VideoCodec
    data: bytes
    timestamp: int
    keyframe: bool
    info: RecorderInfo | None


class AudioCodec(StrEnum):
    """Audio compression of a stream."""

    AAC_LC = "AAC_LC"
    G711 = "G711"
    G726 = "G726"


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioFrame:
    """One audio payload; ``timestamp`` is the RTP time stamp when there was one."""

    codec: AudioCodec
    data: bytes
    timestamp: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackPicture:
    """One picture of a playback GOP (Annex B, or a JPEG for JPEG recordings)."""

    time: datetime
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackGop:
    """One ``camera.cgi`` answer: a group of pictures in recording order."""

    codec: VideoCodec
    recorder: RecorderInfo
    camera: RecorderInfo | None
    start: datetime
    end: datetime
    pictures: tuple[PlaybackPicture, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackAudio:
    """One ``playaudio.cgi`` answer: about a second of audio."""

    codec: AudioCodec
    camera: int
    start: datetime
    end: datetime
    frames: tuple[bytes, ...]


class DownloadKind(StrEnum):
    """File type for ``httpdl.cgi`` (value is the ``KIND`` parameter)."""

    MP4 = "MP4"
    MP4_VIDEO_ONLY = "MP4VO"
    N3R = "N3"
    N3R_VIDEO_ONLY = "N3VO"
    LIST = "LIST"


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadPartInfo:
    """The file-name and status headers of one ``httpdl.cgi`` part, as sent (unsanitised)."""

    temp_name: str
    prev_name: str
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DownloadedFile:
    """A file a download wrote."""

    path: Path
    size: int


class FocusAction(StrEnum):
    """Focus control (``CTRL`` of ``CMD=FOCUS``)."""

    FAR = "FAR"
    NEAR = "NEAR"
    AUTO = "AUTO"


class IrisAction(StrEnum):
    """Iris control (``CTRL`` of ``CMD=IRIS``)."""

    OPEN = "OPEN"
    CLOSE = "CLOSE"
    RESET = "RESET"


class AuxAction(StrEnum):
    """Auxiliary output control (``CTRL`` of ``CMD=AUXn``)."""

    OPEN = "OPEN"
    CLOSE = "CLOSE"

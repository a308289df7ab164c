"""Configuration of the simulated NVR: what is installed and how it answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

type VideoCodecName = Literal["H264", "H265", "JPEG"]
type AudioCodecName = Literal["AAC-LC", "G.726", "G.711"]
type AuthScheme = Literal["digest", "basic"]
type DigestAlgorithm = Literal["MD5", "SHA-256"]
type InvalidUidAnswer = Literal["login", "403", "empty"]
type RtpExtensionMode = Literal["all", "first", "none"]

CAMERA_SLOTS = (16, 32, 64, 128)
STATUS_NOT_REGISTERED = 0
STATUS_NORMAL = 1
STATUS_CONNECTION_ERROR = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskConfig:
    """One line of ``recordedtime.cgi``; ``capacity_gb=None`` is an empty slot (``.....``)."""

    name: str
    capacity_gb: int | None = None
    remain_gb: int = 0
    flag: str = ""
    recording: bool = False


def default_disks() -> tuple[DiskConfig, ...]:
    """The disks of the spec's example: MAIN-1 holds the recording, MAIN-2..4 are empty."""
    disks = [DiskConfig(name="MAIN-1", capacity_gb=4001, remain_gb=1529, flag="R", recording=True)]
    disks += [DiskConfig(name=f"MAIN-{n}", capacity_gb=4001, remain_gb=3710) for n in range(2, 5)]
    disks += [DiskConfig(name=f"MAIN-{n}") for n in range(5, 10)]
    disks += [DiskConfig(name=f"EXT{m}-{n}") for m in range(1, 6) for n in range(1, 10)]
    return tuple(disks)


@dataclass(kw_only=True)
class SimulatorConfig:
    """Everything that makes one simulated NVR differ from another.

    Camera numbers are 1-based. Cameras ``1..registered`` are registered and normal unless
    ``camera_status`` says otherwise (0 not registered, 1 normal, 2 connection error).

    Device: ``model`` (login page title), ``cameras`` (slots: 16/32/64/128), which cameras
    are PTZ, have a JPEG stream (others send the 39x37 placeholder), record H.265 or JPEG
    only (``camera_codecs``, default ``default_codec``), and the audio codec (``None``: no
    audio) of ``audio_cameras`` (``None``: all).

    Access: credentials, ``auth`` scheme, Digest algorithms offered (one challenge each),
    ``uid_skips_auth`` (a valid UID is enough, as a field report saw), ``ssl``.

    Sessions: ``uid_lifetime`` seconds, ``max_uids`` (past it the oldest UID is evicted, or
    with ``refuse_when_full`` dlogin answers 503), ``uid_digits``, what an unknown UID gets
    (``invalid_uid_answer``: login page, 403 or an empty 200), streams per UID, whether
    ``SCREEN=16X`` must precede push START, and ``strict_codec`` (COMP must match the
    camera's codec; by default the camera's own codec is streamed, its PT telling which).

    Media: picture size, ``fps``, GOP length, clip length in GOPs, JPEG stream rate,
    ``realtime`` pacing and its ``speed``, ``live_start_on_idr`` (by default a stream
    joins mid-GOP, as the real device does), RTP MTU, STAP-A/AP aggregation, Annex B
    payloads, which packets carry the header extension, camera info TLVs, the second byte
    of the JPEG info chunks (0xFFFF per the notes, 0xFFFE makes them COM segments), a
    single-image placeholder answer, bare LF line ends, the multipart boundary and
    whether the Content-Type names it.

    Time and recording: time zone (standard offset and summer time), days recorded,
    disks. Logs: mean seconds between random new events/errors, entries at boot, size,
    wrap width (88 reproduces the spec's examples; ``None`` for one line), random seed.
    Downloads: concurrent limit (status 3 past it), file length before a split, part size
    (0: each file as one part), whether parts carry a Content-Length (without, a body ends
    at the next delimiter), throttle, status header spelling and Content-Type.
    ``reboot_downtime`` in seconds.
    """

    model: str = "WJ-NX400"
    cameras: int = 16
    registered: int = 4
    camera_status: Mapping[int, int] = field(default_factory=dict)
    ptz_cameras: frozenset[int] = frozenset({1})
    jpeg_cameras: frozenset[int] = frozenset({1})
    camera_codecs: Mapping[int, VideoCodecName] = field(default_factory=dict)
    default_codec: VideoCodecName = "H264"
    audio: AudioCodecName | None = "AAC-LC"
    audio_cameras: frozenset[int] | None = None

    username: str = "ADMIN"
    password: str = "12345"  # noqa: S105 - the NVR's factory default
    auth: AuthScheme = "digest"
    digest_algorithms: tuple[DigestAlgorithm, ...] = ("MD5",)
    realm: str = "Network disk recorder"
    uid_skips_auth: bool = False
    ssl: bool = False

    uid_lifetime: float = 90.0
    max_uids: int = 16
    uid_digits: int = 19
    refuse_when_full: bool = False
    invalid_uid_answer: InvalidUidAnswer = "login"
    max_streams_per_uid: int = 16
    require_setup_live: bool = True
    strict_codec: bool = False

    width: int = 320
    height: int = 240
    fps: int = 10
    gop_seconds: int = 1
    clip_gops: int = 2
    jpeg_fps: float = 2.0
    realtime: bool = True
    speed: float = 1.0
    live_start_on_idr: bool = False
    rtp_mtu: int = 1400
    rtp_aggregate: bool = True
    rtp_annexb: bool = False
    rtp_extension: RtpExtensionMode = "all"
    camera_info: bool = True
    jpeg_info_marker: int = 0xFFFF
    placeholder_single: bool = False
    bare_lf: bool = False
    multipart_boundary: str = "myboundary"
    boundary_in_header: bool = True

    tz_offset_minutes: int = 540
    summer_time: bool = False
    recording_days: float = 7.0
    disks: tuple[DiskConfig, ...] = field(default_factory=default_disks)

    event_interval: float | None = None
    error_interval: float | None = None
    initial_events: int = 3
    initial_errors: int = 1
    log_max: int = 1000
    log_wrap_width: int | None = 88
    seed: int | None = None

    max_downloads: int = 2
    download_file_seconds: float = 600.0
    download_part_size: int = 65536
    download_content_length: bool = True
    download_bytes_per_second: float | None = None
    download_status_header: str = "X-RecData-Satus"
    download_content_type: str | None = None

    reboot_downtime: float = 2.0

    def __post_init__(self) -> None:
        """Reject a configuration no NVR could have, before the server starts."""
        if self.cameras not in CAMERA_SLOTS:
            raise ValueError(f"cameras must be one of {CAMERA_SLOTS}, not {self.cameras}")
        if not 0 <= self.registered <= self.cameras:
            raise ValueError("registered must be between 0 and cameras")
        for cam, status in self.camera_status.items():
            self._check_camera(cam)
            if status not in (STATUS_NOT_REGISTERED, STATUS_NORMAL, STATUS_CONNECTION_ERROR):
                raise ValueError(f"camera {cam}: status must be 0, 1 or 2")
        for cam in (*self.ptz_cameras, *self.jpeg_cameras, *self.camera_codecs):
            self._check_camera(cam)
        if self.fps < 1 or self.gop_seconds < 1 or self.clip_gops < 1:
            raise ValueError("fps, gop_seconds and clip_gops must be at least 1")
        if self.width % 2 or self.height % 2 or self.width < 64 or self.height < 64:
            raise ValueError("width and height must be even and at least 64")
        if not 1 <= self.uid_digits <= 19:
            raise ValueError("uid_digits must be between 1 and 19")
        if self.speed <= 0 or self.jpeg_fps <= 0:
            raise ValueError("speed and jpeg_fps must be positive")
        if self.rtp_mtu < 200:
            raise ValueError("rtp_mtu must be at least 200")

    def _check_camera(self, cam: int) -> None:
        if not 1 <= cam <= self.cameras:
            raise ValueError(f"camera {cam} is outside 1..{self.cameras}")

    def status_of(self, cam: int) -> int:
        """The ``CAM_CONNECT`` value of a camera slot."""
        if cam in self.camera_status:
            return self.camera_status[cam]
        return STATUS_NORMAL if cam <= self.registered else STATUS_NOT_REGISTERED

    def codec_of(self, cam: int) -> VideoCodecName:
        """The codec the camera records and streams (its main stream)."""
        return self.camera_codecs.get(cam, self.default_codec)

    def has_jpeg(self, cam: int) -> bool:
        """Whether ``COMP=JPEG`` gives real pictures (else the 39x37 placeholder)."""
        return cam in self.jpeg_cameras or self.codec_of(cam) == "JPEG"

    def has_audio(self, cam: int) -> bool:
        """Whether the camera sends (and records) audio."""
        if self.audio is None:
            return False
        return self.audio_cameras is None or cam in self.audio_cameras

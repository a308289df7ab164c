"""Byte and text builders for everything the simulated NVR sends.

Written from the spec and PROTOCOL-NOTES.md alone, sharing nothing with the client's
parsers, so that a misreading on one side shows up as a failing test on the other.
All integers are big-endian.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
import struct

# Recorder / camera information IDs (spec 7.1.1).
TLV_CAMERA = 0x0004
TLV_COMPRESSION = 0x0005
TLV_DATA_SIZE = 0x0006
TLV_TIME = 0x0007
TLV_FRAME_COUNT = 0x0008
TLV_FRAMERATE = 0x0009
TLV_FRAME_TIME = 0x000A
TLV_PRESENCE = 0x000C
TLV_STATUS = 0x000D
TLV_CAM_TIME = 0x0011
TLV_CAM_FRAME_TIME = 0x0012
TLV_START_CODE = 0x0027
TLV_LONG_TERM_REF = 0x0028
TLV_IDR_DISPLAY = 0x0029

COMPRESSION_H264 = 0x0003
COMPRESSION_H265 = 0x0004

# Operational status (TLV 0x000D).
STATUS_LIVE = 0x01
STATUS_PLAY = 0x02
STATUS_REVERSE = 0x03
STATUS_FAST_FORWARD = 0x04
STATUS_FAST_REVERSE = 0x05
STATUS_PAUSE = 0x06
STATUS_NEXT = 0x07
STATUS_PREVIOUS = 0x08

PT_AUDIO = 97
PT_H264 = 98
PT_H265 = 101

CHUNK_H264 = 0xFF15
CHUNK_H265 = 0xFF16
JPEG_CHUNK = b"\xff\xd8"
STREAM_HEADER = 0xFF06
PACKET_HEADER = 0xFF05
AUDIO_G7XX = 0xFF03
AUDIO_AAC = 0xFF13
AUDIO_AAC_TIME = 0xFF12
AUDIO_AAC_FRAME = 0xFF14
AUDIO_CODEC_G726 = 0x00
AUDIO_CODEC_G711 = 0x01

CRLF = "\r\n"
PLAYBACK_ALIGN = 4096


@dataclass(frozen=True, slots=True)
class TimeZone:
    """The NVR's time zone: a standard offset and whether summer time is in force."""

    offset_minutes: int = 0
    summer: bool = False

    def local(self, epoch: float) -> datetime:
        """Naive local wall-clock time of an epoch (summer time adds one hour)."""
        shift = self.offset_minutes + (60 if self.summer else 0)
        return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None) + timedelta(minutes=shift)

    @property
    def zone_text(self) -> str:
        """``GMT+hh:mm`` of the standard offset, as the log lists print it."""
        sign = "-" if self.offset_minutes < 0 else "+"
        hours, minutes = divmod(abs(self.offset_minutes), 60)
        return f"GMT{sign}{hours:02d}:{minutes:02d}"

    @property
    def parts(self) -> tuple[bool, int, int]:
        """(negative, hours, minutes) of the standard offset."""
        hours, minutes = divmod(abs(self.offset_minutes), 60)
        return self.offset_minutes < 0, hours, minutes

    def info_byte(self) -> int:
        """The playback ``TZ info`` byte: bit 7 sign (1 = minus), bit 6 summer time."""
        negative, _, _ = self.parts
        return (0x80 if negative else 0) | (0x40 if self.summer else 0)


def split_time(epoch: float) -> tuple[int, int]:
    """Whole seconds and 10 ms units of an epoch time (robust to float rounding)."""
    seconds, hundredths = divmod(math.floor(epoch * 100 + 1e-3), 100)
    return seconds, hundredths


# ----------------------------------------------------------------------------- TLVs


def tlv(tag: int, data: bytes) -> bytes:
    """One information TLV; the length counts the 4-byte header too."""
    return struct.pack(">HH", tag, len(data) + 4) + data


def tlv_u16(tag: int, value: int) -> bytes:
    """A TLV holding a u16 value and two reserved bytes (length 8)."""
    return tlv(tag, struct.pack(">HH", value, 0))


def tlv_time(tag: int, epoch: int, tz: TimeZone) -> bytes:
    """A 0x0007 / 0x0011 time TLV: epoch seconds, zone direction, hours, minutes, summer."""
    negative, hours, minutes = tz.parts
    return tlv(tag, struct.pack(">IBBBB", epoch, int(negative), hours, minutes, int(tz.summer)))


def tlv_data_size(size: int) -> bytes:
    """The 0x0006 data size TLV (u32)."""
    return tlv(TLV_DATA_SIZE, struct.pack(">I", size))


def tlv_status(status: int, speed: int = 0) -> bytes:
    """The 0x000D operational status TLV."""
    return tlv(TLV_STATUS, struct.pack(">BBH", status, speed, 0))


def live_recorder_tlvs(camera: int, epoch: float, tz: TimeZone) -> bytes:
    """Recorder info of a live picture: camera, time and its 10 ms part (28 bytes)."""
    seconds, hundredths = split_time(epoch)
    return (
        tlv_u16(TLV_CAMERA, camera)
        + tlv_time(TLV_TIME, seconds, tz)
        + tlv_u16(TLV_FRAME_TIME, hundredths)
    )


def camera_tlvs(epoch: float, tz: TimeZone) -> bytes:
    """Camera info: the camera's own capture time (0x0011) and 10 ms part (0x0012)."""
    seconds, hundredths = split_time(epoch)
    return tlv_time(TLV_CAM_TIME, seconds, tz) + tlv_u16(TLV_CAM_FRAME_TIME, hundredths)


@dataclass(frozen=True, slots=True, kw_only=True)
class GopInfo:
    """What the recorder TLVs of a playback GOP describe."""

    camera: int
    compression: int | None
    data_size: int
    start: float
    frame_count: int
    fps: int
    status: int
    speed: int
    has_idr: bool


def playback_recorder_tlvs(info: GopInfo, tz: TimeZone) -> bytes:
    """Recorder info of a playback GOP (the PB column of spec 7.1.1)."""
    seconds, hundredths = split_time(info.start)
    out = tlv_u16(TLV_CAMERA, info.camera)
    if info.compression is not None:
        out += tlv_u16(TLV_COMPRESSION, info.compression)
    out += tlv_data_size(info.data_size)
    out += tlv_time(TLV_TIME, seconds, tz)
    out += tlv_u16(TLV_FRAME_COUNT, info.frame_count)
    out += tlv_u16(TLV_FRAMERATE, info.fps * 10)
    out += tlv_u16(TLV_FRAME_TIME, hundredths)
    out += tlv_u16(TLV_PRESENCE, 1)
    out += tlv_status(info.status, info.speed)
    if info.compression is not None:
        out += tlv_u16(TLV_START_CODE, 1)
        out += tlv_u16(TLV_LONG_TERM_REF, 0)
        out += tlv_u16(TLV_IDR_DISPLAY, 1 if info.has_idr else 0)
    return out


# ----------------------------------------------------------------------------- RTP


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (start codes removed)."""
    starts: list[int] = []
    pos = data.find(b"\x00\x00\x01")
    while pos != -1:
        starts.append(pos + 3)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    nals = []
    for index, begin in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        nal = data[begin:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def _aggregate(
    nals: Sequence[bytes], max_payload: int, header_size: int, single_only: bool
) -> list[list[bytes]]:
    """Group consecutive small NAL units so each group fits one aggregation packet."""
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    size = header_size
    for nal in nals:
        fits_alone = len(nal) <= max_payload
        if single_only or not fits_alone or size + 2 + len(nal) > max_payload:
            if current:
                groups.append(current)
            current, size = [], header_size
        if not fits_alone or single_only:
            groups.append([nal])
            continue
        current.append(nal)
        size += 2 + len(nal)
    if current:
        groups.append(current)
    return groups


def packetize_h264(nals: Sequence[bytes], max_payload: int, aggregate: bool = True) -> list[bytes]:
    """RTP payloads of one picture per RFC 6184: single NAL, STAP-A or FU-A."""
    payloads: list[bytes] = []
    for group in _aggregate(nals, max_payload, 1, not aggregate):
        if len(group) > 1:
            nri = max(nal[0] & 0x60 for nal in group)
            forbidden = max(nal[0] & 0x80 for nal in group)
            body = b"".join(struct.pack(">H", len(nal)) + nal for nal in group)
            payloads.append(bytes([forbidden | nri | 24]) + body)
            continue
        nal = group[0]
        if len(nal) <= max_payload:
            payloads.append(nal)
            continue
        indicator = (nal[0] & 0xE0) | 28
        nal_type = nal[0] & 0x1F
        rest = nal[1:]
        step = max_payload - 2
        for offset in range(0, len(rest), step):
            start = 0x80 if offset == 0 else 0
            end = 0x40 if offset + step >= len(rest) else 0
            payloads.append(
                bytes([indicator, start | end | nal_type]) + rest[offset : offset + step]
            )
    return payloads


def packetize_h265(nals: Sequence[bytes], max_payload: int, aggregate: bool = True) -> list[bytes]:
    """RTP payloads of one picture per RFC 7798: single NAL, AP or FU (no DONL)."""
    payloads: list[bytes] = []
    for group in _aggregate(nals, max_payload, 2, not aggregate):
        if len(group) > 1:
            forbidden = max(nal[0] >> 7 for nal in group)
            layer = min(((nal[0] & 0x01) << 5) | (nal[1] >> 3) for nal in group)
            tid = min(nal[1] & 0x07 for nal in group)
            ap_header = (forbidden << 15) | (48 << 9) | (layer << 3) | tid
            body = b"".join(struct.pack(">H", len(nal)) + nal for nal in group)
            payloads.append(struct.pack(">H", ap_header) + body)
            continue
        nal = group[0]
        if len(nal) <= max_payload:
            payloads.append(nal)
            continue
        nal_type = (nal[0] >> 1) & 0x3F
        header = bytes([(nal[0] & 0x81) | (49 << 1), nal[1]])
        rest = nal[2:]
        step = max_payload - 3
        for offset in range(0, len(rest), step):
            start = 0x80 if offset == 0 else 0
            end = 0x40 if offset + step >= len(rest) else 0
            payloads.append(header + bytes([start | end | nal_type]) + rest[offset : offset + step])
    return payloads


def rtp_packet(
    *,
    payload_type: int,
    marker: bool,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    extension: bytes | None = None,
) -> bytes:
    """One RTP packet (RFC 3550) with an optional header extension holding info TLVs."""
    first = 0x80 | (0x10 if extension is not None else 0)
    header = struct.pack(
        ">BBHII",
        first,
        (0x80 if marker else 0) | payload_type,
        sequence & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc & 0xFFFFFFFF,
    )
    if extension is not None:
        padded = extension + b"\x00" * (-len(extension) % 4)
        header += struct.pack(">HH", 0, len(padded) // 4) + padded
    return header + payload


def aac_au_header(size: int) -> bytes:
    """RFC 3640 AU header section for one AAC frame: 16 bits of headers, size<<3 | index 0."""
    return struct.pack(">HH", 16, size << 3)


def adts_header(frame_size: int, sample_rate_index: int, channels: int) -> bytes:
    """A 7-byte ADTS header for one raw AAC-LC frame (used only to describe the codec)."""
    length = frame_size + 7
    return bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (sample_rate_index << 2) | (channels >> 2),
            ((channels & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )


# ----------------------------------------------------------------------------- live JPEG


def jpeg_info_chunk(tlvs: bytes, marker: int = 0xFFFF) -> bytes:
    """``FFD8`` + marker + u16 length (JPEG segment convention: counts itself) + TLVs."""
    return JPEG_CHUNK + struct.pack(">HH", marker, len(tlvs) + 2) + tlvs


def live_jpeg_part(
    jpeg: bytes, recorder: bytes, camera: bytes | None, marker: int = 0xFFFF
) -> bytes:
    """Body of one live JPEG multipart part: info chunks, then the real JPEG."""
    out = jpeg_info_chunk(recorder, marker)
    if camera is not None:
        out += jpeg_info_chunk(camera, marker)
    return out + jpeg


# ----------------------------------------------------------------------------- multipart


def multipart_part(boundary: str, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    """One part: delimiter line, header lines, blank line, body, CRLF."""
    head = f"--{boundary}{CRLF}" + "".join(f"{key}: {value}{CRLF}" for key, value in headers)
    return (head + CRLF).encode("latin-1") + body + b"\r\n"


def multipart_end(boundary: str) -> bytes:
    """The closing delimiter of a finite multipart body."""
    return f"--{boundary}--{CRLF}".encode("latin-1")


# ----------------------------------------------------------------------------- playback


def _time_block(epoch: float, tz: TimeZone) -> bytes:
    """u32 epoch + 10 ms + TZ hour + TZ minute + TZ info (GOP information)."""
    seconds, hundredths = split_time(epoch)
    _, hours, minutes = tz.parts
    return struct.pack(">IBBBB", seconds, hundredths, hours, minutes, tz.info_byte())


@dataclass(frozen=True, slots=True)
class PlaybackPicture:
    """One picture of a playback GOP with its capture time."""

    time: float
    data: bytes


def playback_gop(
    *,
    chunk_id: int | None,
    recorder: bytes,
    camera: Sequence[bytes] | None,
    pictures: Sequence[PlaybackPicture],
    tz: TimeZone,
    jpeg_marker: int = 0xFFFF,
) -> bytes:
    """One ``camera.cgi`` answer (spec 3.3.1): a GOP, or one JPEG when ``chunk_id`` is None.

    ``camera`` holds the camera TLVs of each picture (the first go in the chunk header,
    the others before their packet header). The chunk header length is the length of the
    recorder TLVs that follow it (PROTOCOL-NOTES).
    """
    if chunk_id is None:
        out = JPEG_CHUNK + struct.pack(">HH", jpeg_marker, len(recorder))
    else:
        out = struct.pack(">HH", chunk_id, len(recorder))
    out += recorder
    if camera is not None:
        out += camera[0]
    out += bytes(12)
    out += struct.pack(">HH", STREAM_HEADER, 0x0044)
    out += bytes(16) + _time_block(pictures[-1].time, tz) + _time_block(pictures[0].time, tz)
    seconds, hundredths = split_time(pictures[0].time)
    out += bytes(16) + struct.pack(">IB", seconds, hundredths) + bytes(3) + bytes(8)
    for index, picture in enumerate(pictures):
        if index and camera is not None:
            out += camera[index]
        padding = -len(picture.data) % 4
        out += struct.pack(">HHI", PACKET_HEADER, padding, len(picture.data)) + bytes(16)
        out += picture.data + bytes(padding)
    return out + bytes(-len(out) % PLAYBACK_ALIGN)


def _audio_times(start: float, end: float, tz: TimeZone) -> bytes:
    """Start and end blocks shared by both playback audio headers (24 bytes)."""
    negative, hours, minutes = tz.parts
    return (
        struct.pack(">IBBBB", math.floor(start), 0, hours, minutes, tz.info_byte())
        + struct.pack(">I", math.floor(end))
        + bytes(4)
        + struct.pack(">BBBB", int(negative), hours, minutes, int(tz.summer))
    )


def playback_audio_g7xx(
    *, camera: int, codec: int, start: float, end: float, data: bytes, tz: TimeZone
) -> bytes:
    """``playaudio.cgi`` answer for G.711/G.726 (spec 3.3.2.1), 64-byte header.

    The data size counts the audio data area: the leading 0x00 and the audio.
    """
    body = b"\x00" + data
    out = struct.pack(">HHI", AUDIO_G7XX, camera, len(body))
    out += _audio_times(start, end, tz)
    out += struct.pack(">B", codec) + bytes(3) + bytes(4) + bytes(28)
    out += body
    return out + bytes(-len(out) % PLAYBACK_ALIGN)


def aac_frame_record(frame: bytes) -> bytes:
    """One ``FF14`` record: length (whole record), padding size, AU info 0, 0x00 + frame."""
    body = b"\x00" + frame
    padding = -(8 + len(body)) % 4
    total = 8 + len(body) + padding
    return struct.pack(">HHBBH", AUDIO_AAC_FRAME, total, padding, 0, 0) + body + bytes(padding)


def playback_audio_aac(
    *, camera: int, start: float, end: float, frames: Sequence[bytes], tz: TimeZone
) -> bytes:
    """``playaudio.cgi`` answer for AAC-LC (spec 3.3.2.2).

    ``FF13`` + camera, u32 size of the ``FF14`` records, then the ``FF12`` time block of
    0x3C bytes counting its own header, then the records and 4 KiB padding.
    """
    records = b"".join(aac_frame_record(frame) for frame in frames)
    out = struct.pack(">HHI", AUDIO_AAC, camera, len(records))
    block = struct.pack(">HH", AUDIO_AAC_TIME, 0x3C) + _audio_times(start, end, tz)
    block += bytes(0x3C - len(block))
    out += block + records
    return out + bytes(-len(out) % PLAYBACK_ALIGN)


# ----------------------------------------------------------------------------- text


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log entry as the NVR prints it."""

    local_time: datetime
    summer: bool
    kind: str
    zone: str


def wrap_value_line(line: str, width: int | None) -> list[str]:
    """Wrap a long ``KEY="a","b",...`` line the way the spec's examples show.

    A break goes before the comma between two fields (the comma starts the next line) or
    replaces a space inside a field, whichever is the last that keeps the line within
    ``width``. Width 88 reproduces both examples of spec 5.1 byte for byte.
    """
    if width is None or len(line) <= width:
        return [line]
    positions: list[int] = []
    spaces: set[int] = set()
    inside = False
    for pos, char in enumerate(line):
        if char == '"':
            inside = not inside
        elif char == " " and inside:
            positions.append(pos)
            spaces.add(pos)
        elif char == "," and not inside and pos > 0 and line[pos - 1] == '"':
            positions.append(pos)
    lines: list[str] = []
    start = 0
    while len(line) - start > width:
        last = bisect.bisect_right(positions, start + width) - 1
        if last >= 0 and positions[last] > start:
            pos = positions[last]
        else:
            later = bisect.bisect_right(positions, start)
            if later == len(positions):
                break
            pos = positions[later]
        lines.append(line[start:pos])
        start = pos + 1 if pos in spaces else pos
    lines.append(line[start:])
    return lines


def log_list_text(kind: str, entries: Sequence[LogLine], wrap_width: int | None) -> str:
    """``loglist.cgi`` body (spec 5.1), entries newest first numbered from 001."""
    prefix = "ERROR" if kind == "ERR" else "EVENT"
    filename = "as_errorlog.html" if kind == "ERR" else "as_eventlog.html"
    fields: list[str] = []
    for number, entry in enumerate(entries, start=1):
        fields += [
            f"{number:03d}",
            entry.local_time.strftime("%Y/%m/%d %H:%M:%S"),
            "1" if entry.summer else "0",
            entry.kind,
            entry.zone,
        ]
    value = ",".join(f'"{item}"' for item in fields)
    lines = wrap_value_line(f"{prefix}_LOG={value}", wrap_width)
    return (
        f"FILENAME={filename}{CRLF}{prefix}_LOG_NO={len(entries)}{CRLF}"
        + CRLF.join(lines)
        + CRLF
        + CRLF
    )


@dataclass(frozen=True, slots=True)
class DiskLine:
    """One disk of ``recordedtime.cgi``."""

    name: str
    capacity_gb: int | None
    flag: str
    remain_gb: int
    oldest: datetime | None
    newest: datetime | None
    summer: bool


def hdd_text(disks: Sequence[DiskLine]) -> str:
    """``recordedtime.cgi`` body (spec 5.2.1)."""
    lines = ["Recording information", "", "Disk,Capacity,Remain capacity,Recorded time range"]
    for disk in disks:
        if disk.capacity_gb is None:
            lines.append(f"{disk.name},.....,")
            continue
        flag = f"({disk.flag})" if disk.flag else ""
        head = f"{disk.name},{disk.capacity_gb}GB{flag},{disk.remain_gb}GB,"
        if disk.oldest is None or disk.newest is None:
            lines.append(head + ".....,")
            continue
        summer = "1" if disk.summer else "0"
        lines.append(
            head
            + f"{disk.oldest:%Y/%m/%d},{summer},{disk.oldest:%H:%M:%S},"
            + f"{disk.newest:%Y/%m/%d},{summer},{disk.newest:%H:%M:%S}"
        )
    return CRLF.join(lines) + CRLF


def camera_connection_text(statuses: Mapping[int, int], max_uid: int, used_uid: int) -> str:
    """``as_getinfo.cgi?FILE=2`` body (spec 5.3.1) in its ``<HTML>`` wrapper."""
    lines = ["<HTML>"]
    lines += [f"CAM_CONNECT_{cam:02d}CH={statuses[cam]}" for cam in sorted(statuses)]
    lines += [f"MAXUID={max_uid}", f"USEDUID={used_uid}", "</HTML>"]
    return CRLF.join(lines) + CRLF


def _page(model: str, target: str) -> str:
    """The login page skeleton of spec 6.1.1 redirecting to ``target``."""
    title = f"Network Disk Recorder {model}"
    lines = [
        "<html>",
        "<head>",
        '<meta http-equiv="X-UA-Compatible" content="IE=edge">',
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">',
        '<meta http-equiv="Content-Script-Type" content="text/javascript">',
        '<meta http-equiv="Pragma" content="no-cache">',
        '<link rel="stylesheet" type="text/css" href="../rec_common_mlt.css">',
        f"<title>{title}</title>",
        '<script language="JavaScript" src="../setup_mlt.js"></script>',
        "</head>",
        (
            '<body leftmargin="0" topmargin="0" marginwidth="0" marginheight="0" '
            'oncontextmenu="return false">'
        ),
        '<script type="text/javascript">',
        "<!--",
        'if("J" == "G")',
        "\t{",
        f'\t\tdocument.title = "{title}";',
        "\t}",
        "\telse",
        "\t{",
        f'\t\tdocument.title = "{title}";',
        "\t}",
        "",
        f'\tthis.location.href = "{target}"+ RetTempParam();',
        "//-->",
        "</script>",
        "</body>",
        "</html>",
    ]
    return CRLF.join(lines) + CRLF


def login_page(model: str, uid: str) -> str:
    """``dlogin.cgi`` answer: a page redirecting to ``hdrctl.cgi?UID=<uid>``."""
    return _page(model, f"./hdrctl.cgi?UID={uid}&HTML=caindex.html")


def session_lost_page(model: str) -> str:
    """What a command with an unknown or expired UID gets: the login page, without a UID."""
    return _page(model, "../index.html")


def download_name(camera: int, start_local: datetime, sequence: int, extension: str) -> str:
    """File name in the style of spec 6.3.1 (``001_231115000000_1000_7f_00_01.mp4``)."""
    return f"{camera:03d}_{start_local:%y%m%d%H%M%S}_{sequence * 1000:04d}_7f_00_01.{extension}"


def filename_header(name: str) -> str:
    """Value of ``X-Temp-FileName`` / ``X-Prev-Filename``."""
    return f'filename = "{name}"'

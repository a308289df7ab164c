"""Playback data: one GOP per ``camera.cgi`` answer, about a second of ``playaudio.cgi``.

How this module reads the spec's tables (section 3.3), all integers big-endian:

GOP. Chunk header ``FF15`` (H.264) / ``FF16`` (H.265) + u16 length, or ``FFD8 FFFF`` (also
``FFD8 FFFE``: the spec writes ``0xFFFFE``) + u16 length (JPEG); recorder TLVs; camera
TLVs; 12 reserved bytes; stream header ``FF06 0044`` (0x44 = 68 bytes: itself, GOP
information and PIC information); per picture a packet header ``FF05`` + u16 padding
count + u32 length + 16 reserved, the data, the zero padding; padding to 4 KiB at the end.

- The chunk length covers the recorder TLVs only (the notes). Also accepted, tried in
  this order: the length counting its own two bytes (the JPEG segment convention, tried
  first for the JPEG chunk) and the length counting the whole chunk header. A reading is
  taken only if its TLVs parse and the stream header is then found on a 4-byte boundary;
  a reading whose camera TLVs walk cleanly to the stream header beats one that needs
  the scan described next.
- Camera TLVs run from the end of the recorder TLVs to 12 bytes before ``FF06 0044``. The
  stream header is found by walking the camera TLVs; if they do not walk cleanly, by the
  first ``FF06 0044`` on a 4-byte boundary, and camera information that does not parse
  as TLVs is then reported as absent rather than failing the GOP.
- The packet length is the data length (the notes). If the padding count is not zero
  and the length is a multiple of 4 while data + padding would not be, the length is
  taken to include the padding; the two readings cannot both align, so this is safe.
- Camera TLVs may precede any picture: the next ``FF05`` is found by walking TLVs from
  the end of the previous picture's padding; anything else (zeros, other padding) ends
  the GOP.
- Picture times: the first picture has the PIC information time. The packets carry no
  time of their own, so the others are spread evenly between it and the GOP end time;
  without a usable end time, the recorder's frame rate spaces them; without either they
  share the first time.
- GOP and picture times are epoch seconds (UTC) plus 10 ms units (0-99); the zone bytes
  only say how the NVR's clock was set and are not needed for UTC.

Audio. ``FF03`` + u16 camera (G.711/G.726) or ``FF13`` + u16 camera (AAC-LC), then u32
audio data size.

- G.711/G.726: a 64-byte header (start time at 8, end time at 16, codec byte at 28:
  0 = G.726, 1 = G.711), then the audio data of ``size`` bytes, whose first byte is a
  ``0x00`` that is dropped. One frame of about a second.
- AAC-LC: at 8 an ``FF12`` block with length ``0x3C`` (start time at 12, end time at 20).
  The table rows add up to a 56-byte block, its length says 60: the frames start where
  the first ``FF14`` is, trying 8 + length (the length counts the whole block), then 64
  (the table), then 12 + length. Each frame is ``FF14`` + u16 length + u8 padding size +
  u8 AU info + u16 reserved, then ``0x00`` + the frame + zero padding (the spec's
  ``0xFF04`` is a typo for ``FF14``). What the frame length covers is not written; the
  readings tried, in order, are: the whole frame with its 8-byte header, everything after
  the header including the padding, the ``0x00`` and frame without the padding, the
  frame alone. A reading must walk the frames without an empty one to the announced
  audio data size (counted from the first frame or from ``FF12``) or to a zero-filled
  tail. Preferred, in order: readings that end exactly at the size counted from the
  first frame with every frame 4-byte aligned (what the padding is for), then at the
  size counted from ``FF12``, then any aligned reading, then any. With AU info 1 the
  frame's RFC 3640 AU header section is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import product
import struct

from .audio import strip_au_headers
from .errors import IproProtocolError
from .jpeg import CHUNK_MARKERS
from .models import AudioCodec, PlaybackAudio, PlaybackGop, PlaybackPicture, VideoCodec
from .tlv import parse_tlvs

STREAM_HEADER = b"\xff\x06\x00\x44"
PICTURE_MARKER = b"\xff\x05"
G7XX_AUDIO = b"\xff\x03"
AAC_AUDIO = b"\xff\x13"
AAC_TIME_BLOCK = b"\xff\x12"
AAC_FRAME = b"\xff\x14"

_CHUNK_CODECS = {b"\xff\x15": VideoCodec.H264, b"\xff\x16": VideoCodec.H265}
_STREAM_INFO_SIZE = 68
_RESERVED_SIZE = 12
_PICTURE_HEADER = struct.Struct(">HHI")
_PICTURE_HEADER_SIZE = 24
_TLV_HEADER = struct.Struct(">HH")
_AAC_FRAME_HEADER = struct.Struct(">HHBB")
_AUDIO_HEADER_SIZE = 64
_G7XX_CODECS = {0: AudioCodec.G726, 1: AudioCodec.G711}
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def _time(data: bytes, pos: int, hundredths_at: int | None = None) -> datetime:
    moment = datetime.fromtimestamp(_U32.unpack_from(data, pos)[0], UTC)
    if hundredths_at is None:
        return moment
    hundredths = data[hundredths_at]
    if hundredths > 99:
        raise IproProtocolError(f"The NVR sent an invalid time fraction ({hundredths}).")
    return moment + timedelta(milliseconds=10 * hundredths)


def _tlv_length(data: bytes, pos: int) -> int:
    """Return the length of a plausible TLV at ``pos``, 0 if there is none."""
    if len(data) - pos < 4:
        return 0
    length: int = _TLV_HEADER.unpack_from(data, pos)[1]
    return length if 4 <= length <= len(data) - pos else 0


def _walk_to(data: bytes, pos: int, marker: bytes, skip: int) -> int:
    """Walk TLVs from ``pos`` until ``marker`` sits ``skip`` bytes ahead; -1 if it never does."""
    while pos + skip + len(marker) <= len(data):
        if data.startswith(marker, pos + skip):
            return pos
        length = _tlv_length(data, pos)
        if not length:
            break
        pos += length
    return -1


def _find_stream_header(data: bytes, start: int, scan: bool) -> int:
    """Return where the camera TLVs starting at ``start`` end (12 reserved bytes follow).

    Without ``scan`` the camera TLVs must walk cleanly up to the stream header; with it,
    the first stream header on a 4-byte boundary counts.
    """
    if not scan:
        return _walk_to(data, start, STREAM_HEADER, _RESERVED_SIZE)
    found = data.find(STREAM_HEADER, start + _RESERVED_SIZE)
    while found >= 0:
        if (found - start) % 4 == 0:
            return found - _RESERVED_SIZE
        found = data.find(STREAM_HEADER, found + 1)
    return -1


def _split_chunk(data: bytes) -> tuple[VideoCodec, int, int, int]:
    """Return the codec, where the recorder TLVs start and end, and where camera TLVs end."""
    if data.startswith(CHUNK_MARKERS):
        codec, start = VideoCodec.JPEG, 6
        length = _U16.unpack_from(data, 4)[0] if len(data) >= start else 0
        ends = (4 + length, 6 + length, length)
    elif data[:2] in _CHUNK_CODECS and len(data) >= 4:
        codec, start = _CHUNK_CODECS[data[:2]], 4
        length = _U16.unpack_from(data, 2)[0]
        ends = (4 + length, 2 + length, length)
    else:
        raise IproProtocolError("The NVR's playback answer does not start with a video chunk.")
    for scan, end in product((False, True), ends):
        if not start <= end <= len(data):
            continue
        try:
            parse_tlvs(data[start:end])
        except IproProtocolError:
            continue
        camera_end = _find_stream_header(data, end, scan)
        if camera_end >= 0:
            return codec, start, end, camera_end
    raise IproProtocolError("The NVR's playback answer has no stream header.")


def _next_picture(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """Find the next picture; return its data start, data length and padding."""
    header = _walk_to(data, pos, PICTURE_MARKER, 0)
    if header < 0:
        return None
    if len(data) - header < _PICTURE_HEADER_SIZE:
        raise IproProtocolError("The NVR's playback answer ends inside a picture header.")
    _, padding, length = _PICTURE_HEADER.unpack_from(data, header)
    if padding and length % 4 == 0 and (length + padding) % 4 and length >= padding:
        length -= padding
    start = header + _PICTURE_HEADER_SIZE
    if start + length > len(data):
        raise IproProtocolError(
            f"The NVR's playback answer ends inside a picture ({length} bytes announced)."
        )
    return start, length, padding


def _picture_times(
    first: datetime, end: datetime, count: int, framerate: float | None
) -> list[datetime]:
    if count > 1 and end > first:
        step = (end - first) / (count - 1)
    elif framerate:
        step = timedelta(seconds=1 / framerate)
    else:
        step = timedelta()
    return [first + step * index for index in range(count)]


def parse_playback_gop(data: bytes) -> PlaybackGop:
    """Parse one ``camera.cgi`` answer (see the module docstring for the layout)."""
    codec, start, end, camera_end = _split_chunk(data)
    recorder = parse_tlvs(data[start:end])
    camera_data = data[end:camera_end]
    camera = None
    if camera_data.strip(b"\x00"):
        try:
            camera = parse_tlvs(camera_data)
        except IproProtocolError:
            camera = None
    info = camera_end + _RESERVED_SIZE
    if len(data) < info + _STREAM_INFO_SIZE:
        raise IproProtocolError("The NVR's playback answer ends inside the GOP information.")
    gop_end = _time(data, info + 20, info + 24)
    gop_start = _time(data, info + 28, info + 32)
    first_time = _time(data, info + 52, info + 56)
    frames: list[bytes] = []
    pos = info + _STREAM_INFO_SIZE
    while (found := _next_picture(data, pos)) is not None:
        picture_start, length, padding = found
        frames.append(bytes(data[picture_start : picture_start + length]))
        pos = picture_start + length + padding
    if not frames and recorder.has_image is not False:
        raise IproProtocolError("The NVR's playback answer holds no picture.")
    times = _picture_times(first_time, gop_end, len(frames), recorder.framerate)
    return PlaybackGop(
        codec=codec,
        recorder=recorder,
        camera=camera,
        start=gop_start,
        end=gop_end,
        pictures=tuple(
            PlaybackPicture(time=moment, data=frame)
            for moment, frame in zip(times, frames, strict=True)
        ),
    )


def _strip_marker(payload: bytes) -> bytes:
    return payload[1:] if payload[:1] == b"\x00" else payload


def _g7xx(data: bytes) -> PlaybackAudio:
    size = _U32.unpack_from(data, 4)[0]
    codec = _G7XX_CODECS.get(data[28])
    if codec is None:
        raise IproProtocolError(f"The NVR sent playback audio of unknown codec {data[28]}.")
    if _AUDIO_HEADER_SIZE + size > len(data):
        raise IproProtocolError("The NVR's playback audio is shorter than it announces.")
    audio = _strip_marker(data[_AUDIO_HEADER_SIZE : _AUDIO_HEADER_SIZE + size])
    return PlaybackAudio(
        codec=codec,
        camera=_U16.unpack_from(data, 2)[0],
        start=_time(data, 8),
        end=_time(data, 16),
        frames=(audio,) if audio else (),
    )


type _Reading = Callable[[int, int], tuple[int, int]]

# (length, padding) -> (bytes after the 8-byte header holding 0x00 + frame, frame total)
_AAC_READINGS: tuple[_Reading, ...] = (
    lambda length, padding: (length - 8 - padding, length),
    lambda length, padding: (length - padding, 8 + length),
    lambda length, padding: (length, 8 + length + padding),
    lambda length, padding: (length + 1, 9 + length + padding),
)


def _aac_walk(
    data: bytes,
    pos: int,
    reading: _Reading,
    ends: tuple[int, ...],
    *,
    aligned: bool,
    zero_tail: bool,
) -> list[bytes]:
    """Walk the frames with one length reading; raise if it does not fit the data."""
    frames: list[bytes] = []
    while data.startswith(AAC_FRAME, pos):
        if len(data) - pos < 8:
            raise IproProtocolError("The NVR's playback audio ends inside a frame header.")
        _, length, padding, au_info = _AAC_FRAME_HEADER.unpack_from(data, pos)
        payload_size, total = reading(length, padding)
        if (
            payload_size < 1
            or total < 8 + payload_size
            or pos + total > len(data)
            or (aligned and total % 4)
        ):
            raise IproProtocolError("The NVR sent an AAC frame that does not fit its data.")
        payload = _strip_marker(data[pos + 8 : pos + 8 + payload_size])
        frame = strip_au_headers(payload) if au_info == 1 else payload
        if not frame:
            raise IproProtocolError("The NVR sent an empty AAC frame.")
        frames.append(frame)
        pos += total
    if pos not in ends and not (zero_tail and not data[pos:].strip(b"\x00")):
        raise IproProtocolError("The NVR sent AAC frames that do not end cleanly.")
    return frames


def _aac(data: bytes) -> PlaybackAudio:
    if not data.startswith(AAC_TIME_BLOCK, 8):
        raise IproProtocolError("The NVR's AAC playback audio has no time block.")
    size = _U32.unpack_from(data, 4)[0]
    block = _U16.unpack_from(data, 10)[0]
    frames: list[bytes] = []
    first = next(
        (p for p in (8 + block, _AUDIO_HEADER_SIZE, 12 + block) if data.startswith(AAC_FRAME, p)),
        None,
    )
    if first is not None:
        from_first, from_block = first + size, 8 + size
        # Most convincing first: (ends at the announced size, every frame 4-byte aligned,
        # a zero-filled tail also ends the frames).
        passes = (
            ((from_first,), True, False),
            ((from_block,), True, False),
            ((from_first, from_block), True, True),
            ((from_first, from_block), False, True),
        )
        for (ends, aligned, zero_tail), reading in product(passes, _AAC_READINGS):
            try:
                frames = _aac_walk(data, first, reading, ends, aligned=aligned, zero_tail=zero_tail)
            except IproProtocolError:
                continue
            break
        else:
            raise IproProtocolError("The NVR sent AAC playback frames of unknown layout.")
    elif size and data[_AUDIO_HEADER_SIZE : _AUDIO_HEADER_SIZE + size].strip(b"\x00"):
        raise IproProtocolError("The NVR's AAC playback audio has no frames.")
    return PlaybackAudio(
        codec=AudioCodec.AAC_LC,
        camera=_U16.unpack_from(data, 2)[0],
        start=_time(data, 12),
        end=_time(data, 20),
        frames=tuple(frames),
    )


def parse_playback_audio(data: bytes) -> PlaybackAudio:
    """Parse one ``playaudio.cgi`` answer (see the module docstring for the layout)."""
    if len(data) < _AUDIO_HEADER_SIZE:
        raise IproProtocolError("The NVR's playback audio is shorter than its header.")
    if data.startswith(G7XX_AUDIO):
        return _g7xx(data)
    if data.startswith(AAC_AUDIO):
        return _aac(data)
    raise IproProtocolError("The NVR's playback audio does not start with an audio header.")

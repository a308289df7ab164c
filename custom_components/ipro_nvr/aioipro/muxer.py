"""MPEG-TS muxing of live access units with PyAV, cut where a viewer may join.

The NVR's live video is Annex B H.264/H.265 with RTP time stamps, its audio raw AAC-LC
frames. PyAV's (FFmpeg's) MPEG-TS muxer does the packetising in C; this module feeds it
and slices its output at every group of pictures, so a restream can hand a new or lagging
viewer bytes that begin with PAT/PMT and a keyframe. FFmpeg writes PAT/PMT before every
video keyframe; the periodic repeat is switched off so that a PAT marks exactly those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import Final, NamedTuple

import av

from .errors import IproProtocolError
from .models import VideoCodec

TIME_BASE: Final = Fraction(1, 90000)
"""MPEG-TS (and RTP video) clock: every time stamp here counts 90 kHz ticks."""

AAC_SAMPLE_RATE: Final = 48000
"""The NVR's live AAC-LC is 48 kHz (``audio/48kaac-lc``)."""

AAC_FRAME_TICKS: Final = 1024 * 90000 // AAC_SAMPLE_RATE
"""One AAC frame (1024 samples at 48 kHz) in 90 kHz ticks: 1920."""

TS_PACKET: Final = 188
_PAT_HEADER: Final = b"\x47\x40\x00"  # sync byte, payload start + PID 0
_START_CODE: Final = b"\x00\x00\x01"
_FFMPEG_NAMES: Final = {VideoCodec.H264: "h264", VideoCodec.H265: "hevc"}
_ADTS_SAMPLE_RATE_48K: Final = 3
_ADTS_MAX_LENGTH: Final = 0x1FFF
_AAC_LC_PROFILE: Final = 1  # ADTS stores the audio object type minus one
_AAC_SCE: Final = 0
_AAC_CPE: Final = 1

_H264_PARAMETER_SETS: Final = frozenset({7, 8})  # SPS, PPS
_H265_PARAMETER_SETS: Final = frozenset({32, 33, 34})  # VPS, SPS, PPS
_H265_PARAMETER_HEADERS: Final = frozenset({0x40, 0x42, 0x44})
_H264_SPS: Final = 7
_MAX_DETECT_NALS: Final = 16
_H264_IDR: Final = 5
_H265_IRAP: Final = range(16, 24)  # BLA, IDR, CRA and reserved IRAP types
_H264_VCL: Final = range(1, 6)
_H265_VCL: Final = range(32)


class TsChunk(NamedTuple):
    """A run of whole TS packets; ``gop_start`` when it opens with PAT/PMT and a keyframe."""

    data: bytes
    gop_start: bool


@dataclass(frozen=True, slots=True)
class Nal:
    """One NAL unit of an Annex B access unit: its type and where its bytes are."""

    type: int
    start: int
    end: int


def _nal_type(codec: VideoCodec, header: int) -> int:
    return (header >> 1) & 0x3F if codec is VideoCodec.H265 else header & 0x1F


def iter_leading_nals(codec: VideoCodec, data: bytes) -> Iterator[Nal]:
    """Yield the NAL units of an Annex B access unit up to and including the first slice.

    Stopping at the first slice keeps the scan short: parameter sets, AUD and SEI come
    first, and the slice data that follows is most of the bytes.
    """
    vcl = _H265_VCL if codec is VideoCodec.H265 else _H264_VCL
    found = data.find(_START_CODE)
    while found >= 0 and found + 3 < len(data):
        start = found + 3
        kind = _nal_type(codec, data[start])
        if kind in vcl:
            yield Nal(kind, start, len(data))
            return
        following = data.find(_START_CODE, start)
        end = len(data) if following < 0 else following
        if following >= 0 and data[following - 1] == 0:
            end -= 1  # the zero byte belongs to a four-byte start code
        yield Nal(kind, start, end)
        found = following


def detect_codec(data: bytes) -> VideoCodec | None:
    """Tell H.264 from H.265 by the parameter sets of a keyframe, ``None`` without any.

    A client derives the codec from the RTP payload type; this checks what the bytes are,
    which is what a muxer must be told. An H.265 VPS/SPS/PPS header is ``40 01``/``42 01``
    /``44 01`` (layer 0, temporal id 1), which as H.264 would be reserved or partition
    types; an H.264 SPS (type 7) is an unspecified type in H.265.
    """
    found = data.find(_START_CODE)
    for _ in range(_MAX_DETECT_NALS):
        if found < 0 or found + 4 >= len(data):
            return None
        first, second = data[found + 3], data[found + 4]
        if first in _H265_PARAMETER_HEADERS and second == 1:
            return VideoCodec.H265
        if first & 0x80 == 0 and first & 0x1F == _H264_SPS:
            return VideoCodec.H264
        found = data.find(_START_CODE, found + 3)
    return None


class KeyframeInfo(NamedTuple):
    """What the leading NAL units of a keyframe carry."""

    irap: bool
    parameter_sets: tuple[bytes, ...]


def inspect_keyframe(codec: VideoCodec, data: bytes) -> KeyframeInfo:
    """Return whether an access unit is a random access point and its parameter sets."""
    wanted = _H265_PARAMETER_SETS if codec is VideoCodec.H265 else _H264_PARAMETER_SETS
    parameter_sets: list[bytes] = []
    irap = False
    for nal in iter_leading_nals(codec, data):
        if nal.type in wanted:
            parameter_sets.append(data[nal.start : nal.end])
        elif codec is VideoCodec.H265:
            irap = nal.type in _H265_IRAP
        else:
            irap = nal.type == _H264_IDR
    return KeyframeInfo(irap, tuple(parameter_sets))


def has_all_parameter_sets(codec: VideoCodec, parameter_sets: tuple[bytes, ...]) -> bool:
    """Return whether a decoder could start from these parameter sets alone."""
    wanted = _H265_PARAMETER_SETS if codec is VideoCodec.H265 else _H264_PARAMETER_SETS
    return wanted <= {_nal_type(codec, nal[0]) for nal in parameter_sets if nal}


def annexb(nals: tuple[bytes, ...]) -> bytes:
    """Join NAL units with four-byte start codes."""
    return b"".join(b"\x00" + _START_CODE + nal for nal in nals)


def aac_channels(frame: bytes) -> int | None:
    """Return the channel count a raw AAC-LC frame starts with (SCE 1, CPE 2), else None."""
    if not frame:
        return None
    element = frame[0] >> 5
    if element == _AAC_SCE:
        return 1
    if element == _AAC_CPE:
        return 2
    return None


def is_adts(frame: bytes) -> bool:
    """Return whether a frame already carries an ADTS header (12-bit sync word)."""
    return len(frame) > 7 and frame[0] == 0xFF and frame[1] & 0xF0 == 0xF0


def adts_frame(frame: bytes, channels: int) -> bytes:
    """Prefix a raw 48 kHz AAC-LC frame with a 7-byte ADTS header, as MPEG-TS requires.

    ADTS counts the frame in 13 bits: a longer one is not AAC and cannot be framed.
    """
    length = len(frame) + 7
    if length > _ADTS_MAX_LENGTH:
        raise IproProtocolError(f"The NVR sent an audio frame of {len(frame)} bytes.")
    header = bytes(
        (
            0xFF,
            0xF1,  # MPEG-4, layer 0, no CRC
            (_AAC_LC_PROFILE << 6) | (_ADTS_SAMPLE_RATE_48K << 2) | (channels >> 2),
            ((channels & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,  # buffer fullness 0x7FF: variable rate
            0xFC,
        )
    )
    return header + frame


class _Sink:
    """File-like target for PyAV: collects what the muxer writes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)


class TsMuxer:
    """One MPEG-TS stream: a video track and, optionally, a 48 kHz AAC-LC track.

    Time stamps are 90 kHz ticks and must increase per track. Every call returns the
    chunks the muxer produced; a chunk with ``gop_start`` opens with PAT/PMT followed by
    a keyframe (the first chunk also carries the SDT FFmpeg writes once at the start).
    """

    def __init__(self, codec: VideoCodec, *, audio: bool, max_interleave: float = 0.5) -> None:
        if codec not in _FFMPEG_NAMES:
            msg = f"Cannot restream {codec} video as MPEG-TS"
            raise ValueError(msg)
        self.codec = codec
        self._sink = _Sink()
        self._container = av.open(
            self._sink,
            "w",
            format="mpegts",
            container_options={
                # PAT/PMT only before keyframes (FFmpeg forces them there) so they mark GOPs.
                "pat_period": "1000000",
                # Hand every packet over at once: live viewers wait for it.
                "flush_packets": "1",
                # A PES length lets a reader hand a frame on when it ends instead of
                # when the next one starts: one frame (33 ms) less latency with FFmpeg.
                "omit_video_pes_length": "0",
                # A track that falls silent must not hold the other one back for long.
                "max_interleave_delta": str(int(max_interleave * 1_000_000)),
            },
        )
        self._video = self._container.add_mux_stream(_FFMPEG_NAMES[codec], time_base=TIME_BASE)
        self._audio = (
            self._container.add_mux_stream("aac", rate=AAC_SAMPLE_RATE, time_base=TIME_BASE)
            if audio
            else None
        )
        self._prefix = b""
        self._started = False
        self.closed = False

    @property
    def has_audio(self) -> bool:
        """Return whether the stream has an audio track."""
        return self._audio is not None

    def video(self, data: bytes, pts: int, *, keyframe: bool) -> list[TsChunk]:
        """Mux one access unit (Annex B) at ``pts``."""
        packet = av.Packet(data)
        packet.stream = self._video
        packet.time_base = TIME_BASE
        packet.pts = packet.dts = pts
        packet.is_keyframe = keyframe
        self._container.mux_one(packet)
        return self._drain()

    def audio(self, adts: bytes, pts: int) -> list[TsChunk]:
        """Mux one ADTS-framed AAC frame at ``pts``; ignored without an audio track."""
        if self._audio is None:
            return []
        packet = av.Packet(adts)
        packet.stream = self._audio
        packet.time_base = TIME_BASE
        packet.pts = packet.dts = pts
        self._container.mux_one(packet)
        return self._drain()

    def close(self) -> list[TsChunk]:
        """Flush what the interleaver still holds and release the muxer."""
        if self.closed:
            return []
        self.closed = True
        self._container.close()
        return self._drain()

    def _drain(self) -> list[TsChunk]:
        """Cut the collected bytes into whole TS packets, split before each PAT."""
        buffer = self._sink.buffer
        usable = len(buffer) - len(buffer) % TS_PACKET
        if not usable:
            return []
        data = bytes(buffer[:usable])
        del buffer[:usable]
        cuts = [0]
        found = data.find(_PAT_HEADER)
        while found >= 0:
            if found % TS_PACKET == 0 and found:
                cuts.append(found)
            found = data.find(_PAT_HEADER, found + 1)
        cuts.append(usable)
        chunks: list[TsChunk] = []
        for start, end in pairwise(cuts):
            piece = data[start:end]
            gop_start = piece.startswith(_PAT_HEADER)
            if not self._started:
                # FFmpeg opens with an SDT before the first PAT: keep it with that GOP.
                if not gop_start:
                    self._prefix += piece
                    continue
                piece = self._prefix + piece
                self._prefix = b""
                self._started = True
            chunks.append(TsChunk(piece, gop_start))
        return chunks

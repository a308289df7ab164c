"""RTP depacketizers for H.264 (RFC 6184) and H.265 (RFC 7798) into Annex B access units.

Supported payloads: single NAL units, STAP-A / AP aggregates and FU-A / FU fragments,
plus payloads that already are Annex B (they start with a start code). An access unit is
emitted when the marker bit ends it, or when the RTP time stamp changes.

Damage is never passed on: after a sequence gap, a malformed payload, an unsupported
packetization or an incomplete fragment, the access unit in progress is dropped, and so
is everything up to the next access unit boundary (a marker bit, a time stamp change
without a gap, or a packet that visibly starts an access unit: a delimiter, a parameter
set, SEI, or the first slice of a picture). The stream start is treated like a gap, so a
stream joined in the middle of a picture starts with the next whole one. An access unit
larger than ``max_access_unit_size`` (8 MiB by default) is dropped the same way rather
than raising, so one bad picture does not end a live stream. ``dropped`` counts the
access units lost to any of this.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import re
from typing import ClassVar, override

from .errors import IproProtocolError
from .models import AccessUnit, RecorderInfo, RtpPacket, VideoCodec
from .rtp import PAYLOAD_TYPE_H264, PAYLOAD_TYPE_H265

MAX_ACCESS_UNIT_SIZE = 8 * 1024 * 1024
START_CODE = b"\x00\x00\x00\x01"
_ANNEX_B_PREFIXES = (b"\x00\x00\x01", b"\x00\x00\x00\x01")
_ANNEX_B_NAL = re.compile(b"\x00\x00\x01(.)", re.DOTALL)

# H.264 NAL unit types (ITU-T H.264 table 7-1, RFC 6184 table 1).
_H264_IDR = 5
_H264_SLICES = frozenset({1, 5})
_H264_AU_HEADS = frozenset({6, 7, 8, 9})  # SEI, SPS, PPS, access unit delimiter
_H264_IGNORED = frozenset({0, 30, 31})
_H264_STAP_A = 24
_H264_FU_A = 28
# H.265 NAL unit types (ITU-T H.265 table 7-1, RFC 7798 section 4.4).
_H265_KEYFRAMES = frozenset(range(16, 22))  # BLA, IDR, CRA
_H265_AU_HEADS = frozenset({32, 33, 34, 35, 39})  # VPS, SPS, PPS, AUD, prefix SEI
_H265_AP = 48
_H265_FU = 49
_H265_PACI = 50


class Depacketizer(ABC):
    """Reassemble access units from the RTP packets of one stream, in arrival order."""

    codec: ClassVar[VideoCodec]

    def __init__(self, max_access_unit_size: int = MAX_ACCESS_UNIT_SIZE) -> None:
        self.max_access_unit_size = max_access_unit_size
        self.dropped = 0
        self._chunks: list[bytes | memoryview] = []
        self._size = 0
        self._keyframe = False
        self._info: RecorderInfo | None = None
        self._timestamp: int | None = None
        self._fragments: list[bytes | memoryview] | None = None
        self._fragment_type = -1
        self._last_sequence: int | None = None
        self._broken = False
        self._broken_timestamp = 0

    def push(self, packet: RtpPacket) -> list[AccessUnit]:
        """Add a packet; return the access units it completed (usually zero or one)."""
        out: list[AccessUnit] = []
        timestamp = packet.timestamp
        last = self._last_sequence
        self._last_sequence = packet.sequence
        continuous = last is not None and packet.sequence == (last + 1) & 0xFFFF
        if not continuous:
            if self._chunks or self._fragments is not None:
                self._discard()
            self._broken = not self._starts_access_unit(packet.payload)
            self._broken_timestamp = timestamp
        elif self._broken and timestamp != self._broken_timestamp:
            self._broken = False
        if self._broken:
            if packet.marker:
                self._broken = False
            return out
        if timestamp != self._timestamp and (self._chunks or self._fragments is not None):
            self._emit(out)
        self._timestamp = timestamp
        if not self._add_payload(packet.payload) or self._size > self.max_access_unit_size:
            self._discard()
            self._broken = not packet.marker
            self._broken_timestamp = timestamp
            return out
        if self._info is None:
            self._info = packet.extension
        if packet.marker:
            self._emit(out)
        return out

    def flush(self) -> list[AccessUnit]:
        """Return the access unit still pending at the end of a stream, if it is whole."""
        out: list[AccessUnit] = []
        if self._chunks or self._fragments is not None:
            self._emit(out)
        return out

    def _emit(self, out: list[AccessUnit]) -> None:
        if self._fragments is not None:
            self._discard()
            return
        if self._chunks:
            out.append(
                AccessUnit(
                    codec=self.codec,
                    data=b"".join(self._chunks),
                    timestamp=self._timestamp or 0,
                    keyframe=self._keyframe,
                    info=self._info,
                )
            )
        self._reset()

    def _discard(self) -> None:
        self.dropped += 1
        self._reset()

    def _reset(self) -> None:
        self._chunks = []
        self._size = 0
        self._keyframe = False
        self._info = None
        self._fragments = None

    def _add_nal(self, nal: bytes | memoryview) -> None:
        self._chunks.append(START_CODE)
        self._chunks.append(nal)
        self._size += 4 + len(nal)

    def _add_annex_b(self, payload: bytes) -> None:
        self._chunks.append(payload)
        self._size += len(payload)
        if not self._keyframe:
            self._keyframe = any(
                self._is_keyframe_header(m.group(1)[0]) for m in _ANNEX_B_NAL.finditer(payload)
            )

    def _add_fragment(self, payload: bytes, header: int, fragment_type: int, data_at: int) -> bool:
        """Add an FU-A (RFC 6184) or FU (RFC 7798) packet: FU ``header``, data from ``data_at``.

        The two differ only in where the FU header sits and how the NAL unit header is
        rebuilt (``_fragment_nal_header``); the reassembly is the same. The caller reads
        the FU header, which it needs for the fragment type anyway.
        """
        fragments = self._fragments
        if header & 0x80:
            if fragments is not None:
                return False
            nal_header = self._fragment_nal_header(payload, fragment_type)
            fragments = self._fragments = [START_CODE, nal_header]
            self._fragment_type = fragment_type
            self._size += 4 + len(nal_header)
            if not self._keyframe:
                self._keyframe = self._is_keyframe_header(nal_header[0])
        elif fragments is None or fragment_type != self._fragment_type:
            return False
        data = memoryview(payload)[data_at:]
        fragments.append(data)
        self._size += len(data)
        if header & 0x40:
            self._chunks.extend(fragments)
            self._fragments = None
        return True

    def _add_aggregate(self, payload: bytes, pos: int) -> bool:
        size = len(payload)
        view = memoryview(payload)
        if pos >= size:
            return False
        while pos < size:
            if size - pos < 2:
                return False
            length = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if length == 0 or pos + length > size:
                return False
            self._add_nal(view[pos : pos + length])
            if not self._keyframe:
                self._keyframe = self._is_keyframe_header(payload[pos])
            pos += length
        return True

    @abstractmethod
    def _add_payload(self, payload: bytes) -> bool:
        """Add one RTP payload to the access unit; ``False`` if it cannot be used."""

    def _starts_access_unit(self, payload: bytes) -> bool:
        """Return whether a payload visibly begins an access unit."""
        if payload.startswith(_ANNEX_B_PREFIXES):
            match = _ANNEX_B_NAL.search(payload)
            return match is not None and self._starts_access_unit(payload[match.end() - 1 :])
        return self._packet_starts_access_unit(payload)

    @abstractmethod
    def _packet_starts_access_unit(self, payload: bytes) -> bool:
        """Return whether an RTP payload (not Annex B) visibly begins an access unit."""

    @abstractmethod
    def _fragment_nal_header(self, payload: bytes, fragment_type: int) -> bytes:
        """Return the header of the NAL unit a fragmentation unit's first packet starts."""

    @abstractmethod
    def _is_keyframe_header(self, first_byte: int) -> bool:
        """Return whether a NAL unit whose header starts with this byte is a keyframe."""


class H264Depacketizer(Depacketizer):
    """RFC 6184: single NAL unit, STAP-A and FU-A packets."""

    codec = VideoCodec.H264

    @override
    def _is_keyframe_header(self, first_byte: int) -> bool:
        return first_byte & 0x1F == _H264_IDR

    @override
    def _fragment_nal_header(self, payload: bytes, fragment_type: int) -> bytes:
        return bytes(((payload[0] & 0xE0) | fragment_type,))

    @override
    def _add_payload(self, payload: bytes) -> bool:
        if not payload:
            return True
        first = payload[0]
        nal_type = first & 0x1F
        if nal_type == _H264_FU_A:
            if len(payload) < 3:
                return False
            header = payload[1]
            return self._add_fragment(payload, header, header & 0x1F, 2)
        if self._fragments is not None:
            return False
        if 0 < nal_type < _H264_STAP_A:
            self._add_nal(payload)
            if nal_type == _H264_IDR:
                self._keyframe = True
            return True
        if first == 0 and payload.startswith(_ANNEX_B_PREFIXES):
            self._add_annex_b(payload)
            return True
        if nal_type == _H264_STAP_A:
            return self._add_aggregate(payload, 1)
        return nal_type in _H264_IGNORED

    @override
    def _packet_starts_access_unit(self, payload: bytes) -> bool:
        if len(payload) < 2:
            return False
        nal_type = payload[0] & 0x1F
        if nal_type == _H264_STAP_A:
            return self._starts_access_unit(payload[3:])
        if nal_type == _H264_FU_A:
            if len(payload) < 3 or not payload[1] & 0x80:
                return False
            nal_type = payload[1] & 0x1F
            payload = payload[1:]
        if nal_type in _H264_SLICES:
            return bool(payload[1] & 0x80)  # first_mb_in_slice == 0 (ue(v) "1")
        return nal_type in _H264_AU_HEADS


class H265Depacketizer(Depacketizer):
    """RFC 7798: single NAL unit, AP and FU packets (no DONL, as for sprop-max-don-diff=0)."""

    codec = VideoCodec.H265

    @override
    def _is_keyframe_header(self, first_byte: int) -> bool:
        return (first_byte >> 1) & 0x3F in _H265_KEYFRAMES

    @override
    def _fragment_nal_header(self, payload: bytes, fragment_type: int) -> bytes:
        return bytes(((payload[0] & 0x81) | (fragment_type << 1), payload[1]))

    @override
    def _add_payload(self, payload: bytes) -> bool:
        if not payload:
            return True
        if len(payload) < 2:
            return False
        first = payload[0]
        nal_type = (first >> 1) & 0x3F
        if nal_type == _H265_FU:
            if len(payload) < 4:
                return False
            header = payload[2]
            return self._add_fragment(payload, header, header & 0x3F, 3)
        if self._fragments is not None:
            return False
        if first == 0 and payload.startswith(_ANNEX_B_PREFIXES):
            self._add_annex_b(payload)
            return True
        if nal_type < _H265_AP:
            self._add_nal(payload)
            if nal_type in _H265_KEYFRAMES:
                self._keyframe = True
            return True
        if nal_type == _H265_AP:
            return self._add_aggregate(payload, 2)
        return nal_type != _H265_PACI

    @override
    def _packet_starts_access_unit(self, payload: bytes) -> bool:
        if len(payload) < 3:
            return False
        nal_type = (payload[0] >> 1) & 0x3F
        if nal_type == _H265_AP:
            return self._starts_access_unit(payload[4:])
        if nal_type == _H265_FU:
            if len(payload) < 4 or not payload[2] & 0x80:
                return False
            nal_type = payload[2] & 0x3F
            payload = payload[1:]
        if nal_type < 32:
            return bool(payload[2] & 0x80)  # first_slice_segment_in_pic_flag
        return nal_type in _H265_AU_HEADS


def depacketizer_for(kind: int | VideoCodec) -> Depacketizer:
    """Return a new depacketizer for an RTP payload type (98, 101) or a video codec."""
    if kind in (VideoCodec.H264, PAYLOAD_TYPE_H264):
        return H264Depacketizer()
    if kind in (VideoCodec.H265, PAYLOAD_TYPE_H265):
        return H265Depacketizer()
    raise IproProtocolError(f"The NVR sent video the client cannot depacketize ({kind}).")

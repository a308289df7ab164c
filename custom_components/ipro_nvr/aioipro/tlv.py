"""Recorder and camera information TLVs (spec section 7).

Each item is ``ID`` (u16) + ``Length`` (u16, the whole item including these four bytes)
+ data, big-endian. The same items appear in live JPEG chunks, RTP header extensions and
playback GOP headers. Unknown IDs are skipped by their length and kept raw, so a newer
firmware adding items does not break parsing. Fewer than four trailing bytes, or a tail
of zero bytes, is taken as padding (RTP extensions are padded to 32-bit words).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
import struct
from types import MappingProxyType
from typing import Any

from .errors import IproProtocolError
from .models import RecorderInfo, TimeInfo

_HEADER = struct.Struct(">HH")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_TIME = struct.Struct(">IBBBB")
_STATUS = struct.Struct(">BB")
_EMPTY: Mapping[int, bytes] = MappingProxyType({})

type _Decoder = Callable[[bytes, int, int, int, dict[str, Any]], None]


def time_info(epoch: int, negative: bool, hours: int, minutes: int, summer: bool) -> TimeInfo:
    """Build a ``TimeInfo`` from the NVR's epoch seconds and zone bytes."""
    if hours > 23 or minutes > 59:
        raise IproProtocolError(
            f"The recorder sent an invalid time zone offset ({hours}:{minutes:02d})."
        )
    offset = timedelta(hours=hours, minutes=minutes)
    return TimeInfo(
        time=datetime.fromtimestamp(epoch, UTC),
        tz_offset=-offset if negative else offset,
        summer_time=summer,
    )


def _need(data: bytes, start: int, end: int, size: int, tlv_id: int) -> None:
    if end - start < size:
        raise IproProtocolError(
            f"The recorder sent a too short information item 0x{tlv_id:04X} "
            f"({end - start} data bytes, {size} needed)."
        )


def _u16(name: str, convert: Callable[[int], Any] = int) -> _Decoder:
    def decode(data: bytes, start: int, end: int, tlv_id: int, out: dict[str, Any]) -> None:
        _need(data, start, end, 2, tlv_id)
        out[name] = convert(_U16.unpack_from(data, start)[0])

    return decode


def _u32(name: str) -> _Decoder:
    def decode(data: bytes, start: int, end: int, tlv_id: int, out: dict[str, Any]) -> None:
        _need(data, start, end, 4, tlv_id)
        out[name] = _U32.unpack_from(data, start)[0]

    return decode


def _time(name: str) -> _Decoder:
    def decode(data: bytes, start: int, end: int, tlv_id: int, out: dict[str, Any]) -> None:
        _need(data, start, end, 8, tlv_id)
        epoch, sign, hours, minutes, summer = _TIME.unpack_from(data, start)
        out[name] = time_info(epoch, sign != 0, hours, minutes, summer != 0)

    return decode


def _status(data: bytes, start: int, end: int, tlv_id: int, out: dict[str, Any]) -> None:
    _need(data, start, end, 2, tlv_id)
    out["status"], out["speed"] = _STATUS.unpack_from(data, start)


def _ten_ms(value: int) -> int:
    return value * 10


def _tenth(value: int) -> float:
    return value / 10


def _flag(value: int) -> bool:
    return value != 0


_DECODERS: dict[int, _Decoder] = {
    0x0004: _u16("camera"),
    0x0005: _u16("compression"),
    0x0006: _u32("data_size"),
    0x0007: _time("time"),
    0x0008: _u16("frame_count"),
    0x0009: _u16("framerate", _tenth),
    0x000A: _u16("frame_time_ms", _ten_ms),
    0x000C: _u16("has_image", _flag),
    0x000D: _status,
    0x0011: _time("camera_time"),
    0x0012: _u16("camera_frame_time_ms", _ten_ms),
    0x0027: _u16("start_code", _flag),
    0x0028: _u16("long_term_ref"),
    0x0029: _u16("idr_display"),
}


def parse_tlvs(data: bytes) -> RecorderInfo:
    """Parse a run of information TLVs; the run must end exactly at the end of ``data``."""
    values: dict[str, Any] = {}
    unknown: dict[int, bytes] = {}
    size = len(data)
    pos = 0
    while pos < size:
        if size - pos < 4 or _HEADER.unpack_from(data, pos)[1] < 4:
            if not data[pos:].strip(b"\x00"):
                break
            raise IproProtocolError(
                f"The recorder sent a malformed information item at byte {pos}."
            )
        tlv_id, length = _HEADER.unpack_from(data, pos)
        end = pos + length
        if end > size:
            raise IproProtocolError(
                f"The recorder sent an information item 0x{tlv_id:04X} that runs past "
                f"the end of its block ({length} bytes, {size - pos} left)."
            )
        decoder = _DECODERS.get(tlv_id)
        if decoder is None:
            unknown[tlv_id] = bytes(data[pos + 4 : end])
        else:
            decoder(data, pos + 4, end, tlv_id, values)
        pos = end
    return RecorderInfo(**values, unknown=MappingProxyType(unknown) if unknown else _EMPTY)

"""RTP packets (RFC 3550) with the NVR's header extension.

The extension is profile-defined: profile ``0`` (the only one the spec uses) carries
information TLVs; an extension with another profile is skipped. Extension blocks repeat
from packet to packet (the time only changes once a second), so their parse is cached.
"""

from __future__ import annotations

from functools import lru_cache
import struct

from .errors import IproProtocolError
from .models import RecorderInfo, RtpPacket
from .tlv import parse_tlvs

RTP_VERSION = 2
PAYLOAD_TYPE_AUDIO = 97
PAYLOAD_TYPE_H264 = 98
PAYLOAD_TYPE_H265 = 101
_HEADER = struct.Struct(">BBHII")
_EXTENSION = struct.Struct(">HH")
_NVR_PROFILE = 0

_parse_extension = lru_cache(maxsize=256)(parse_tlvs)


def parse_rtp(packet: bytes) -> RtpPacket:
    """Parse one RTP packet: header, CSRCs skipped, extension TLVs, padding removed."""
    size = len(packet)
    if size < 12:
        raise IproProtocolError(f"The NVR sent an RTP packet of {size} bytes (min 12).")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
    if first >> 6 != RTP_VERSION:
        raise IproProtocolError(f"The NVR sent an RTP packet of version {first >> 6}, not 2.")
    pos = 12 + 4 * (first & 0x0F)
    end = size
    if first & 0x20:
        padding = packet[-1]
        end -= padding
        if padding == 0 or end < pos:
            raise IproProtocolError(f"The NVR sent an RTP packet with invalid padding {padding}.")
    extension: RecorderInfo | None = None
    if first & 0x10:
        if end - pos < 4:
            raise IproProtocolError("The NVR sent an RTP packet with a cut header extension.")
        profile, words = _EXTENSION.unpack_from(packet, pos)
        ext_end = pos + 4 + 4 * words
        if ext_end > end:
            raise IproProtocolError("The NVR sent an RTP header extension longer than its packet.")
        if profile == _NVR_PROFILE:
            extension = _parse_extension(packet[pos + 4 : ext_end])
        pos = ext_end
    elif pos > end:
        raise IproProtocolError("The NVR sent an RTP packet shorter than its CSRC list.")
    return RtpPacket(
        payload_type=second & 0x7F,
        marker=bool(second & 0x80),
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        extension=extension,
        payload=packet[pos:end],
    )

"""Live audio: HTTP multipart parts and RTP packets.

Over HTTP each part is one ``0x00`` byte followed by the audio ES (for AAC-LC, without the
RTP and AU headers); the codec comes from the part's Content-Type. The leading byte is
dropped when it is ``0x00`` (the spec calls it "unnecessary data"). Over RTP, G.711/G.726
payloads are the ES itself and AAC-LC payloads start with an RFC 3640 AU header section:
a u16 AU-headers-length in bits, then the headers (the spec's 4 bytes in all are one
16-bit header: 13-bit AU size, 3-bit index).
"""

from __future__ import annotations

from .errors import IproProtocolError
from .models import AudioCodec, AudioFrame, RtpPacket

_MEDIA_TYPES = {
    "audio/48kaac-lc": AudioCodec.AAC_LC,
    "audio/aac": AudioCodec.AAC_LC,
    "audio/mpeg4-generic": AudioCodec.AAC_LC,
    "audio/pcmu": AudioCodec.G711,
    "audio/pcma": AudioCodec.G711,
    "audio/basic": AudioCodec.G711,
}


def codec_from_content_type(content_type: str) -> AudioCodec:
    """Return the codec a live audio part's Content-Type names."""
    media = content_type.split(";", 1)[0].strip().lower()
    codec = _MEDIA_TYPES.get(media)
    if codec is not None:
        return codec
    if media.startswith(("audio/g.726", "audio/g726")):
        return AudioCodec.G726
    if media.startswith(("audio/g.711", "audio/g711")):
        return AudioCodec.G711
    if media.startswith("audio/") and "aac" in media:
        return AudioCodec.AAC_LC
    raise IproProtocolError(f"The NVR sent audio of an unknown type {content_type[:60]!r}.")


def parse_live_audio(body: bytes, content_type: str) -> AudioFrame:
    """Return the audio ES of one live HTTP audio part."""
    codec = codec_from_content_type(content_type)
    data = body[1:] if body[:1] == b"\x00" else body
    if not data:
        raise IproProtocolError("The NVR sent an empty audio part.")
    return AudioFrame(codec=codec, data=data, timestamp=None)


def strip_au_headers(payload: bytes) -> bytes:
    """Remove an RFC 3640 AU header section; with one 16-bit header, cut to its AU size."""
    if len(payload) < 2:
        raise IproProtocolError("The NVR sent an AAC payload without its AU header.")
    bits = int.from_bytes(payload[:2])
    start = 2 + (bits + 7) // 8
    if start > len(payload):
        raise IproProtocolError("The NVR sent an AAC payload shorter than its AU headers.")
    data = payload[start:]
    if bits == 16:
        size = int.from_bytes(payload[2:4]) >> 3
        if 0 < size <= len(data):
            data = data[:size]
    return data


def parse_rtp_audio(packet: RtpPacket, codec: AudioCodec) -> AudioFrame:
    """Return the audio ES of one RTP audio packet."""
    data = strip_au_headers(packet.payload) if codec is AudioCodec.AAC_LC else packet.payload
    if not data:
        raise IproProtocolError("The NVR sent an empty audio packet.")
    return AudioFrame(codec=codec, data=data, timestamp=packet.timestamp)

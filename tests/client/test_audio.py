"""Live audio over HTTP parts and RTP packets."""

from __future__ import annotations

import struct

import pytest

from custom_components.ipro_nvr.aioipro import (
    AudioCodec,
    IproProtocolError,
    parse_live_audio,
    parse_rtp,
    parse_rtp_audio,
)

from .parser_builders import rtp


@pytest.mark.parametrize(
    ("content_type", "codec"),
    [
        ("audio/48kaac-lc", AudioCodec.AAC_LC),
        ("Audio/48KAAC-LC; rate=48000", AudioCodec.AAC_LC),
        ("audio/aac", AudioCodec.AAC_LC),
        ("audio/16kaac-lc", AudioCodec.AAC_LC),
        ("audio/g.726-32k", AudioCodec.G726),
        ("audio/g726", AudioCodec.G726),
        ("audio/g.711", AudioCodec.G711),
        ("audio/g.711-ulaw", AudioCodec.G711),
        ("audio/pcmu", AudioCodec.G711),
        ("audio/basic", AudioCodec.G711),
    ],
)
def test_live_audio_codecs(content_type: str, codec: AudioCodec) -> None:
    frame = parse_live_audio(b"\x00\x21\x10\x05", content_type)
    assert frame.codec is codec
    assert frame.data == b"\x21\x10\x05"
    assert frame.timestamp is None


def test_live_audio_without_marker_byte_is_kept() -> None:
    assert parse_live_audio(b"\x21\x10", "audio/g.726-32k").data == b"\x21\x10"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"\x00", "audio/g.726-32k", "empty audio"),
        (b"", "audio/48kaac-lc", "empty audio"),
        (b"\x00\x01", "audio/opus", "unknown type"),
        (b"\x00\x01", "", "unknown type"),
    ],
)
def test_live_audio_garbage(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_live_audio(body, content_type)


def test_rtp_aac_strips_the_au_header() -> None:
    frame_data = bytes(range(1, 40))
    payload = struct.pack(">HH", 16, len(frame_data) << 3) + frame_data + b"\x00\x00"
    frame = parse_rtp_audio(
        parse_rtp(rtp(payload, payload_type=97, timestamp=4800)), AudioCodec.AAC_LC
    )
    assert frame.data == frame_data
    assert frame.timestamp == 4800
    assert frame.codec is AudioCodec.AAC_LC


def test_rtp_aac_with_other_header_sizes() -> None:
    two_headers = struct.pack(">HHH", 32, 3 << 3, 2 << 3) + b"abcde"
    packet = parse_rtp(rtp(two_headers, payload_type=97))
    assert parse_rtp_audio(packet, AudioCodec.AAC_LC).data == b"abcde"
    size_too_big = struct.pack(">HH", 16, 99 << 3) + b"xyz"
    packet = parse_rtp(rtp(size_too_big, payload_type=97))
    assert parse_rtp_audio(packet, AudioCodec.AAC_LC).data == b"xyz"


def test_rtp_g711_is_the_payload() -> None:
    packet = parse_rtp(rtp(b"\xff\x7f\x00", payload_type=97, timestamp=160))
    frame = parse_rtp_audio(packet, AudioCodec.G711)
    assert frame.data == b"\xff\x7f\x00"
    assert frame.timestamp == 160


@pytest.mark.parametrize(
    ("payload", "codec", "message"),
    [
        (b"\x00", AudioCodec.AAC_LC, "without its AU header"),
        (b"\x00\x20\x00", AudioCodec.AAC_LC, "shorter than its AU headers"),
        (b"\x00\x10\x00\x08", AudioCodec.AAC_LC, "empty audio"),
        (b"", AudioCodec.G726, "empty audio"),
    ],
)
def test_rtp_audio_garbage(payload: bytes, codec: AudioCodec, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_rtp_audio(parse_rtp(rtp(payload, payload_type=97)), codec)

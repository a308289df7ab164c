"""RTP packets with the NVR's header extension."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ipro_nvr.aioipro import IproProtocolError, parse_rtp

from .parser_builders import recorder_tlvs, rtp, u16_tlv


def test_plain_packet() -> None:
    packet = parse_rtp(rtp(b"payload", sequence=65535, timestamp=2**32 - 1, marker=True))
    assert packet.payload_type == 98
    assert packet.marker is True
    assert packet.sequence == 65535
    assert packet.timestamp == 2**32 - 1
    assert packet.ssrc == 0x12345678
    assert packet.extension is None
    assert packet.payload == b"payload"


def test_extension_csrcs_and_padding() -> None:
    data = rtp(
        b"\x65abc",
        payload_type=101,
        extension=recorder_tlvs(camera=5),
        csrcs=(1, 2),
        padding=3,
    )
    packet = parse_rtp(data)
    assert packet.payload_type == 101
    assert packet.marker is False
    assert packet.extension is not None
    assert packet.extension.camera == 5
    assert packet.payload == b"\x65abc"
    assert parse_rtp(data).extension is packet.extension


def test_extension_of_another_profile_is_skipped() -> None:
    packet = parse_rtp(rtp(b"x", extension=b"\x10\x01\x02\x03garbage!", profile=0xBEDE))
    assert packet.extension is None
    assert packet.payload == b"x"


def test_empty_extension_and_payload() -> None:
    packet = parse_rtp(rtp(b"", extension=b""))
    assert packet.extension is not None
    assert packet.extension.camera is None
    assert packet.payload == b""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x62\x00", "3 bytes"),
        (b"\x40" + bytes(11), "version 1"),
        (b"\x82" + bytes(11) + bytes(4), "CSRC"),
        (b"\xa0" + bytes(10) + b"\x00", "padding"),
        (b"\xa0" + bytes(10) + b"\x20", "padding"),
        (b"\x90" + bytes(11) + b"\x00\x00", "cut header extension"),
        (b"\x90" + bytes(11) + b"\x00\x00\x00\x02" + bytes(4), "longer than its packet"),
        (rtp(b"", extension=b"\x00\x04\x00\x02\x00\x00\x00\x00"), "malformed"),
    ],
)
def test_garbage(data: bytes, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_rtp(data)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=64),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 2**32 - 1),
    marker=st.booleans(),
    payload_type=st.integers(0, 127),
    camera=st.none() | st.integers(0, 0xFFFF),
    csrcs=st.lists(st.integers(0, 2**32 - 1), max_size=15),
    padding=st.integers(0, 255),
)
def test_round_trip(  # noqa: PLR0917 - hypothesis passes keywords
    payload: bytes,
    sequence: int,
    timestamp: int,
    marker: bool,
    payload_type: int,
    camera: int | None,
    csrcs: list[int],
    padding: int,
) -> None:
    packet = parse_rtp(
        rtp(
            payload,
            sequence=sequence,
            timestamp=timestamp,
            marker=marker,
            payload_type=payload_type,
            extension=None if camera is None else u16_tlv(4, camera),
            csrcs=csrcs,
            padding=padding,
        )
    )
    assert (packet.sequence, packet.timestamp, packet.marker) == (sequence, timestamp, marker)
    assert packet.payload_type == payload_type
    assert packet.payload == payload
    assert (packet.extension.camera if packet.extension else None) == camera

"""Recorder/camera information TLVs (spec section 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import struct

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ipro_nvr.aioipro import IproProtocolError, VideoCodec, parse_tlvs
from custom_components.ipro_nvr.aioipro.models import RecorderInfo

from .parser_builders import camera_tlvs, recorder_tlvs, time_tlv, tlv, u16_tlv


def test_every_recorder_item() -> None:
    info = parse_tlvs(recorder_tlvs(camera=7, compression=4, epoch=1_713_961_800))
    assert info.camera == 7
    assert info.compression == 4
    assert info.codec is VideoCodec.H265
    assert info.data_size == 123_456
    assert info.time is not None
    assert info.time.time == datetime(2024, 4, 24, 12, 30, tzinfo=UTC)
    assert info.time.tz_offset == timedelta(hours=9)
    assert info.time.summer_time is False
    assert info.time.utc_offset == timedelta(hours=9)
    assert info.time.local_time.hour == 21
    assert info.frame_count == 30
    assert info.framerate == 30.0
    assert info.frame_time_ms == 250
    assert info.has_image is True
    assert (info.status, info.speed) == (2, 3)
    assert info.start_code is True
    assert info.long_term_ref == 0x11
    assert info.idr_display == 2
    assert dict(info.unknown) == {0x000B: bytes(8)}
    assert info.camera_time is None


def test_camera_items() -> None:
    info = parse_tlvs(camera_tlvs(epoch=1_700_000_000))
    assert info.camera_time is not None
    assert info.camera_time.time == datetime.fromtimestamp(1_700_000_000, UTC)
    assert info.camera_time.tz_offset == timedelta(hours=-5)
    assert info.camera_time.summer_time is True
    assert info.camera_time.utc_offset == timedelta(hours=-4)
    assert info.camera_frame_time_ms == 70
    assert info.codec is None


def test_unknown_items_are_kept_and_codes_without_codec() -> None:
    info = parse_tlvs(tlv(0x0100, b"abc") + u16_tlv(0x0005, 9) + tlv(0x0200, b""))
    assert dict(info.unknown) == {0x0100: b"abc", 0x0200: b""}
    assert info.compression == 9
    assert info.codec is None


def test_empty_and_zero_padding() -> None:
    assert parse_tlvs(b"") == RecorderInfo()
    assert parse_tlvs(u16_tlv(0x0004, 1) + bytes(3)).camera == 1
    assert parse_tlvs(u16_tlv(0x0004, 1) + bytes(8)).camera == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x04\x00", "malformed"),
        (b"\x00\x04\x00\x02\x00\x00", "malformed"),
        (b"\x00\x04\x00\x10\x00\x01", "past the end"),
        (tlv(0x0004, b"\x01"), "too short"),
        (tlv(0x0006, b"\x00\x00"), "too short"),
        (tlv(0x0007, bytes(7)), "too short"),
        (tlv(0x000D, b"\x01"), "too short"),
        (tlv(0x0007, struct.pack(">IBBBB", 0, 0, 24, 0, 0)), "time zone"),
        (tlv(0x0011, struct.pack(">IBBBB", 0, 1, 5, 60, 0)), "time zone"),
        (u16_tlv(0x0004, 1) + b"\x00\x01", "malformed"),
    ],
)
def test_garbage(data: bytes, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_tlvs(data)


_ITEMS = st.one_of(
    st.tuples(st.just(0x0004), st.integers(0, 0xFFFF)),
    st.tuples(st.just(0x0008), st.integers(0, 0xFFFF)),
    st.tuples(st.just(0x0009), st.integers(0, 0xFFFF)),
    st.tuples(st.just(0x0007), st.integers(0, 2**32 - 1)),
    st.tuples(st.integers(0x0100, 0xFEFF), st.binary(max_size=12)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ITEMS, max_size=12))
def test_round_trip(items: list[tuple[int, int | bytes]]) -> None:
    data = bytearray()
    expected: dict[str, object] = {}
    unknown: dict[int, bytes] = {}
    for tlv_id, value in items:
        if isinstance(value, bytes):
            data += tlv(tlv_id, value)
            unknown[tlv_id] = value
        elif tlv_id == 0x0007:
            data += time_tlv(tlv_id, value, -90)
            expected["time"] = datetime.fromtimestamp(value, UTC)
        else:
            data += u16_tlv(tlv_id, value)
            name = {0x0004: "camera", 0x0008: "frame_count", 0x0009: "framerate"}[tlv_id]
            expected[name] = value / 10 if tlv_id == 0x0009 else value
    info = parse_tlvs(bytes(data))
    assert dict(info.unknown) == unknown
    for name, want in expected.items():
        if name == "time":
            assert info.time is not None
            assert info.time.time == want
            assert info.time.tz_offset == timedelta(minutes=-90)
        else:
            assert getattr(info, name) == want

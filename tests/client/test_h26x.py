"""H.264 / H.265 depacketizers: RFC 6184 / RFC 7798 payloads into Annex B access units."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import cast

import av
from av.video.codeccontext import VideoCodecContext
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from custom_components.ipro_nvr.aioipro import (
    AccessUnit,
    Depacketizer,
    H264Depacketizer,
    H265Depacketizer,
    IproProtocolError,
    VideoCodec,
    depacketizer_for,
    parse_rtp,
)

from .parser_builders import (
    START_CODE,
    RtpStream,
    packetize_h264,
    packetize_h265,
    recorder_tlvs,
    rtp,
    split_annex_b,
)

SPS = b"\x67\x64\x00\x0a\xac"
PPS = b"\x68\xee\x3c\x80"
IDR = b"\x65\x88" + bytes(range(50))
P_SLICE = b"\x41\x9a" + bytes(range(30))
P_SLICE_2 = b"\x41\x1a\x01"  # first_mb_in_slice != 0: a second slice of a picture
H265_VPS = b"\x40\x01\x0c\x01"
H265_IDR = b"\x26\x01\xaf" + bytes(40)
H265_TRAIL = b"\x02\x01\xd0" + bytes(20)
H265_TRAIL_2 = b"\x02\x01\x40\x01"  # first_slice_segment_in_pic_flag == 0


def annex_b(*nals: bytes) -> bytes:
    return b"".join(START_CODE + nal for nal in nals)


def push_all(depacketizer: Depacketizer, packets: Sequence[bytes]) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    for packet in packets:
        out += depacketizer.push(parse_rtp(packet))
    return out


def test_single_nal_units_and_marker() -> None:
    stream = RtpStream(extension=recorder_tlvs(camera=3))
    packets = stream.access_unit([SPS, PPS, IDR]) + stream.access_unit([P_SLICE])
    units = push_all(H264Depacketizer(), packets)
    assert [u.data for u in units] == [annex_b(SPS, PPS, IDR), annex_b(P_SLICE)]
    assert [u.keyframe for u in units] == [True, False]
    assert [u.timestamp for u in units] == [90_000, 93_000]
    assert units[0].codec is VideoCodec.H264
    assert units[0].info is not None
    assert units[0].info.camera == 3
    assert units[1].info is not None


def test_timestamp_change_ends_an_access_unit_without_marker() -> None:
    depacketizer = H264Depacketizer()
    first = rtp(P_SLICE, sequence=1, timestamp=100)
    second = rtp(P_SLICE, sequence=2, timestamp=200)
    assert depacketizer.push(parse_rtp(first)) == []
    (unit,) = depacketizer.push(parse_rtp(second))
    assert unit.timestamp == 100
    (last,) = depacketizer.flush()
    assert last.timestamp == 200
    assert depacketizer.flush() == []


def test_stap_a_and_fu_a() -> None:
    nals = [SPS, PPS, IDR * 20]
    payloads = packetize_h264(nals, 100)
    assert payloads[0][0] & 0x1F == 24
    assert {p[0] & 0x1F for p in payloads[1:]} == {28}
    (unit,) = push_all(H264Depacketizer(), RtpStream().access_unit(payloads))
    assert unit.data == annex_b(*nals)
    assert unit.keyframe


def test_fu_a_with_start_and_end_in_one_packet() -> None:
    payload = bytes((0x60 | 28, 0xC0 | 5)) + IDR[1:]
    (unit,) = push_all(H264Depacketizer(), RtpStream().access_unit([payload]))
    assert unit.data == annex_b(b"\x65" + IDR[1:])
    assert unit.keyframe


def test_h265_fu_with_start_and_end_in_one_packet() -> None:
    payload = b"\x62\x01\xd3" + H265_IDR[2:]
    (unit,) = push_all(H265Depacketizer(), RtpStream(101).access_unit([payload]))
    assert unit.data == annex_b(H265_IDR)
    assert unit.keyframe


def test_stream_start_without_marker_recovers_at_the_next_timestamp() -> None:
    packets = [rtp(P_SLICE_2, sequence=7, timestamp=1), rtp(P_SLICE, sequence=8, timestamp=2)]
    depacketizer = H264Depacketizer()
    assert push_all(depacketizer, packets) == []
    assert [u.data for u in depacketizer.flush()] == [annex_b(P_SLICE)]


def test_annex_b_payloads_are_tolerated() -> None:
    payloads = [annex_b(SPS, PPS), b"\x00\x00\x01" + IDR]
    (unit,) = push_all(H264Depacketizer(), RtpStream().access_unit(payloads))
    assert unit.data == b"".join(payloads)
    assert unit.keyframe
    (unit,) = push_all(H264Depacketizer(), RtpStream().access_unit([annex_b(P_SLICE)]))
    assert not unit.keyframe
    units = push_all(H265Depacketizer(), RtpStream(101).access_unit([annex_b(H265_VPS, H265_IDR)]))
    assert units[0].keyframe


def test_gap_drops_the_broken_access_unit_only() -> None:
    stream = RtpStream()
    first = stream.access_unit(packetize_h264([IDR * 10], 100))
    second = stream.access_unit(packetize_h264([P_SLICE * 10], 100))
    third = stream.access_unit([P_SLICE])
    depacketizer = H264Depacketizer()
    units = push_all(depacketizer, first + second[:2] + second[3:] + third)
    assert [u.data for u in units] == [annex_b(IDR * 10), annex_b(P_SLICE)]
    assert depacketizer.dropped == 1


def test_gap_that_lost_a_marker_drops_until_a_boundary() -> None:
    stream = RtpStream()
    first = stream.access_unit([P_SLICE, P_SLICE_2])
    second = stream.access_unit([P_SLICE_2, P_SLICE_2])
    third = stream.access_unit([P_SLICE])
    units = push_all(H264Depacketizer(), first[:1] + second[1:] + third)
    assert [u.data for u in units] == [annex_b(P_SLICE)]


def test_gap_followed_by_a_visible_access_unit_start_recovers_at_once() -> None:
    stream = RtpStream()
    first = stream.access_unit([P_SLICE, P_SLICE_2])
    second = stream.access_unit([SPS, PPS, IDR])
    units = push_all(H264Depacketizer(), first[:1] + second)
    assert [u.data for u in units] == [annex_b(SPS, PPS, IDR)]


def test_joining_mid_picture_skips_to_the_next_picture() -> None:
    stream = RtpStream()
    first = stream.access_unit(packetize_h264([IDR * 10], 100))
    second = stream.access_unit([P_SLICE])
    units = push_all(H264Depacketizer(), first[2:] + second)
    assert [u.data for u in units] == [annex_b(P_SLICE)]
    stream = RtpStream()
    first = stream.access_unit([P_SLICE_2])
    second = stream.access_unit([P_SLICE])
    units = push_all(H264Depacketizer(), first + second)
    assert [u.data for u in units] == [annex_b(P_SLICE)]


@pytest.mark.parametrize(
    "payloads",
    [
        [bytes((0x7C, 0x05)) + b"middle", bytes((0x7C, 0x45)) + b"end"],  # no FU start
        [bytes((0x7C, 0x85)) + b"a", bytes((0x7C, 0x85)) + b"b"],  # FU start while in FU
        [bytes((0x7C, 0x85)) + b"a", bytes((0x7C, 0x41)) + b"b"],  # FU type changes
        [bytes((0x7C, 0x85)) + b"a", P_SLICE],  # single NAL inside an FU
        [bytes((0x7C, 0x85)) + b"a", bytes((0x78, 0, 3)) + P_SLICE[:3]],  # STAP inside FU
        [bytes((0x7C, 0x85)) + b"a"],  # marker inside an FU
        [bytes((0x7C,))],  # FU without header
        [b"\x78\x00\x09" + SPS],  # STAP-A size past the end
        [b"\x78\x00\x00"],  # STAP-A with a zero size
        [b"\x78"],  # empty STAP-A
        [b"\x78\x00\x05" + SPS + b"\x00"],  # STAP-A with a cut size
        [b"\x79\x00\x00"],  # STAP-B: not supported
        [b"\x7d\x85\x00"],  # FU-B: not supported
    ],
)
def test_broken_h264_payloads_drop_the_access_unit(payloads: list[bytes]) -> None:
    stream = RtpStream()
    packets = stream.access_unit([SPS, *payloads]) + stream.access_unit([P_SLICE])
    depacketizer = H264Depacketizer()
    units = push_all(depacketizer, packets)
    assert [u.data for u in units] == [annex_b(P_SLICE)]
    assert depacketizer.dropped == 1


def test_fu_cut_by_a_timestamp_change_is_dropped() -> None:
    depacketizer = H264Depacketizer()
    depacketizer.push(parse_rtp(rtp(SPS, sequence=1, timestamp=1)))
    depacketizer.push(parse_rtp(rtp(bytes((0x7C, 0x85)) + b"a", sequence=2, timestamp=1)))
    assert depacketizer.push(parse_rtp(rtp(P_SLICE, sequence=3, timestamp=2))) == []
    assert depacketizer.dropped == 1
    assert [u.data for u in depacketizer.flush()] == [annex_b(P_SLICE)]


def test_ignored_and_empty_payloads() -> None:
    payloads = [SPS, b"", b"\x00", b"\x1e\x01", b"\x1f", P_SLICE]
    (unit,) = push_all(H264Depacketizer(), RtpStream().access_unit(payloads))
    assert unit.data == annex_b(SPS, P_SLICE)


def test_an_access_unit_of_ignored_payloads_is_not_emitted() -> None:
    assert push_all(H264Depacketizer(), RtpStream().access_unit([SPS[:0] + b"\x1e"])) == []


def test_oversized_access_unit_is_dropped() -> None:
    stream = RtpStream()
    big = stream.access_unit(packetize_h264([IDR * 100], 200))
    small = stream.access_unit([P_SLICE])
    depacketizer = H264Depacketizer(max_access_unit_size=1000)
    units = push_all(depacketizer, big + small)
    assert [u.data for u in units] == [annex_b(P_SLICE)]
    assert depacketizer.dropped == 1
    single = stream.access_unit([IDR * 100])
    assert push_all(depacketizer, single + stream.access_unit([P_SLICE]))[0].data == annex_b(
        P_SLICE
    )


def test_h265_single_ap_and_fu() -> None:
    nals = [H265_VPS, H265_IDR * 30, H265_TRAIL]
    payloads = packetize_h265(nals, 120)
    stream = RtpStream(payload_type=101)
    units = push_all(H265Depacketizer(), stream.access_unit(payloads))
    assert [u.data for u in units] == [annex_b(*nals)]
    assert units[0].keyframe
    assert units[0].codec is VideoCodec.H265
    (unit,) = push_all(H265Depacketizer(), RtpStream(101).access_unit([H265_TRAIL]))
    assert not unit.keyframe


@pytest.mark.parametrize(
    "payloads",
    [
        [b"\x62\x01\x13" + b"mid"],  # FU middle without start
        [b"\x62\x01\x93a", b"\x62\x01\x93b"],  # FU start while in FU
        [b"\x62\x01"],  # FU without header
        [b"\x62\x01\x93a", H265_TRAIL],  # single NAL inside an FU
        [b"\x60\x01\x00\x09" + H265_VPS],  # AP size past the end
        [b"\x60\x01"],  # empty AP
        [b"\x64\x01\x00"],  # PACI: not supported
        [b"\x40"],  # one byte
    ],
)
def test_broken_h265_payloads_drop_the_access_unit(payloads: list[bytes]) -> None:
    stream = RtpStream(payload_type=101)
    packets = stream.access_unit([H265_VPS, *payloads]) + stream.access_unit([H265_TRAIL])
    depacketizer = H265Depacketizer()
    assert [u.data for u in push_all(depacketizer, packets)] == [annex_b(H265_TRAIL)]
    assert depacketizer.dropped == 1


def test_h265_unspecified_types_are_ignored() -> None:
    payloads = [H265_VPS, b"\x70\x01\x00", b"", H265_TRAIL]  # type 56: unspecified
    (unit,) = push_all(H265Depacketizer(), RtpStream(101).access_unit(payloads))
    assert unit.data == annex_b(H265_VPS, H265_TRAIL)


@pytest.mark.parametrize(
    ("payload", "starts"),
    [
        (SPS, True),
        (P_SLICE, True),
        (P_SLICE_2, False),
        (b"\x7c\x85\x88", True),  # FU-A start of an IDR with first_mb 0
        (b"\x7c\x05\x88", False),  # FU-A middle
        (b"\x7c", False),
        (b"\x78\x00\x05" + SPS, True),  # STAP-A starting with SPS
        (annex_b(SPS), True),
        (b"\x00\x00\x01", False),
        (b"\x06", False),
        (b"\x0c\x00", False),  # filler data
    ],
)
def test_h264_access_unit_starts(payload: bytes, starts: bool) -> None:
    assert H264Depacketizer()._starts_access_unit(payload) is starts


@pytest.mark.parametrize(
    ("payload", "starts"),
    [
        (H265_VPS, True),
        (H265_TRAIL, True),
        (H265_TRAIL_2, False),
        (b"\x62\x01\x93\x80", True),  # FU start, first slice of an IDR
        (b"\x62\x01\x13\x80", False),  # FU middle
        (b"\x62\x01\x93", False),
        (b"\x60\x01\x00\x04" + H265_VPS, True),
        (annex_b(H265_TRAIL_2), False),
        (b"\x50\x01\x00", False),  # suffix SEI
        (b"\x40", False),
    ],
)
def test_h265_access_unit_starts(payload: bytes, starts: bool) -> None:
    assert H265Depacketizer()._starts_access_unit(payload) is starts


def test_depacketizer_for() -> None:
    assert isinstance(depacketizer_for(98), H264Depacketizer)
    assert isinstance(depacketizer_for(VideoCodec.H264), H264Depacketizer)
    assert isinstance(depacketizer_for(101), H265Depacketizer)
    assert isinstance(depacketizer_for(VideoCodec.H265), H265Depacketizer)
    with pytest.raises(IproProtocolError, match="cannot depacketize"):
        depacketizer_for(VideoCodec.JPEG)
    with pytest.raises(IproProtocolError, match="cannot depacketize"):
        depacketizer_for(97)


_H264_NAL = st.builds(
    lambda nri, kind, body: bytes(((nri << 5) | kind,)) + body,
    st.integers(0, 3),
    st.integers(1, 23),
    st.binary(min_size=1, max_size=400),
)
_H265_NAL = st.builds(
    lambda kind, tid, body: bytes((kind << 1, tid)) + body,
    st.integers(0, 47),
    st.integers(1, 7),
    st.binary(min_size=1, max_size=400),
)


@settings(max_examples=200, deadline=None)
@given(
    units=st.lists(st.lists(_H264_NAL, min_size=1, max_size=6), min_size=1, max_size=4),
    mtu=st.integers(20, 500),
    aggregate=st.booleans(),
)
def test_h264_round_trip(units: list[list[bytes]], mtu: int, aggregate: bool) -> None:
    stream = RtpStream(sequence=65_500)
    packets = [
        packet
        for nals in units
        for packet in stream.access_unit(packetize_h264(nals, mtu, aggregate=aggregate))
    ]
    depacketizer = H264Depacketizer()
    depacketizer._broken = False
    depacketizer._last_sequence = 65_499
    out = push_all(depacketizer, packets)
    assert [u.data for u in out] == [annex_b(*nals) for nals in units]
    assert [u.keyframe for u in out] == [any(n[0] & 0x1F == 5 for n in nals) for nals in units]


@settings(max_examples=200, deadline=None)
@given(
    units=st.lists(st.lists(_H265_NAL, min_size=1, max_size=6), min_size=1, max_size=4),
    mtu=st.integers(20, 500),
    aggregate=st.booleans(),
)
def test_h265_round_trip(units: list[list[bytes]], mtu: int, aggregate: bool) -> None:
    stream = RtpStream(payload_type=101, sequence=65_500)
    packets = [
        packet
        for nals in units
        for packet in stream.access_unit(packetize_h265(nals, mtu, aggregate=aggregate))
    ]
    depacketizer = H265Depacketizer()
    depacketizer._broken = False
    depacketizer._last_sequence = 65_499
    out = push_all(depacketizer, packets)
    assert [u.data for u in out] == [annex_b(*nals) for nals in units]
    assert [u.keyframe for u in out] == [
        any(16 <= (n[0] >> 1) & 0x3F <= 21 for n in nals) for nals in units
    ]


def encode(codec: str, frames: int = 10) -> list[tuple[bytes, bool]]:
    """Encode a moving test pattern; return Annex B access units and keyframe flags."""
    encoder = cast("VideoCodecContext", av.CodecContext.create(codec, "w"))
    encoder.width, encoder.height, encoder.pix_fmt = 96, 64, "yuv420p"
    encoder.time_base = Fraction(1, 10)
    encoder.framerate = Fraction(10)
    encoder.gop_size = 5
    encoder.options = (
        {"x265-params": "log-level=none:bframes=0"} if codec == "libx265" else {"bf": "0"}
    )
    packets = []
    for index in range(frames):
        image = np.zeros((64, 96, 3), np.uint8)
        image[:, (index * 9) % 96 :] = (200, 40, 90)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    return [(bytes(packet), packet.is_keyframe) for packet in packets]


@pytest.mark.parametrize(
    ("encoder", "decoder", "payload_type", "packetize"),
    [
        ("libx264", "h264", 98, packetize_h264),
        ("libx265", "hevc", 101, packetize_h265),
    ],
)
def test_real_video_round_trip(
    encoder: str, decoder: str, payload_type: int, packetize: object
) -> None:
    assert callable(packetize)
    encoded = encode(encoder)
    stream = RtpStream(payload_type=payload_type)
    packets = [
        packet
        for unit, _ in encoded
        for packet in stream.access_unit(packetize(split_annex_b(unit), 300))
    ]
    depacketizer = depacketizer_for(payload_type)
    units = push_all(depacketizer, packets)
    assert [split_annex_b(u.data) for u in units] == [split_annex_b(u) for u, _ in encoded]
    assert [u.keyframe for u in units] == [keyframe for _, keyframe in encoded]
    assert units[0].keyframe
    context = cast("VideoCodecContext", av.CodecContext.create(decoder, "r"))
    decoded = []
    for unit in units:
        decoded += context.decode(av.Packet(unit.data))
    decoded += context.decode(None)
    assert len(decoded) == 10
    assert (decoded[0].width, decoded[0].height) == (96, 64)

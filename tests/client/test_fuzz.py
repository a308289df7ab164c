"""Garbage in, IproProtocolError out: no parser may raise anything else, or hang."""

from __future__ import annotations

from collections.abc import Callable
import contextlib

from hypothesis import given, settings, strategies as st

from custom_components.ipro_nvr.aioipro import (
    H264Depacketizer,
    H265Depacketizer,
    IproProtocolError,
    LogType,
    RtpPacket,
    parse_camera_connection,
    parse_download_part,
    parse_hdd_info,
    parse_live_audio,
    parse_live_jpeg,
    parse_log_list,
    parse_login,
    parse_playback_audio,
    parse_playback_gop,
    parse_rtp,
    parse_rtp_audio,
    parse_tlvs,
    safe_file_name,
)
from custom_components.ipro_nvr.aioipro.models import AudioCodec

from .parser_builders import (
    aac_audio,
    camera_tlvs,
    fake_jpeg,
    g7xx_audio,
    info_chunk,
    playback_gop,
    recorder_tlvs,
    rtp,
)

BINARY_PARSERS: list[Callable[[bytes], object]] = [
    parse_tlvs,
    parse_rtp,
    parse_live_jpeg,
    parse_playback_gop,
    parse_playback_audio,
]
SAMPLES = [
    recorder_tlvs(),
    rtp(b"\x7c\x85abc", extension=recorder_tlvs(), padding=2),
    info_chunk(recorder_tlvs()) + info_chunk(camera_tlvs()) + fake_jpeg(),
    playback_gop([b"\x00\x00\x00\x01\x65abc", b"\x00\x00\x00\x01\x41x"], camera=camera_tlvs()),
    playback_gop([fake_jpeg()], chunk=b"\xff\xd8\xff\xff", pad_to=4),
    g7xx_audio(b"abc"),
    aac_audio([b"\x21abc", b"\x21de"], mode="body"),
]


def _only_protocol_errors(parser: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(IproProtocolError):
        parser(data)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), parser=st.sampled_from(BINARY_PARSERS))
def test_random_bytes(data: bytes, parser: Callable[[bytes], object]) -> None:
    _only_protocol_errors(parser, data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid sample with a few bytes changed, cut short or extended."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=16))


@settings(max_examples=300, deadline=None)
@given(data=mutated(), parser=st.sampled_from(BINARY_PARSERS))
def test_mutated_samples(data: bytes, parser: Callable[[bytes], object]) -> None:
    _only_protocol_errors(parser, data)


TEXT_PARSERS: list[Callable[[str], object]] = [
    parse_camera_connection,
    parse_hdd_info,
    parse_login,
    lambda text: parse_log_list(text, LogType.EVENT),
    lambda text: parse_log_list(text, LogType.ERROR),
]
_TEXT = st.text(
    st.sampled_from(list('CAM_CONNECT_01CH=MAXUIDEVENT_LOG_NO"/:,.-+ GMT0123456789\r\n<>')),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=200), _TEXT), parser=st.sampled_from(TEXT_PARSERS))
def test_random_text(text: str, parser: Callable[[str], object]) -> None:
    with contextlib.suppress(IproProtocolError):
        parser(text)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["X-Temp-FileName", "X-Prev-Filename", "X-RecData-Satus", "X"]),
        st.text(max_size=40),
    ),
    name=st.text(max_size=60),
    body=st.binary(max_size=40),
    content_type=st.text(max_size=30),
)
def test_headers_names_and_audio(
    headers: dict[str, str], name: str, body: bytes, content_type: str
) -> None:
    for call in (
        lambda: parse_download_part(headers),
        lambda: safe_file_name(name),
        lambda: parse_live_audio(body, content_type),
        lambda: parse_rtp_audio(_packet(body), AudioCodec.AAC_LC),
    ):
        with contextlib.suppress(IproProtocolError):
            call()


def _packet(
    payload: bytes, sequence: int = 0, timestamp: int = 0, marker: bool = False
) -> RtpPacket:
    return RtpPacket(
        payload_type=98,
        marker=marker,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=0,
        extension=None,
        payload=payload,
    )


@settings(max_examples=200, deadline=None)
@given(
    packets=st.lists(
        st.tuples(
            st.binary(max_size=40),
            st.integers(0, 6),
            st.integers(0, 2),
            st.booleans(),
        ),
        max_size=30,
    ),
    h265=st.booleans(),
)
def test_depacketizers_never_raise(packets: list[tuple[bytes, int, int, bool]], h265: bool) -> None:
    depacketizer = (
        H265Depacketizer(max_access_unit_size=200)
        if h265
        else H264Depacketizer(max_access_unit_size=200)
    )
    total = 0
    for payload, sequence, timestamp, marker in packets:
        for unit in depacketizer.push(_packet(payload, sequence, timestamp, marker)):
            assert len(unit.data) <= 200
            total += 1
    total += len(depacketizer.flush())
    assert total + depacketizer.dropped <= len(packets) + 1

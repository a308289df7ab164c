"""Playback GOPs (camera.cgi) and playback audio (playaudio.cgi)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import struct

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ipro_nvr.aioipro import (
    AudioCodec,
    IproProtocolError,
    VideoCodec,
    parse_playback_audio,
    parse_playback_gop,
)

from .parser_builders import (
    aac_audio,
    aac_frame,
    camera_tlvs,
    fake_jpeg,
    g7xx_audio,
    picture_packet,
    playback_gop,
    u16_tlv,
)

T0 = datetime.fromtimestamp(1_700_000_000, UTC)
PICTURES = [
    b"\x00\x00\x00\x01\x09\x10\x00\x00\x00\x01\x67\x64" + bytes(range(37)),
    b"\x00\x00\x00\x01\x41\x9a" + bytes(20),
    b"\x00\x00\x00\x01\x41\x9b\x01\x02",
    b"\x00\x00\x00\x01\x41\x9c",
]


def test_h264_gop_with_camera_information() -> None:
    data = playback_gop(PICTURES, camera=camera_tlvs(), per_picture_camera=camera_tlvs())
    assert len(data) == 4096
    gop = parse_playback_gop(data)
    assert gop.codec is VideoCodec.H264
    assert gop.recorder.camera == 2
    assert gop.recorder.framerate == 30.0
    assert gop.recorder.status == 2
    assert gop.camera is not None
    assert gop.camera.camera_frame_time_ms == 70
    assert gop.start == T0
    assert gop.end == T0 + timedelta(seconds=1, milliseconds=500)
    assert [p.data for p in gop.pictures] == PICTURES
    assert [p.time for p in gop.pictures] == [
        T0 + timedelta(milliseconds=500 * i) for i in range(4)
    ]


def test_h265_gop_without_camera_information() -> None:
    gop = parse_playback_gop(playback_gop(PICTURES[:2], chunk=b"\xff\x16"))
    assert gop.codec is VideoCodec.H265
    assert gop.camera is None
    assert [p.data for p in gop.pictures] == PICTURES[:2]


def test_jpeg_gop() -> None:
    jpeg = fake_jpeg(33)
    gop = parse_playback_gop(playback_gop([jpeg], chunk=b"\xff\xd8\xff\xff", camera=camera_tlvs()))
    assert gop.codec is VideoCodec.JPEG
    assert gop.camera is not None
    assert [p.data for p in gop.pictures] == [jpeg]
    assert gop.pictures[0].time == T0


def test_jpeg_gop_with_the_comment_marker() -> None:
    jpeg = fake_jpeg(10)
    data = bytearray(playback_gop([jpeg], chunk=b"\xff\xd8\xff\xff"))
    data[3] = 0xFE
    struct.pack_into(">H", data, 4, struct.unpack_from(">H", data, 4)[0] - 2)
    gop = parse_playback_gop(bytes(data))
    assert gop.codec is VideoCodec.JPEG
    assert [p.data for p in gop.pictures] == [jpeg]


@pytest.mark.parametrize("length_mode", ["tlvs", "self", "header"])
@pytest.mark.parametrize("length_includes_padding", [False, True])
def test_length_readings(length_mode: str, length_includes_padding: bool) -> None:
    data = playback_gop(
        PICTURES,
        camera=camera_tlvs(),
        length_mode=length_mode,
        length_includes_padding=length_includes_padding,
    )
    gop = parse_playback_gop(data)
    assert gop.recorder.camera == 2
    assert gop.camera is not None
    assert [p.data for p in gop.pictures] == PICTURES


def test_camera_information_that_is_not_tlvs_is_reported_absent() -> None:
    gop = parse_playback_gop(playback_gop(PICTURES[:1], camera=b"\x01\x02\x03\x04" * 3))
    assert gop.camera is None
    assert [p.data for p in gop.pictures] == PICTURES[:1]


def test_misaligned_stream_header_lookalike_is_skipped() -> None:
    camera = b"\x01\x02\x03\x04" + bytes(10) + b"\xff\x06\x00\x44" + bytes(2)
    gop = parse_playback_gop(playback_gop(PICTURES[:2], camera=camera))
    assert gop.camera is None
    assert [p.data for p in gop.pictures] == PICTURES[:2]


def test_short_junk_after_the_last_picture_ends_the_gop() -> None:
    data = playback_gop(PICTURES[:2], pad_to=1) + b"\x00\x01"
    assert [p.data for p in parse_playback_gop(data).pictures] == PICTURES[:2]


def test_zero_padding_before_the_reserved_bytes() -> None:
    gop = parse_playback_gop(playback_gop(PICTURES[:1], camera=bytes(8)))
    assert gop.camera is None


def test_picture_times_without_end_time_use_the_frame_rate() -> None:
    data = playback_gop(PICTURES[:3], end=(1_700_000_000, 0), first=(1_700_000_000, 10))
    gop = parse_playback_gop(data)
    first = T0 + timedelta(milliseconds=100)
    expected = [first + timedelta(seconds=i / 30) for i in range(3)]
    assert all(
        abs(p.time - t) < timedelta(microseconds=2)
        for p, t in zip(gop.pictures, expected, strict=True)
    )
    data = playback_gop(
        PICTURES[:2], recorder=u16_tlv(4, 1), end=(1_700_000_000, 0), first=(1_700_000_000, 0)
    )
    assert [p.time for p in parse_playback_gop(data).pictures] == [T0, T0]


def test_gop_without_image_data() -> None:
    data = playback_gop([], recorder=u16_tlv(0x000C, 0))
    assert parse_playback_gop(data).pictures == ()
    with pytest.raises(IproProtocolError, match="no picture"):
        parse_playback_gop(playback_gop([]))


def _with_stream_info(body: bytes) -> bytes:
    head = b"\xff\x15\x00\x00" + bytes(12) + b"\xff\x06\x00\x44"
    return head + bytes(64) + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "does not start with a video chunk"),
        (b"\xff\x15\x00", "does not start with a video chunk"),
        (b"\xff\xd8\xff\xff\x00", "no stream header"),
        (b"\x00\x00\x00\x00" + bytes(100), "does not start with a video chunk"),
        (b"\xff\x15\x00\x08" + u16_tlv(4, 1) + bytes(100), "no stream header"),
        (b"\xff\x15\x00\x30" + bytes(20), "no stream header"),
        (b"\xff\x15\x00\x00" + bytes(12) + b"\xff\x06\x00\x44" + bytes(10), "GOP information"),
        (_with_stream_info(b"\xff\x05\x00\x00"), "inside a picture header"),
        (_with_stream_info(picture_packet(b"abcd")[:-2]), "inside a picture"),
    ],
)
def test_gop_garbage(data: bytes, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_playback_gop(data)


def test_gop_time_fraction_out_of_range() -> None:
    with pytest.raises(IproProtocolError, match="time fraction"):
        parse_playback_gop(playback_gop(PICTURES[:1], first=(1_700_000_000, 100)))


_PICTURE = st.binary(min_size=1, max_size=200)


@settings(max_examples=200, deadline=None)
@given(
    pictures=st.lists(_PICTURE, min_size=1, max_size=6),
    per_picture_camera=st.booleans(),
    camera=st.booleans(),
    chunk=st.sampled_from([b"\xff\x15", b"\xff\x16", b"\xff\xd8\xff\xff"]),
    length_mode=st.sampled_from(["tlvs", "self", "header"]),
    length_includes_padding=st.booleans(),
)
def test_gop_round_trip(  # noqa: PLR0917 - hypothesis passes keywords
    pictures: list[bytes],
    per_picture_camera: bool,
    camera: bool,
    chunk: bytes,
    length_mode: str,
    length_includes_padding: bool,
) -> None:
    data = playback_gop(
        pictures,
        chunk=chunk,
        camera=camera_tlvs() if camera else b"",
        per_picture_camera=camera_tlvs() if per_picture_camera else b"",
        length_mode=length_mode,
        length_includes_padding=length_includes_padding,
    )
    gop = parse_playback_gop(data)
    assert [p.data for p in gop.pictures] == pictures
    assert (gop.camera is not None) == camera
    assert gop.recorder.camera == 2


@pytest.mark.parametrize(("codec_byte", "codec"), [(0, AudioCodec.G726), (1, AudioCodec.G711)])
def test_g7xx_audio(codec_byte: int, codec: AudioCodec) -> None:
    samples = bytes(range(256)) * 31
    audio = parse_playback_audio(g7xx_audio(samples, camera=12, codec=codec_byte))
    assert audio.codec is codec
    assert audio.camera == 12
    assert audio.start == T0
    assert audio.end == T0 + timedelta(seconds=1)
    assert audio.frames == (samples,)


def test_g7xx_audio_empty() -> None:
    data = bytearray(g7xx_audio(b""))
    struct.pack_into(">I", data, 4, 0)
    assert parse_playback_audio(bytes(data)).frames == ()


FRAMES = [bytes((0x21, 0x10, n)) + bytes(range(n * 3 % 50)) for n in range(1, 9)]


@pytest.mark.parametrize("mode", ["whole", "after_header", "body", "frame"])
@pytest.mark.parametrize("frames_at", [64, 68, 72])
def test_aac_audio_length_readings(mode: str, frames_at: int) -> None:
    audio = parse_playback_audio(aac_audio(FRAMES, mode=mode, frames_at=frames_at, camera=5))
    assert audio.codec is AudioCodec.AAC_LC
    assert audio.camera == 5
    assert audio.start == T0
    assert audio.end == T0 + timedelta(seconds=1)
    assert list(audio.frames) == FRAMES


def test_aac_audio_with_au_headers() -> None:
    audio = parse_playback_audio(aac_audio(FRAMES[:3], au_header=True))
    assert list(audio.frames) == FRAMES[:3]


def test_aac_audio_without_frames() -> None:
    assert parse_playback_audio(aac_audio([])).frames == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\x03" + bytes(10), "shorter than its header"),
        (b"\xff\x99" + bytes(100), "does not start with an audio header"),
        (g7xx_audio(b"abc", codec=2), "unknown codec 2"),
        (g7xx_audio(b"abc")[:64] + b"\x00a", "shorter than it announces"),
        (aac_audio(FRAMES[:1])[:8] + bytes(100), "no time block"),
        (aac_audio(FRAMES[:2])[:68] + aac_frame(FRAMES[0])[:6], "unknown layout"),
        (
            aac_audio(FRAMES[:2])[:68] + b"\xff\x14\x00\x01" + bytes(4) + b"junkjunk",
            "unknown layout",
        ),
        (aac_audio(FRAMES[:2])[:68] + aac_frame(FRAMES[0]) + b"junk", "unknown layout"),
    ],
)
def test_audio_garbage(data: bytes, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_playback_audio(data)


def test_aac_audio_with_data_but_no_frames() -> None:
    data = bytearray(aac_audio([]))
    struct.pack_into(">I", data, 4, 8)
    data[68:76] = b"notaframe"[:8]
    with pytest.raises(IproProtocolError, match="has no frames"):
        parse_playback_audio(bytes(data))


_AAC = st.binary(min_size=1, max_size=120).map(lambda b: bytes(x & 0x7F for x in b))


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(_AAC, max_size=10),
    mode=st.sampled_from(["whole", "after_header", "body", "frame"]),
    frames_at=st.sampled_from([64, 68, 72]),
    au_header=st.booleans(),
)
def test_aac_round_trip(frames: list[bytes], mode: str, frames_at: int, au_header: bool) -> None:
    data = aac_audio(frames, mode=mode, frames_at=frames_at, au_header=au_header)
    assert list(parse_playback_audio(data).frames) == frames

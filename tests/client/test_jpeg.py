"""Live JPEG parts: information chunks, then the real JPEG."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.ipro_nvr.aioipro import IproProtocolError, RecorderInfo, parse_live_jpeg

from .parser_builders import camera_tlvs, fake_jpeg, info_chunk, recorder_tlvs


def test_recorder_and_camera_chunks() -> None:
    jpeg = fake_jpeg()
    frame = parse_live_jpeg(info_chunk(recorder_tlvs(camera=9)) + info_chunk(camera_tlvs()) + jpeg)
    assert frame.jpeg == jpeg
    assert frame.recorder.camera == 9
    assert frame.recorder.time is not None
    assert frame.camera is not None
    assert frame.camera.camera_frame_time_ms == 70


def test_recorder_chunk_only() -> None:
    jpeg = fake_jpeg(10)
    frame = parse_live_jpeg(info_chunk(recorder_tlvs(camera=1)) + jpeg)
    assert frame.jpeg == jpeg
    assert frame.recorder.camera == 1
    assert frame.camera is None


def test_plain_jpeg() -> None:
    jpeg = fake_jpeg(3)
    frame = parse_live_jpeg(jpeg)
    assert frame.jpeg == jpeg
    assert frame.recorder == RecorderInfo()
    assert frame.camera is None


@pytest.mark.parametrize("extra", [0, 2, 6])
def test_other_length_readings(extra: int) -> None:
    """Lengths of the TLVs alone (0), self-counting (2), marker counted too (6)."""
    tlvs = recorder_tlvs(camera=4)
    jpeg = fake_jpeg()
    frame = parse_live_jpeg(info_chunk(tlvs, length=len(tlvs) + extra) + jpeg)
    assert frame.recorder.camera == 4
    assert frame.jpeg == jpeg


def comment_chunk(tlvs: bytes) -> bytes:
    return b"\xff\xd8\xff\xfe" + info_chunk(tlvs)[4:]


def test_comment_marker_chunks() -> None:
    """``FFD8 FFFE`` chunks (the spec's "0xFFFFE") are information when shaped like it."""
    jpeg = fake_jpeg()
    frame = parse_live_jpeg(
        comment_chunk(recorder_tlvs(camera=6)) + comment_chunk(camera_tlvs()) + jpeg
    )
    assert frame.recorder.camera == 6
    assert frame.camera is not None
    assert frame.jpeg == jpeg


def test_jpeg_with_a_real_comment() -> None:
    commented = b"\xff\xd8\xff\xfe\x00\x07hello\xff\xdb" + fake_jpeg()[4:]
    plain = parse_live_jpeg(commented)
    assert plain.jpeg == commented
    assert plain.recorder == RecorderInfo()
    after_info = parse_live_jpeg(info_chunk(recorder_tlvs(camera=2)) + commented)
    assert after_info.jpeg == commented
    assert after_info.camera is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not a JPEG"),
        (b"GIF89a", "not a JPEG"),
        (b"\xff\xd8\xff\xff\x00", "cut information chunk"),
        (info_chunk(recorder_tlvs(), length=9) + fake_jpeg(), "does not fit"),
        (info_chunk(b"\x00\x04\x00\x02") + fake_jpeg(), "does not fit"),
        (info_chunk(recorder_tlvs()), "does not fit"),
        (info_chunk(recorder_tlvs()) + b"\xff\xd8", "without a JPEG"),
        (b"\xff\xd8", "without a JPEG"),
    ],
)
def test_garbage(body: bytes, message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_live_jpeg(body)


@settings(max_examples=200, deadline=None)
@given(camera=st.integers(0, 0xFFFF), with_camera=st.booleans(), size=st.integers(0, 300))
def test_round_trip(camera: int, with_camera: bool, size: int) -> None:
    jpeg = fake_jpeg(size)
    body = info_chunk(recorder_tlvs(camera=camera))
    if with_camera:
        body += info_chunk(camera_tlvs())
    frame = parse_live_jpeg(body + jpeg)
    assert frame.jpeg == jpeg
    assert frame.recorder.camera == camera
    assert (frame.camera is not None) == with_camera

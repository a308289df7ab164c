"""Fuzzing of the parsers tests/client/test_fuzz.py does not reach, and of their invariants.

Every function that reads bytes or text from the NVR (or from the store) may raise the
client's typed errors and nothing else, never hang, and keep its promises: the multipart
reader never returns a part over its limit however the bytes are chunked, a device file
name never leaves its folder, a restream clock never goes backwards.

Budget: ``IPRO_FUZZ_EXAMPLES`` examples per test (default 100, so CI stays fast); a
longer local run is ``IPRO_FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/reliability -k fuzz``.
Atheris does not install on Python 3.14, so hypothesis does all of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import itertools
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.ipro_nvr.aioipro.download import safe_file_name
from custom_components.ipro_nvr.aioipro.errors import IproCodecError, IproProtocolError
from custom_components.ipro_nvr.aioipro.livemedia import is_placeholder, jpeg_size
from custom_components.ipro_nvr.aioipro.models import VideoCodec
from custom_components.ipro_nvr.aioipro.multipart import (
    boundary_from_content_type,
    iter_parts,
)
from custom_components.ipro_nvr.aioipro.muxer import (
    aac_channels,
    adts_frame,
    detect_codec,
    inspect_keyframe,
    is_adts,
)
from custom_components.ipro_nvr.aioipro.restream import _Timeline
from custom_components.ipro_nvr.aioipro.text import (
    camera_from_kind,
    decode_text,
    is_login_page,
    parse_hdd_info,
    parse_key_values,
    parse_zone,
)
from custom_components.ipro_nvr.logs import LogTracker

EXAMPLES = int(os.environ.get("IPRO_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PART_LIMIT = 64


class ChunkedReader:
    """Hands the bytes out in the chunk sizes hypothesis picked, then ``b""``."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = data
        self._sizes = sizes or [len(data) or 1]
        self._turn = 0

    async def read(self, n: int = -1, /) -> bytes:
        size = min(self._sizes[self._turn % len(self._sizes)], n if n > 0 else len(self._data))
        self._turn += 1
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk


def multipart(parts: list[tuple[bytes, bool]], boundary: bytes = b"myboundary") -> bytes:
    """A multipart stream; each part with or without a Content-Length."""
    out = b""
    for body, with_length in parts:
        length = b"Content-Length: %d\r\n" % len(body) if with_length else b""
        out += b"--" + boundary + b"\r\nContent-Type: image/jpeg\r\n" + length + b"\r\n"
        out += body + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


@st.composite
def multipart_streams(draw: st.DrawFn) -> bytes:
    """Valid multipart streams, then a few bytes changed, cut or appended."""
    parts = draw(st.lists(st.tuples(st.binary(max_size=80), st.booleans()), max_size=5))
    data = bytearray(multipart(parts))
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.sampled_from([0x0D, 0x0A, 0x2D, 0x3A, 0x30, 0x39, 0xFF]))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=20))


async def _parts(data: bytes, sizes: list[int]) -> list[bytes]:
    reader = ChunkedReader(data, sizes)
    return [part.body async for part in iter_parts(reader, "myboundary", max_part_size=PART_LIMIT)]


@FUZZ
@given(
    data=st.one_of(multipart_streams(), st.binary(max_size=400)),
    sizes=st.lists(st.integers(1, 64), max_size=8),
)
def test_fuzz_multipart_reader(data: bytes, sizes: list[int]) -> None:
    try:
        bodies = asyncio.run(asyncio.wait_for(_parts(data, sizes), 5))
    except IproProtocolError:
        return
    assert all(len(body) <= PART_LIMIT for body in bodies)


@FUZZ
@given(parts=st.lists(st.binary(max_size=60), max_size=4), sizes=st.lists(st.integers(1, 32)))
def test_fuzz_multipart_round_trip_in_any_chunks(parts: list[bytes], sizes: list[int]) -> None:
    data = multipart([(body, True) for body in parts])
    assert asyncio.run(_parts(data, sizes)) == parts


@FUZZ
@given(value=st.one_of(st.none(), st.text(max_size=80)))
def test_fuzz_boundary_from_content_type(value: str | None) -> None:
    boundary = boundary_from_content_type(value)
    assert boundary
    assert not boundary.startswith("--")


TEXT_FUNCTIONS: list[Callable[[str], object]] = [
    parse_key_values,
    is_login_page,
    camera_from_kind,
    parse_zone,
    lambda text: parse_hdd_info(text, ZoneInfo("Europe/Berlin")),
]
_NVR_TEXT = st.text(
    st.sampled_from(list("MAIN-1EXT,GB(R)./:0123456789 .....\r\n<HTML>=GMT+-CAM SITE")),
    max_size=200,
)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), _NVR_TEXT), index=st.integers(0, 4))
def test_fuzz_text_functions(text: str, index: int) -> None:
    with contextlib.suppress(IproProtocolError):
        result = TEXT_FUNCTIONS[index](text)
        if index == 2 and result is not None:
            assert isinstance(result, int)
            assert 1 <= result <= 128


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_byte_helpers(data: bytes) -> None:
    decode_text(data)
    is_login_page(data)
    size = jpeg_size(data)
    assert size is None or all(0 <= side < 65536 for side in size)
    is_placeholder(data)
    assert aac_channels(data) in (None, 1, 2)
    is_adts(data)
    for codec in (VideoCodec.H264, VideoCodec.H265):
        info = inspect_keyframe(codec, data)
        assert all(nal in data for nal in info.parameter_sets)
    assert detect_codec(data) in (None, VideoCodec.H264, VideoCodec.H265)


@settings(max_examples=max(10, EXAMPLES // 10), deadline=None)
@given(data=st.binary(max_size=200), h265=st.booleans())
def test_fuzz_keyframe_decoding(data: bytes, h265: bool) -> None:
    from custom_components.ipro_nvr.aioipro.livemedia import keyframe_to_jpeg  # noqa: PLC0415
    from custom_components.ipro_nvr.aioipro.playback_stream import (  # noqa: PLC0415
        picture_size,
    )
    from custom_components.ipro_nvr.aioipro.restream import Keyframe  # noqa: PLC0415

    codec = VideoCodec.H265 if h265 else VideoCodec.H264
    with contextlib.suppress(IproCodecError):
        keyframe_to_jpeg(Keyframe(codec=codec, data=data, number=1))
    with contextlib.suppress(IproProtocolError):
        picture_size(codec, data)


@FUZZ
@given(name=st.text(max_size=300))
def test_fuzz_device_file_names_stay_in_the_folder(name: str, tmp_path_factory: Any) -> None:
    folder = Path("/srv/clips")
    try:
        safe = safe_file_name(name)
    except IproProtocolError:
        return
    assert (folder / safe).parent == folder
    assert safe not in (".", "..")
    assert not safe.startswith(".")
    assert "/" not in safe
    assert "\\" not in safe
    assert len(safe.encode()) <= 255


_ROW = st.lists(
    st.one_of(st.text(max_size=10), st.booleans(), st.integers(-3, 3), st.none()), max_size=6
)


@FUZZ
@given(rows=st.one_of(st.none(), st.lists(_ROW, max_size=6)))
def test_fuzz_stored_log_state(rows: list[list[object]] | None) -> None:
    tracker = LogTracker.from_json(rows)
    stored = tracker.as_json()
    assert LogTracker.from_json(stored).as_json() == stored


@FUZZ
@given(
    stamps=st.lists(
        st.one_of(st.integers(0, 2**32 - 1), st.integers(-2000, 6000)), min_size=1, max_size=40
    ),
    losses=st.lists(st.booleans(), max_size=40),
)
def test_fuzz_restream_clock_never_goes_back(stamps: list[int], losses: list[bool]) -> None:
    timeline = _Timeline()
    now = 0.0
    out = [timeline.start(stamps[0] & 0xFFFFFFFF, now)]
    for index, stamp in enumerate(stamps[1:]):
        now += 0.04
        rtp = stamp & 0xFFFFFFFF
        if index < len(losses) and losses[index]:
            timeline.lost(now)
            now += 0.5
            out.append(timeline.start(rtp, now))
        else:
            out.append(timeline.next(rtp))
    assert all(a < b for a, b in itertools.pairwise(out))


@FUZZ
@given(size=st.integers(0, 20_000), channels=st.sampled_from([1, 2]))
def test_fuzz_adts_length_is_exact_or_refused(size: int, channels: int) -> None:
    try:
        framed = adts_frame(bytes(size), channels)
    except IproProtocolError:
        assert size + 7 > 0x1FFF
        return
    length = ((framed[3] & 0x03) << 11) | (framed[4] << 3) | (framed[5] >> 5)
    assert length == len(framed) == size + 7

"""Real H.264/H.265/AAC made with PyAV, and decoding of restream URLs, for restream tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from itertools import pairwise
from typing import cast

import av
import numpy as np

from custom_components.ipro_nvr.aioipro.models import (
    AccessUnit,
    AudioCodec,
    AudioFrame,
    VideoCodec,
)
from custom_components.ipro_nvr.aioipro.muxer import adts_frame

FRAME_TICKS = 3000  # 30 fps at 90 kHz
GOP = 15
_ENCODERS = {VideoCodec.H264: "libx264", VideoCodec.H265: "libx265"}


@cache
def encoded_video(codec: VideoCodec, frames: int = 60) -> tuple[tuple[bytes, bool], ...]:
    """Return ``frames`` Annex B access units of a moving 160x120 picture, GOP 15, no B."""
    encoder = cast(av.VideoCodecContext, av.CodecContext.create(_ENCODERS[codec], "w"))
    encoder.width, encoder.height, encoder.pix_fmt = 160, 120, "yuv420p"
    encoder.time_base = Fraction(1, 90000)
    encoder.framerate = Fraction(30)
    encoder.gop_size = GOP
    if codec is VideoCodec.H264:
        encoder.options = {"preset": "ultrafast", "bf": "0", "sc_threshold": "0"}
    else:
        encoder.options = {
            "preset": "ultrafast",
            "x265-params": f"bframes=0:keyint={GOP}:min-keyint={GOP}:scenecut=0:log-level=error",
        }
    units: list[tuple[bytes, bool]] = []
    for index in range(frames):
        picture = np.zeros((120, 160, 3), dtype=np.uint8)
        picture[:, (index * 4) % 160 :] = (200, 80, 40)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index * FRAME_TICKS
        frame.time_base = encoder.time_base
        units.extend((bytes(packet), packet.is_keyframe) for packet in encoder.encode(frame))
    units.extend((bytes(packet), packet.is_keyframe) for packet in encoder.encode(None))
    return tuple(units)


@cache
def encoded_audio(frames: int = 100, layout: str = "mono") -> tuple[bytes, ...]:
    """Return raw (not ADTS) 48 kHz AAC-LC frames of a tone, as the NVR sends them."""
    encoder = av.AudioCodecContext.create("aac", "w")
    encoder.sample_rate = 48000
    encoder.layout = layout
    encoder.format = "fltp"
    encoder.bit_rate = 64000
    channels = 1 if layout == "mono" else 2
    out: list[bytes] = []
    for index in range(frames):
        samples = np.sin(np.arange(1024, dtype=np.float32) * 0.05 + index) * 0.3
        frame = av.AudioFrame.from_ndarray(
            np.tile(samples.astype(np.float32), (channels, 1)), format="fltp", layout=layout
        )
        frame.sample_rate = 48000
        frame.pts = index * 1024
        out.extend(bytes(packet) for packet in encoder.encode(frame))
    return tuple(out)


@dataclass
class FakeSource:
    """A ``LiveSource`` that plays encoded units in a loop, paced like a camera.

    ``start`` is the unit to join at (mid-GOP by default, as the NVR does), ``limit`` ends
    a connection after that many units (a dropped NVR connection), ``label`` overrides
    the codec the units claim to be, ``filler`` pads H.264 units with a filler NAL (to
    make a high bit rate that decoders ignore), ``adts`` frames the audio already,
    ``close_delay`` makes leaving the stream take time.
    """

    codec: VideoCodec = VideoCodec.H264
    start: int = 5
    limit: int | None = None
    interval: float = 0.002
    audio_frames: bool = True
    label: VideoCodec | None = None
    filler: int = 0
    audio_codec: AudioCodec = AudioCodec.AAC_LC
    adts: bool = False
    close_delay: float = 0.0
    first_timestamp: int = 0xFFFFFFFF - 20 * FRAME_TICKS
    opened: list[tuple[int, VideoCodec, bool]] = field(default_factory=list)
    closed: int = 0
    failures: list[BaseException] = field(default_factory=list)

    @asynccontextmanager
    async def __call__(
        self, camera: int, codec: VideoCodec, *, audio: bool = False
    ) -> AsyncIterator[AsyncIterator[AccessUnit | AudioFrame]]:
        self.opened.append((camera, codec, audio))
        if self.failures:
            raise self.failures.pop(0)
        try:
            yield self._items(audio=audio)
        finally:
            await asyncio.sleep(self.close_delay)  # the NVR's STOP request
            self.closed += 1

    async def _items(self, *, audio: bool) -> AsyncIterator[AccessUnit | AudioFrame]:
        units = encoded_video(self.codec)
        sounds = encoded_audio()
        timestamp = self.first_timestamp + (len(self.opened) - 1) * 7_777_777
        sent = 0
        index = self.start
        sound = 0
        first_keyframe = True
        while self.limit is None or sent < self.limit:
            data, keyframe = units[index % len(units)]
            if self.filler:
                data += b"\x00\x00\x01\x0c" + b"\xff" * self.filler + b"\x80"
            if keyframe and first_keyframe:
                sound = 0  # the encoder's priming (fill) frame follows the first keyframe
                first_keyframe = False
            yield AccessUnit(
                codec=self.label or self.codec,
                data=data,
                timestamp=timestamp & 0xFFFFFFFF,
                keyframe=keyframe,
                info=None,
            )
            if audio and self.audio_frames and index % 2:
                for _ in range(3):  # 3 AAC frames (60 ms) per 2 video frames (66 ms)
                    payload = sounds[sound % len(sounds)]
                    if self.adts:
                        payload = adts_frame(payload, 1)
                    yield AudioFrame(codec=self.audio_codec, data=payload, timestamp=None)
                    sound += 1
            timestamp += FRAME_TICKS
            index += 1
            sent += 1
            await asyncio.sleep(self.interval)


@dataclass
class Decoded:
    """What a viewer decoded from a restream URL."""

    codec: str
    video: list[int] = field(default_factory=list)
    audio: list[int] = field(default_factory=list)
    audio_codec: str | None = None


def decode(url: str, frames: int, *, audio: bool = False, timeout: float = 20) -> Decoded:
    """Open ``url`` like a player and decode ``frames`` video frames (and audio)."""
    with av.open(url, timeout=timeout) as container:
        video = container.streams.video[0]
        wanted: list[av.stream.Stream] = [video]
        result = Decoded(codec=video.codec_context.name)
        if audio:
            sound = container.streams.audio[0]
            result.audio_codec = sound.codec_context.name
            wanted.append(sound)
        for packet in container.demux(wanted):
            for frame in packet.decode():
                if isinstance(frame, av.AudioFrame) and frame.pts is not None:
                    result.audio.append(frame.pts)
                elif isinstance(frame, av.VideoFrame) and frame.pts is not None:
                    result.video.append(frame.pts)
            if len(result.video) >= frames and (not audio or len(result.audio) >= frames):
                break
    return result


async def decode_async(url: str, frames: int, *, audio: bool = False) -> Decoded:
    """Decode in a worker thread, as a real player would not block the event loop."""
    return await asyncio.to_thread(decode, url, frames, audio=audio)


def increasing(values: Sequence[int]) -> bool:
    """Return whether values strictly increase."""
    return all(a < b for a, b in pairwise(values))


async def wait_for(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``within`` seconds."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still false after {within} s")


def keyframes(units: Iterable[tuple[bytes, bool]]) -> list[int]:
    """Return the indexes of the keyframes."""
    return [index for index, (_, key) in enumerate(units) if key]

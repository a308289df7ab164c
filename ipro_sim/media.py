"""Real media for the simulator, encoded once with PyAV and looped.

A short test pattern (a moving bar and the frame's place in the loop drawn as digits) is
encoded once per codec and size, cached for the whole process, and looped with continuing
timestamps: every GOP is closed (IDR with parameter sets), so any GOP can follow any
other. The same loop feeds live streams, playback and downloads, which keeps start-up
fast whatever the recording length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import fractions
import io
import threading
from typing import Any, cast

import av
from av.audio.codeccontext import AudioCodecContext
from av.video.codeccontext import VideoCodecContext
import numpy as np
from numpy.typing import NDArray

from .config import AudioCodecName, VideoCodecName
from .encoders import adts_header, split_annexb

_FONT = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    ".": ("000", "000", "000", "000", "010"),
    ":": ("000", "010", "000", "010", "000"),
}

AAC_SAMPLE_RATE = 48000
G7XX_SAMPLE_RATE = 8000
PLACEHOLDER_SIZE = (39, 37)


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One coded picture: Annex B bytes (or a JPEG) and its NAL units."""

    data: bytes
    nals: tuple[bytes, ...]
    keyframe: bool


@dataclass(frozen=True, slots=True)
class VideoClip:
    """A loop of closed GOPs; frame ``k`` of the timeline is ``frames[k % len(frames)]``."""

    codec: VideoCodecName
    width: int
    height: int
    fps: int
    gop_frames: int
    frames: tuple[EncodedFrame, ...]

    def frame(self, index: int) -> EncodedFrame:
        """The picture shown at timeline frame ``index``."""
        return self.frames[index % len(self.frames)]


@dataclass(frozen=True, slots=True)
class AudioClip:
    """A loop of coded audio frames of ``samples_per_frame`` samples each."""

    codec: AudioCodecName
    sample_rate: int
    samples_per_frame: int
    frames: tuple[bytes, ...]

    @property
    def frame_duration(self) -> float:
        """Seconds one frame lasts."""
        return self.samples_per_frame / self.sample_rate

    def frame(self, index: int) -> bytes:
        """The frame played at timeline frame ``index``."""
        return self.frames[index % len(self.frames)]


def draw_text(image: NDArray[np.uint8], text: str, x: int, y: int, scale: int) -> None:
    """Draw ``text`` in white with a 3x5 pixel font scaled by ``scale``."""
    for char in text:
        rows = _FONT.get(char)
        if rows is not None:
            for row, bits in enumerate(rows):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        top = y + row * scale
                        left = x + col * scale
                        image[top : top + scale, left : left + scale] = 255
        x += 4 * scale


def pattern(index: int, total: int, fps: int, width: int, height: int) -> NDArray[np.uint8]:
    """RGB test picture ``index`` of ``total``: a moving bar and ``seconds.frame``."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :, 2] = np.linspace(40, 140, width, dtype=np.uint8)[None, :]
    bar = max(4, width // 16)
    left = (index * (width - bar)) // max(1, total - 1)
    image[:, left : left + bar, 0] = 230
    image[:, left : left + bar, 1] = 200
    scale = max(1, height // 40)
    draw_text(image, f"{index // fps:02d}.{index % fps:02d}", scale * 2, scale * 2, scale)
    return image


@dataclass(frozen=True, slots=True)
class ClipKey:
    """What makes two encoded video clips the same."""

    codec: VideoCodecName
    width: int
    height: int
    fps: int
    gop_frames: int
    gops: int


def strip_comment(jpeg: bytes) -> bytes:
    """Drop the encoder's COM segment right after SOI, as camera JPEGs have none."""
    if jpeg[2:4] == b"\xff\xfe":
        length = int.from_bytes(jpeg[4:6])
        return jpeg[:2] + jpeg[4 + length :]
    return jpeg


def _video_context(key: ClipKey) -> VideoCodecContext:
    """A PyAV encoder for one of the three video codecs, opened on first use."""
    name = {"H264": "libx264", "H265": "libx265", "JPEG": "mjpeg"}[key.codec]
    codec, width, height, fps, gop = key.codec, key.width, key.height, key.fps, key.gop_frames
    context = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    context.width = width
    context.height = height
    context.time_base = fractions.Fraction(1, fps)
    context.framerate = fractions.Fraction(fps, 1)
    if codec == "JPEG":
        context.pix_fmt = "yuvj420p"
        return context
    context.pix_fmt = "yuv420p"
    context.gop_size = gop
    context.max_b_frames = 0
    common = f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1:aud=1"
    if codec == "H264":
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": common,
        }
    else:
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": f"{common}:bframes=0:open-gop=0:log-level=error",
        }
    return context


def encode_video(key: ClipKey) -> VideoClip:
    """Encode ``key.gops`` closed GOPs of the test pattern."""
    context = _video_context(key)
    codec, width, height, fps = key.codec, key.width, key.height, key.fps
    total = key.gop_frames * key.gops
    packets: list[Any] = []
    for index in range(total):
        frame = av.VideoFrame.from_ndarray(pattern(index, total, fps, width, height), "rgb24")
        frame = frame.reformat(format=context.pix_fmt)
        frame.pts = index
        packets += context.encode(frame)
    packets += context.encode(None)
    frames = []
    for packet in packets:
        data = strip_comment(bytes(packet)) if codec == "JPEG" else bytes(packet)
        nals = () if codec == "JPEG" else tuple(split_annexb(data))
        frames.append(EncodedFrame(data=data, nals=nals, keyframe=bool(packet.is_keyframe)))
    return VideoClip(
        codec=codec,
        width=width,
        height=height,
        fps=fps,
        gop_frames=key.gop_frames,
        frames=tuple(frames),
    )


def encode_placeholder() -> bytes:
    """The 39x37 grey JPEG a camera without a JPEG stream answers ``COMP=JPEG`` with."""
    width, height = PLACEHOLDER_SIZE
    context = av.CodecContext.create("mjpeg", "w")
    context.width = width
    context.height = height
    context.pix_fmt = "yuvj420p"
    context.time_base = fractions.Fraction(1, 1)
    image = np.full((height, width, 3), 96, dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(image, "rgb24").reformat(format="yuvj420p")
    frame.pts = 0
    packets = list(context.encode(frame)) + list(context.encode(None))
    return strip_comment(bytes(packets[0]))


def _tone(sample_rate: int, samples: int) -> NDArray[np.float64]:
    """A 1 kHz beep for the first quarter of the loop, then silence."""
    t = np.arange(samples) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 1000 * t)
    tone[samples // 4 :] = 0.0
    return tone


def encode_audio(codec: AudioCodecName) -> AudioClip:
    """Encode about one second of audio: AAC-LC 48 kHz, G.726-32k or G.711 u-law 8 kHz."""
    if codec == "AAC-LC":
        name, rate, fmt, chunk, bit_rate = "aac", AAC_SAMPLE_RATE, "fltp", 1024, 64000
    elif codec == "G.726":
        name, rate, fmt, chunk, bit_rate = "g726", G7XX_SAMPLE_RATE, "s16", 2048, 32000
    else:
        name, rate, fmt, chunk, bit_rate = "pcm_mulaw", G7XX_SAMPLE_RATE, "s16", 160, 0
    context = cast(AudioCodecContext, av.CodecContext.create(name, "w"))
    context.sample_rate = rate
    context.format = fmt
    context.layout = "mono"
    context.time_base = fractions.Fraction(1, rate)
    if bit_rate:
        context.bit_rate = bit_rate
    frames_in = -(-rate // chunk)
    pcm = _tone(rate, frames_in * chunk)
    packets: list[Any] = []
    for index in range(frames_in):
        part = pcm[index * chunk : (index + 1) * chunk].reshape(1, -1)
        if fmt == "fltp":
            frame = av.AudioFrame.from_ndarray(
                part.astype(np.float32), format="fltp", layout="mono"
            )
        else:
            samples = (part * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = index * chunk
        packets += context.encode(frame)
    packets += context.encode(None)
    if codec == "AAC-LC":
        return AudioClip(
            codec=codec,
            sample_rate=rate,
            samples_per_frame=1024,
            frames=tuple(bytes(packet) for packet in packets),
        )
    stream = b"".join(bytes(packet) for packet in packets)
    # G.726-32 packs two samples a byte, G.711 one: cut 32 ms and 20 ms frames.
    step = 128 if codec == "G.726" else 160
    samples_per_frame = 256 if codec == "G.726" else 160
    usable = len(stream) - len(stream) % step
    return AudioClip(
        codec=codec,
        sample_rate=rate,
        samples_per_frame=samples_per_frame,
        frames=tuple(stream[pos : pos + step] for pos in range(0, usable, step)),
    )


class MediaLibrary:
    """Process-wide cache of encoded clips, shared by every simulator in the process."""

    _lock = threading.Lock()
    _video: dict[ClipKey, VideoClip] = {}  # noqa: RUF012
    _audio: dict[str, AudioClip] = {}  # noqa: RUF012
    _placeholder: bytes | None = None

    @classmethod
    def video(cls, key: ClipKey) -> VideoClip:
        """The cached clip for ``key``, encoding it on first use."""
        with cls._lock:
            clip = cls._video.get(key)
            if clip is None:
                clip = encode_video(key)
                cls._video[key] = clip
            return clip

    @classmethod
    def audio(cls, codec: AudioCodecName) -> AudioClip:
        """The cached audio loop of a codec."""
        with cls._lock:
            clip = cls._audio.get(codec)
            if clip is None:
                clip = encode_audio(codec)
                cls._audio[codec] = clip
            return clip

    @classmethod
    def placeholder(cls) -> bytes:
        """The cached 39x37 placeholder JPEG."""
        with cls._lock:
            if cls._placeholder is None:
                cls._placeholder = encode_placeholder()
            return cls._placeholder


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """A picture or audio frame placed on the recording timeline (epoch seconds)."""

    time: float
    data: bytes
    keyframe: bool = True


def build_mp4(
    clip: VideoClip,
    video: Sequence[TimedFrame],
    audio_clip: AudioClip | None,
    audio: Sequence[TimedFrame],
) -> bytes:
    """Mux already coded frames into an MP4 (``ftyp`` first) without re-encoding.

    The stream parameters come from demuxing the clip's first GOP (and, for AAC, an
    ADTS rendering of the audio loop), so the muxer writes proper avcC/hvcC/esds boxes.
    """
    origin = video[0].time
    first_gop = b"".join(frame.data for frame in clip.frames[: clip.gop_frames])
    video_source = av.open(io.BytesIO(first_gop), format="h264" if clip.codec == "H264" else "hevc")
    audio_source = None
    if audio_clip is not None and audio:
        adts = b"".join(adts_header(len(frame), 3, 1) + frame for frame in audio_clip.frames)
        audio_source = av.open(io.BytesIO(adts), format="aac")
    buffer = io.BytesIO()
    try:
        with av.open(buffer, "w", format="mp4") as output:
            video_stream = output.add_stream_from_template(video_source.streams.video[0])
            video_stream.time_base = fractions.Fraction(1, 90000)
            audio_stream = None
            if audio_source is not None:
                audio_stream = output.add_stream_from_template(audio_source.streams.audio[0])
                audio_stream.time_base = fractions.Fraction(1, AAC_SAMPLE_RATE)
            pending: list[tuple[float, Any, TimedFrame]] = [
                (frame.time, video_stream, frame) for frame in video
            ]
            if audio_stream is not None:
                pending += [(frame.time, audio_stream, frame) for frame in audio]
            pending.sort(key=lambda item: item[0])
            for when, stream, frame in pending:
                packet = av.Packet(frame.data)
                rate = 90000 if stream is video_stream else AAC_SAMPLE_RATE
                packet.pts = packet.dts = round((when - origin) * rate)
                packet.time_base = stream.time_base
                packet.stream = stream
                packet.is_keyframe = frame.keyframe
                output.mux(packet)
    finally:
        video_source.close()
        if audio_source is not None:
            audio_source.close()
    return buffer.getvalue()

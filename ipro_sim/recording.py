"""The simulated recording: every registered camera records the looped clip continuously.

Time is epoch seconds (UTC). Frame ``k`` of a camera was captured at ``k / fps`` and
shows clip frame ``k % len(clip)``; GOPs are aligned on the epoch, so GOP ``g`` covers
``[g * gop_seconds, (g + 1) * gop_seconds)``. Recording runs from ``start`` (a few days
before boot) up to now.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time

from .config import SimulatorConfig, VideoCodecName
from .encoders import (
    AUDIO_CODEC_G711,
    AUDIO_CODEC_G726,
    CHUNK_H264,
    CHUNK_H265,
    COMPRESSION_H264,
    COMPRESSION_H265,
    GopInfo,
    PlaybackPicture,
    TimeZone,
    camera_tlvs,
    playback_audio_aac,
    playback_audio_g7xx,
    playback_gop,
    playback_recorder_tlvs,
)
from .media import AudioClip, ClipKey, MediaLibrary, TimedFrame, VideoClip, build_mp4
from .state import CameraTable


@dataclass(frozen=True, slots=True)
class Unit:
    """A playback unit: one GOP (H.264/H.265) or one JPEG picture."""

    index: int
    pictures: tuple[TimedFrame, ...]


class Recording:
    """Frames, GOPs and audio of the simulated recording of each camera."""

    def __init__(
        self, config: SimulatorConfig, tz: TimeZone, boot: float, cameras: CameraTable
    ) -> None:
        self.config = config
        self.tz = tz
        self.cameras = cameras
        gop = config.gop_seconds
        self.start = math.floor((boot - config.recording_days * 86400) / gop) * gop

    def recorded(self, camera: int) -> bool:
        """Whether the camera has a recording at all (it is registered)."""
        return self.cameras.status(camera) != 0

    def codec(self, camera: int) -> VideoCodecName:
        """The recorded video codec."""
        return self.config.codec_of(camera)

    def clip_key(self, codec: VideoCodecName) -> ClipKey:
        """The clip parameters of this configuration for ``codec``."""
        config = self.config
        return ClipKey(
            codec=codec,
            width=config.width,
            height=config.height,
            fps=config.fps,
            gop_frames=config.fps * config.gop_seconds,
            gops=config.clip_gops,
        )

    def clip(self, camera: int) -> VideoClip:
        """The looped clip this camera records."""
        return MediaLibrary.video(self.clip_key(self.codec(camera)))

    def jpeg_clip(self) -> VideoClip:
        """The JPEG loop of the cameras' JPEG streams."""
        return MediaLibrary.video(self.clip_key("JPEG"))

    def audio_clip(self, camera: int) -> AudioClip | None:
        """The looped audio this camera records, if it has audio."""
        if self.config.audio is None or not self.config.has_audio(camera):
            return None
        return MediaLibrary.audio(self.config.audio)

    def unit_seconds(self, camera: int) -> float:
        """Length of a playback unit: a GOP, or one frame for a JPEG camera."""
        if self.codec(camera) == "JPEG":
            return 1.0 / self.config.fps
        return float(self.config.gop_seconds)

    def unit_frames(self, camera: int) -> int:
        """Frames in a playback unit."""
        return 1 if self.codec(camera) == "JPEG" else self.config.fps * self.config.gop_seconds

    def unit_range(self, camera: int, now: float | None = None) -> tuple[int, int]:
        """First and last complete unit indexes recorded."""
        now = time.time() if now is None else now
        seconds = self.unit_seconds(camera)
        first = math.ceil(self.start / seconds - 1e-9)
        last = math.floor(now / seconds + 1e-9) - 1
        return first, max(first, last)

    def unit_index(self, camera: int, when: float) -> int:
        """The unit holding time ``when``, clamped to what was recorded."""
        first, last = self.unit_range(camera)
        index = math.floor(when / self.unit_seconds(camera) + 1e-9)
        return min(max(index, first), last)

    def unit(self, camera: int, index: int) -> Unit:
        """The pictures of one unit, with their capture times."""
        clip = self.clip(camera)
        count = self.unit_frames(camera)
        fps = self.config.fps
        pictures = []
        for offset in range(count):
            frame_index = index * count + offset
            frame = clip.frame(frame_index)
            pictures.append(TimedFrame(frame_index / fps, frame.data, frame.keyframe))
        return Unit(index=index, pictures=tuple(pictures))

    def gop_bytes(self, camera: int, unit: Unit, status: int, speed: int) -> bytes:
        """A ``camera.cgi`` answer for one unit (spec 3.3.1)."""
        codec = self.codec(camera)
        compression = {"H264": COMPRESSION_H264, "H265": COMPRESSION_H265}.get(codec)
        chunk = {"H264": CHUNK_H264, "H265": CHUNK_H265}.get(codec)
        pictures = [PlaybackPicture(frame.time, frame.data) for frame in unit.pictures]
        info = GopInfo(
            camera=camera,
            compression=compression,
            data_size=sum(len(picture.data) for picture in pictures),
            start=pictures[0].time,
            frame_count=len(pictures),
            fps=self.config.fps,
            status=status,
            speed=speed,
            has_idr=unit.pictures[0].keyframe,
        )
        camera_info = None
        if self.config.camera_info:
            camera_info = [camera_tlvs(picture.time, self.tz) for picture in pictures]
        return playback_gop(
            chunk_id=chunk,
            recorder=playback_recorder_tlvs(info, self.tz),
            camera=camera_info,
            pictures=pictures,
            tz=self.tz,
            jpeg_marker=self.config.jpeg_info_marker,
        )

    def video_frames(self, camera: int, begin: float, end: float) -> list[TimedFrame]:
        """Recorded frames from the GOP holding ``begin`` up to ``end`` (exclusive)."""
        now = time.time()
        begin = max(begin, self.start)
        end = min(end, now)
        if end <= begin:
            return []
        clip = self.clip(camera)
        fps = self.config.fps
        gop = self.unit_frames(camera)
        first = math.floor(begin * fps + 1e-9) // gop * gop
        last = math.ceil(end * fps - 1e-9)
        frames = []
        for index in range(first, last):
            frame = clip.frame(index)
            frames.append(TimedFrame(index / fps, frame.data, frame.keyframe))
        return frames

    def audio_frames(self, clip: AudioClip, begin: float, end: float) -> list[TimedFrame]:
        """Recorded frames of the audio loop ``clip`` starting in ``[begin, end)``."""
        now = time.time()
        begin = max(begin, self.start)
        end = min(end, now)
        duration = clip.frame_duration
        first = math.ceil(begin / duration - 1e-9)
        last = math.ceil(end / duration - 1e-9)
        return [TimedFrame(index * duration, clip.frame(index)) for index in range(first, last)]

    def audio_second(self, when: float) -> int:
        """The recorded second holding ``when``, clamped to what was recorded."""
        first = math.ceil(self.start)
        last = max(first, math.floor(time.time()) - 1)
        return min(max(math.floor(when), first), last)

    def audio_block(self, camera: int, second: int) -> bytes:
        """A ``playaudio.cgi`` answer: the audio of one recorded second (spec 3.3.2)."""
        clip = self.audio_clip(camera)
        assert clip is not None, "callers check the camera has audio"
        frames = [frame.data for frame in self.audio_frames(clip, second, second + 1)]
        if clip.codec == "AAC-LC":
            return playback_audio_aac(
                camera=camera, start=second, end=second + 1, frames=frames, tz=self.tz
            )
        return playback_audio_g7xx(
            camera=camera,
            codec=AUDIO_CODEC_G726 if clip.codec == "G.726" else AUDIO_CODEC_G711,
            start=second,
            end=second + 1,
            data=b"".join(frames),
            tz=self.tz,
        )

    def mp4(self, camera: int, begin: float, end: float, with_audio: bool) -> bytes:
        """A real MP4 of the recording in ``[begin, end)`` (H.264/H.265 cameras only)."""
        video = self.video_frames(camera, begin, end)
        clip = self.clip(camera)
        audio_clip = self.audio_clip(camera) if with_audio else None
        if audio_clip is not None and audio_clip.codec != "AAC-LC":
            audio_clip = None
        audio = self.audio_frames(audio_clip, video[0].time, end) if audio_clip else []
        return build_mp4(clip, video, audio_clip, audio)

    def n3(self, camera: int, begin: float, end: float) -> bytes:
        """Stand-in for the proprietary N3R format: the playback GOPs of the period."""
        frames = self.video_frames(camera, begin, end)
        count = self.unit_frames(camera)
        out = bytearray()
        for start in range(0, len(frames), count):
            pictures = tuple(frames[start : start + count])
            unit = Unit(index=start // count, pictures=pictures)
            out += self.gop_bytes(camera, unit, status=0x41, speed=0)
        return bytes(out)

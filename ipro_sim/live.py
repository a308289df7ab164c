"""Live stream generators: a frame clock and the packets of each picture.

Frames are due at ``k / rate`` on the wall clock (epoch-aligned, so every stream of a
camera shows the same picture at the same time). With ``realtime`` the generator sleeps
until each frame is due (``speed`` > 1 runs faster than wall time); without it frames come
as fast as the reader takes them, for benchmarks. The capture time goes into the RTP
timestamp (90 kHz for video, the sample rate for audio) and the 0x0007/0x000A TLVs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
import math
import random
import time

from .config import SimulatorConfig
from .encoders import (
    PT_AUDIO,
    PT_H264,
    PT_H265,
    TLV_CAM_FRAME_TIME,
    TLV_CAM_TIME,
    TimeZone,
    aac_au_header,
    camera_tlvs,
    live_jpeg_part,
    live_recorder_tlvs,
    packetize_h264,
    packetize_h265,
    rtp_packet,
    split_time,
    tlv_time,
    tlv_u16,
)
from .media import AudioClip, VideoClip

RTP_HEADER = 12
VIDEO_CLOCK = 90000


async def frame_ticks(
    rate: float, *, realtime: bool, speed: float, stopped: asyncio.Event
) -> AsyncIterator[tuple[int, float]]:
    """Yield ``(frame index, capture time)`` at ``rate`` per second until ``stopped``."""
    loop = asyncio.get_running_loop()
    wall, mono = time.time(), loop.time()
    index = math.ceil(wall * rate)
    while not stopped.is_set():
        capture = index / rate
        if realtime:
            delay = mono + (capture - wall) / speed - loop.time()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await stopped.wait()
                except TimeoutError:
                    pass
                if stopped.is_set():
                    return
        else:
            await asyncio.sleep(0)
        yield index, capture
        index += 1


@dataclass(slots=True)
class RtpState:
    """Sequence number and SSRC of one RTP stream (random start, as the spec says)."""

    sequence: int = field(default_factory=lambda: random.randrange(0x10000))  # noqa: S311
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))

    def next(self) -> int:
        """The next sequence number."""
        value = self.sequence
        self.sequence = (self.sequence + 1) & 0xFFFF
        return value


def video_packets(
    clip: VideoClip,
    *,
    index: int,
    capture: float,
    camera: int,
    rtp: RtpState,
    config: SimulatorConfig,
    tz: TimeZone,
) -> list[bytes]:
    """RTP packets of timeline frame ``index`` (marker on the last one)."""
    frame = clip.frame(index)
    extension = live_recorder_tlvs(camera, capture, tz)
    extension_size = 0 if config.rtp_extension == "none" else 4 + len(extension)
    max_payload = config.rtp_mtu - RTP_HEADER - extension_size
    payload_type = PT_H264 if clip.codec == "H264" else PT_H265
    if config.rtp_annexb:
        payloads = [b"\x00\x00\x00\x01" + nal for nal in frame.nals]
    elif clip.codec == "H264":
        payloads = packetize_h264(frame.nals, max_payload, config.rtp_aggregate)
    else:
        payloads = packetize_h265(frame.nals, max_payload, config.rtp_aggregate)
    timestamp = round(capture * VIDEO_CLOCK)
    packets = []
    for number, payload in enumerate(payloads):
        with_extension = config.rtp_extension == "all" or (
            config.rtp_extension == "first" and number == 0
        )
        packets.append(
            rtp_packet(
                payload_type=payload_type,
                marker=number == len(payloads) - 1,
                sequence=rtp.next(),
                timestamp=timestamp,
                ssrc=rtp.ssrc,
                payload=payload,
                extension=extension if with_extension else None,
            )
        )
    return packets


def jpeg_body(
    jpeg: bytes, camera: int, capture: float, config: SimulatorConfig, tz: TimeZone
) -> bytes:
    """One live JPEG part body: recorder info, camera info, JPEG (spec 2.3.5)."""
    recorder = live_recorder_tlvs(camera, capture, tz)
    camera_info = camera_tlvs(capture, tz) if config.camera_info else None
    return live_jpeg_part(jpeg, recorder, camera_info, config.jpeg_info_marker)


def audio_rtp_packet(
    clip: AudioClip, frame: bytes, capture: float, rtp: RtpState, tz: TimeZone
) -> bytes:
    """An RTP audio packet: time TLVs 0x0011/0x0012, AU header first for AAC."""
    seconds, hundredths = split_time(capture)
    extension = tlv_time(TLV_CAM_TIME, seconds, tz) + tlv_u16(TLV_CAM_FRAME_TIME, hundredths)
    payload = aac_au_header(len(frame)) + frame if clip.codec == "AAC-LC" else frame
    return rtp_packet(
        payload_type=PT_AUDIO,
        marker=True,
        sequence=rtp.next(),
        timestamp=round(capture * clip.sample_rate),
        ssrc=rtp.ssrc,
        payload=payload,
        extension=extension,
    )


AUDIO_CONTENT_TYPES = {
    "AAC-LC": "audio/48kaac-lc",
    "G.726": "audio/g.726-32k",
    "G.711": "audio/g.711",
}

"""Test-local builders of the NVR's binary formats, written from the spec tables.

They are deliberately independent of the parsers (and of the simulator): a test builds
bytes here and checks that the parser reads every field back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import re
import struct

START_CODE = b"\x00\x00\x00\x01"


def tlv(tlv_id: int, data: bytes) -> bytes:
    return struct.pack(">HH", tlv_id, 4 + len(data)) + data


def time_tlv(tlv_id: int, epoch: int, offset_minutes: int = 0, summer: bool = False) -> bytes:
    sign = 1 if offset_minutes < 0 else 0
    hours, minutes = divmod(abs(offset_minutes), 60)
    return tlv(tlv_id, struct.pack(">IBBBB", epoch, sign, hours, minutes, int(summer)))


def u16_tlv(tlv_id: int, value: int) -> bytes:
    return tlv(tlv_id, struct.pack(">HH", value, 0))


def recorder_tlvs(
    camera: int = 2, compression: int = 3, epoch: int = 1_700_000_000, framerate: int = 300
) -> bytes:
    return b"".join(
        (
            u16_tlv(0x0004, camera),
            u16_tlv(0x0005, compression),
            tlv(0x0006, struct.pack(">I", 123_456)),
            time_tlv(0x0007, epoch, 540),
            u16_tlv(0x0008, 30),
            u16_tlv(0x0009, framerate),
            u16_tlv(0x000A, 25),
            tlv(0x000B, bytes(8)),
            u16_tlv(0x000C, 1),
            tlv(0x000D, bytes((2, 3, 0, 0))),
            u16_tlv(0x0027, 1),
            u16_tlv(0x0028, 0x11),
            u16_tlv(0x0029, 2),
        )
    )


def camera_tlvs(epoch: int = 1_700_000_001) -> bytes:
    return time_tlv(0x0011, epoch, -300, summer=True) + u16_tlv(0x0012, 7)


def rtp(
    payload: bytes,
    *,
    sequence: int = 0,
    timestamp: int = 0,
    marker: bool = False,
    payload_type: int = 98,
    ssrc: int = 0x12345678,
    extension: bytes | None = None,
    profile: int = 0,
    csrcs: Sequence[int] = (),
    padding: int = 0,
) -> bytes:
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension is not None else 0) | len(csrcs)
    second = (0x80 if marker else 0) | payload_type
    out = struct.pack(">BBHII", first, second, sequence & 0xFFFF, timestamp, ssrc)
    out += b"".join(struct.pack(">I", c) for c in csrcs)
    if extension is not None:
        padded = extension + bytes(-len(extension) % 4)
        out += struct.pack(">HH", profile, len(padded) // 4) + padded
    out += payload
    if padding:
        out += bytes(padding - 1) + bytes((padding,))
    return out


def split_annex_b(data: bytes) -> list[bytes]:
    """Split an Annex B stream into NAL units (without start codes)."""
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", data)]
    nals = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        nals.append(data[start:end].rstrip(b"\x00") if index + 1 < len(starts) else data[start:])
    return [n for n in nals if n]


def packetize_h264(nals: Sequence[bytes], mtu: int, *, aggregate: bool = True) -> list[bytes]:
    """RFC 6184 payloads: STAP-A for runs of small NALs, FU-A for big ones, else single."""
    payloads: list[bytes] = []
    pending: list[bytes] = []

    def flush() -> None:
        if len(pending) == 1:
            payloads.append(pending[0])
        elif pending:
            nri = max(n[0] & 0x60 for n in pending)
            payloads.append(
                bytes((nri | 24,)) + b"".join(struct.pack(">H", len(n)) + n for n in pending)
            )
        pending.clear()

    for nal in nals:
        if len(nal) > mtu:
            flush()
            header, body = nal[0], nal[1:]
            chunk = mtu - 2
            pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
            for index, piece in enumerate(pieces):
                fu_header = header & 0x1F
                fu_header |= 0x80 if index == 0 else 0
                fu_header |= 0x40 if index == len(pieces) - 1 else 0
                payloads.append(bytes(((header & 0xE0) | 28, fu_header)) + piece)
        elif aggregate and sum(2 + len(n) for n in pending) + 3 + len(nal) <= mtu:
            pending.append(nal)
        else:
            flush()
            pending.append(nal)
    flush()
    return payloads


def packetize_h265(nals: Sequence[bytes], mtu: int, *, aggregate: bool = True) -> list[bytes]:
    """RFC 7798 payloads: AP for runs of small NALs, FU for big ones, else single."""
    payloads: list[bytes] = []
    pending: list[bytes] = []

    def flush() -> None:
        if len(pending) == 1:
            payloads.append(pending[0])
        elif pending:
            tid = min(n[1] & 0x07 for n in pending)
            header = bytes(((48 << 1), tid))
            payloads.append(header + b"".join(struct.pack(">H", len(n)) + n for n in pending))
        pending.clear()

    for nal in nals:
        if len(nal) > mtu:
            flush()
            nal_type = (nal[0] >> 1) & 0x3F
            body = nal[2:]
            chunk = mtu - 3
            pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
            for index, piece in enumerate(pieces):
                fu_header = nal_type
                fu_header |= 0x80 if index == 0 else 0
                fu_header |= 0x40 if index == len(pieces) - 1 else 0
                payloads.append(bytes(((nal[0] & 0x81) | (49 << 1), nal[1], fu_header)) + piece)
        elif aggregate and sum(2 + len(n) for n in pending) + 4 + len(nal) <= mtu:
            pending.append(nal)
        else:
            flush()
            pending.append(nal)
    flush()
    return payloads


@dataclass
class RtpStream:
    """Numbers packets of successive access units like a sender would."""

    payload_type: int = 98
    sequence: int = 65_530
    timestamp: int = 90_000
    extension: bytes | None = None

    def access_unit(self, payloads: Sequence[bytes], *, step: int = 3000) -> list[bytes]:
        packets = []
        for index, payload in enumerate(payloads):
            packets.append(
                rtp(
                    payload,
                    sequence=self.sequence,
                    timestamp=self.timestamp,
                    marker=index == len(payloads) - 1,
                    payload_type=self.payload_type,
                    extension=self.extension if index == 0 else None,
                )
            )
            self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp += step
        return packets


def info_chunk(tlvs: bytes, *, length: int | None = None) -> bytes:
    """``FFD8 FFFF`` + u16 length (counting itself, JPEG segment convention) + TLVs."""
    return (
        b"\xff\xd8\xff\xff" + struct.pack(">H", 2 + len(tlvs) if length is None else length) + tlvs
    )


def fake_jpeg(size: int = 64) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes((i * 7) & 0xFF for i in range(size)) + b"\xff\xd9"


def gop_time(epoch: int, hundredths: int, tz_minutes: int = 540, summer: bool = False) -> bytes:
    hours, minutes = divmod(abs(tz_minutes), 60)
    info = (0x80 if tz_minutes < 0 else 0) | (0x40 if summer else 0)
    return struct.pack(">IBBBB", epoch, hundredths, hours, minutes, info)


def picture_packet(data: bytes, *, length_includes_padding: bool = False) -> bytes:
    padding = -len(data) % 4
    length = len(data) + (padding if length_includes_padding else 0)
    return struct.pack(">HHI", 0xFF05, padding, length) + bytes(16) + data + bytes(padding)


def playback_gop(
    pictures: Iterable[bytes],
    *,
    chunk: bytes = b"\xff\x15",
    recorder: bytes | None = None,
    camera: bytes = b"",
    per_picture_camera: bytes = b"",
    start: tuple[int, int] = (1_700_000_000, 0),
    end: tuple[int, int] = (1_700_000_001, 50),
    first: tuple[int, int] = (1_700_000_000, 0),
    length_mode: str = "tlvs",
    length_includes_padding: bool = False,
    pad_to: int = 4096,
) -> bytes:
    """One ``camera.cgi`` answer; ``length_mode``: tlvs, self (counts u16) or header."""
    tlvs = recorder_tlvs() if recorder is None else recorder
    if chunk == b"\xff\xd8\xff\xff":
        head = info_chunk(tlvs)
    else:
        extra = {"tlvs": 0, "self": 2, "header": 4}[length_mode]
        head = chunk + struct.pack(">H", len(tlvs) + extra) + tlvs
    out = bytearray(head + camera + bytes(12))
    out += b"\xff\x06\x00\x44"
    out += bytes(16) + gop_time(*end) + gop_time(*start)
    out += bytes(16) + struct.pack(">IB", first[0], first[1]) + bytes(3) + bytes(8)
    for index, picture in enumerate(pictures):
        if index:
            out += per_picture_camera
        out += picture_packet(picture, length_includes_padding=length_includes_padding)
    out += bytes(-len(out) % pad_to)
    return bytes(out)


def g7xx_audio(
    data: bytes, *, camera: int = 3, codec: int = 1, start: int = 1_700_000_000
) -> bytes:
    payload = b"\x00" + data
    header = struct.pack(">HHI", 0xFF03, camera, len(payload))
    header += struct.pack(">I", start) + bytes((0, 9, 0, 0))
    header += struct.pack(">I", start + 1) + bytes(4) + bytes((0, 9, 0, 0))
    header += bytes((codec, 0, 0, 0)) + bytes(4) + bytes(28)
    out = header + payload
    return out + bytes(-len(out) % 4096)


def aac_frame(frame: bytes, *, mode: str = "whole", au_header: bool = False) -> bytes:
    """One ``FF14`` frame; ``mode`` is what the length covers (see playback.py)."""
    body = b"\x00" + (struct.pack(">HH", 16, len(frame) << 3) if au_header else b"") + frame
    padding = -(8 + len(body)) % 4
    length = {
        "whole": 8 + len(body) + padding,
        "after_header": len(body) + padding,
        "body": len(body),
        "frame": len(body) - 1,
    }[mode]
    header = struct.pack(">HHBBH", 0xFF14, length, padding, 1 if au_header else 0, 0)
    return header + body + bytes(padding)


def aac_audio(
    frames: Sequence[bytes],
    *,
    camera: int = 4,
    start: int = 1_700_000_000,
    mode: str = "whole",
    block_length: int = 0x3C,
    frames_at: int = 68,
    au_header: bool = False,
) -> bytes:
    data = b"".join(aac_frame(f, mode=mode, au_header=au_header) for f in frames)
    out = bytearray(struct.pack(">HHI", 0xFF13, camera, len(data)))
    out += struct.pack(">HH", 0xFF12, block_length)
    out += struct.pack(">I", start) + bytes((0, 9, 0, 0))
    out += struct.pack(">I", start + 1) + bytes(4) + bytes((0, 9, 0, 0))
    out += bytes(frames_at - len(out))
    out += data
    out += bytes(-len(out) % 4096)
    return bytes(out)


def multipart(parts: Iterable[tuple[dict[str, str], bytes]], boundary: str = "myboundary") -> bytes:
    """A multipart body the way the NVR sends it (Content-Length on every part)."""
    out = bytearray()
    for headers, body in parts:
        out += f"--{boundary}\r\n".encode()
        for name, value in headers.items():
            out += f"{name}: {value}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    return bytes(out)

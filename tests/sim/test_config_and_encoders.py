"""Configuration checks, HTTPS, and encoder edge cases the endpoint tests do not reach."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import ssl
import struct

from cryptography import x509
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig
from ipro_sim.encoders import (
    TimeZone,
    aac_frame_record,
    packetize_h264,
    packetize_h265,
    rtp_packet,
    split_annexb,
    split_time,
)
from ipro_sim.media import MediaLibrary, pattern, strip_comment
from ipro_sim.state import SessionManager

from .helpers import Depacketizer, client_session, parse_rtp


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cameras": 20}, "cameras must be one of"),
        ({"registered": 17}, "registered must be"),
        ({"camera_status": {1: 3}}, "status must be 0, 1 or 2"),
        ({"camera_status": {17: 1}}, "outside 1..16"),
        ({"jpeg_cameras": frozenset({0})}, "outside 1..16"),
        ({"fps": 0}, "at least 1"),
        ({"width": 63}, "even and at least 64"),
        ({"uid_digits": 20}, "uid_digits"),
        ({"speed": 0}, "positive"),
        ({"rtp_mtu": 100}, "rtp_mtu"),
    ],
)
def test_config_rejects_impossible_devices(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatorConfig(**changes)  # type: ignore[arg-type]


def test_config_queries() -> None:
    config = SimulatorConfig(
        camera_status={2: 2, 6: 1},
        camera_codecs={3: "JPEG"},
        audio_cameras=frozenset({1}),
    )
    assert [config.status_of(n) for n in (1, 2, 5, 6)] == [1, 2, 0, 1]
    assert (config.has_jpeg(1), config.has_jpeg(2), config.has_jpeg(3)) == (True, False, True)
    assert (config.has_audio(1), config.has_audio(2)) == (True, False)
    assert not SimulatorConfig(audio=None).has_audio(1)


async def test_https_with_self_signed_certificate() -> None:
    async with NvrSimulator(SimulatorConfig(ssl=True)) as sim:
        assert sim.url.startswith("https://127.0.0.1:")
        async with (
            client_session(sim) as session,
            session.get(f"{sim.url}/cgi-bin/recordedtime.cgi", ssl=False) as response,
        ):
            assert response.status == 200
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _, writer = await asyncio.open_connection(sim.host, sim.port, ssl=context)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        await writer.wait_closed()
    certificate = x509.load_der_x509_certificate(der)
    assert certificate.issuer == certificate.subject
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)


def test_split_annexb_and_time() -> None:
    stream = b"\x00\x00\x00\x01\x67\x01\x00\x00\x01\x68\x02\x00\x00\x00\x00\x01\x65\x03"
    assert split_annexb(stream) == [b"\x67\x01", b"\x68\x02", b"\x65\x03"]
    assert split_annexb(b"\x00\x00\x01") == []
    assert split_time(1700000000.999) == (1700000000, 99)
    assert split_time(1700000000.1) == (1700000000, 10)
    zone = TimeZone(-90, summer=True)
    assert zone.zone_text == "GMT-01:30"
    assert zone.parts == (True, 1, 30)
    assert zone.info_byte() == 0xC0


def roundtrip(payloads: list[bytes], h265: bool) -> bytes:
    depacketizer = Depacketizer(h265=h265)
    unit = None
    for number, payload in enumerate(payloads):
        packet = rtp_packet(
            payload_type=98,
            marker=number == len(payloads) - 1,
            sequence=number,
            timestamp=0,
            ssrc=1,
            payload=payload,
            extension=b"\x00\x04\x00\x06\x00\x01",
        )
        unit = depacketizer.push(parse_rtp(packet))
    assert unit is not None
    return unit


def test_h264_packetizer_boundaries() -> None:
    nals = [b"\x67" + b"s" * 20, b"\x68" + b"p" * 5, b"\x65" + bytes(range(256)) * 4, b"\x06" * 3]
    payloads = packetize_h264(nals, 100, aggregate=True)
    assert payloads[0][0] == 0x78
    assert all(len(p) <= 100 for p in payloads)
    assert roundtrip(payloads, h265=False) == b"".join(b"\x00\x00\x00\x01" + n for n in nals)
    exact = [b"\x65" + b"x" * 99]
    assert packetize_h264(exact, 100) == exact


def test_h265_packetizer_boundaries() -> None:
    nals = [b"\x40\x01" + b"v" * 10, b"\x42\x01" + b"s" * 10, b"\x26\x01" + b"i" * 500]
    payloads = packetize_h265(nals, 120, aggregate=True)
    assert (payloads[0][0] >> 1) & 0x3F == 48
    assert payloads[0][1] == 0x01
    assert all(len(p) <= 120 for p in payloads)
    assert roundtrip(payloads, h265=True) == b"".join(b"\x00\x00\x00\x01" + n for n in nals)
    singles = packetize_h265(nals[:2], 120, aggregate=False)
    assert singles == nals[:2]


def test_rtp_extension_is_padded_to_words() -> None:
    packet = rtp_packet(
        payload_type=97, marker=True, sequence=70000, timestamp=2**33 + 5, ssrc=7, payload=b"x",
        extension=b"\x00\x11\x00\x06\xaa\xbb",
    )  # fmt: skip
    parsed = parse_rtp(packet)
    assert (parsed.sequence, parsed.timestamp, parsed.payload) == (70000 % 65536, 5, b"x")
    assert struct.unpack(">HH", packet[12:16]) == (0, 2)


def test_aac_records_are_word_aligned() -> None:
    for size in range(1, 9):
        record = aac_frame_record(b"a" * size)
        length, padding = struct.unpack(">HB", record[2:5])
        assert length == len(record)
        assert length % 4 == 0
        assert record[8 : length - padding] == b"\x00" + b"a" * size


def test_media_loop() -> None:
    image = pattern(3, 10, 5, 64, 64)
    assert image.shape == (64, 64, 3)
    assert image.max() == 255
    placeholder = MediaLibrary.placeholder()
    assert placeholder[:2] == b"\xff\xd8"
    assert placeholder[2:4] != b"\xff\xfe"
    assert MediaLibrary.audio("G.711").frame_duration == 0.02


def test_strip_comment_keeps_a_jpeg_without_one() -> None:
    jpeg = b"\xff\xd8\xff\xdb\x00\x04\x00\x00\xff\xd9"
    assert strip_comment(jpeg) == jpeg
    assert strip_comment(b"\xff\xd8\xff\xfe\x00\x04ab" + jpeg[2:]) == jpeg


def test_session_manager_with_a_fake_clock() -> None:
    now = [100.0]
    manager = SessionManager(
        lifetime=90.0, max_uids=2, digits=1, rng=random.Random(5), clock=lambda: now[0]
    )
    first, evicted = manager.issue()
    assert evicted is None
    assert len(first.uid) == 1
    now[0] += 89.0
    assert manager.use(first.uid) is first
    now[0] += 89.0
    assert manager.peek(first.uid) is first
    now[0] += 1.0
    assert manager.peek(first.uid) is None
    assert manager.peek(None) is None
    assert not first.alive
    assert manager.logout("0") is False

"""Throughput of the H.264 / H.265 depacketizers alone, optionally against another revision.

    python benchmarks/bench_depacketizer.py [--seconds 8] [--rounds 7] [--against REV]

The RTP packets are parsed before timing, so only ``Depacketizer.push`` is measured:
8 Mbit/s at 30 fps, 1400-byte fragmentation units (FU-A for H.264, FU for H.265; most
packets continue a fragment), and small single-NAL-unit pictures (one packet each).
With ``--against REV`` the ``h26x.py`` of that git revision is loaded next to the
working tree's and both are timed in alternating rounds of the same process, so load on
the machine hits both alike (in turns, so neither always runs first on a stream); the
best and the median round of each are reported. Pinned to one CPU, rates per CPU second
(``time.process_time``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import importlib.util
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_parsers import FPS, MTU, RNG, STREAM_RATE, fu_a, rtp

from custom_components.ipro_nvr.aioipro import h26x
from custom_components.ipro_nvr.aioipro.models import RtpPacket
from custom_components.ipro_nvr.aioipro.rtp import parse_rtp

ROOT = Path(__file__).resolve().parents[1]
H26X = "custom_components/ipro_nvr/aioipro/h26x.py"


def fu_h265(nal: bytes) -> list[bytes]:
    """Split an H.265 NAL unit into RFC 7798 FU packets of at most ``MTU`` bytes."""
    body, chunk = nal[2:], MTU - 3
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    nal_type = (nal[0] >> 1) & 0x3F
    out = []
    for index, piece in enumerate(pieces):
        header = nal_type | (0x80 if index == 0 else 0)
        header |= 0x40 if index == len(pieces) - 1 else 0
        out.append(bytes(((nal[0] & 0x81) | (49 << 1), nal[1], header)) + piece)
    return out


def packets(
    seconds: float, fragment: Callable[[bytes], list[bytes]], idr: bytes, slice_: bytes
) -> list[RtpPacket]:
    """Parsed RTP packets of one 8 Mbit/s stream (a keyframe a second), fragmented."""
    frame_size = int(STREAM_RATE / FPS)
    out: list[RtpPacket] = []
    for frame in range(int(seconds * FPS)):
        keyframe = frame % FPS == 0
        size = frame_size * 4 if keyframe else frame_size * 26 // 29
        pieces = fragment((idr if keyframe else slice_) + RNG.randbytes(size))
        for index, piece in enumerate(pieces):
            raw = rtp(piece, len(out) & 0xFFFF, frame * 3000, index == len(pieces) - 1)
            out.append(parse_rtp(raw))
    return out


def single_nal_packets(count: int) -> list[RtpPacket]:
    """Parsed RTP packets of small H.264 pictures, one single-NAL-unit packet each."""
    return [
        parse_rtp(rtp(b"\x41\x9a" + RNG.randbytes(600), sequence & 0xFFFF, sequence * 3000, True))
        for sequence in range(count)
    ]


def load_revision(revision: str, folder: Path) -> ModuleType:
    """Import the ``h26x.py`` of a git revision as a sibling module of the current one."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{H26X}"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    path = folder / "h26x_other.py"
    path.write_bytes(source)
    name = "custom_components.ipro_nvr.aioipro.h26x_other"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def rate(module: ModuleType, codec: str, stream: list[RtpPacket]) -> float:
    """Return packets a CPU second that a fresh depacketizer of ``module`` takes in."""
    depacketizer = getattr(module, f"{codec}Depacketizer")()
    push = depacketizer.push
    start = time.process_time()
    for packet in stream:
        push(packet)
    return len(stream) / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="stream length")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds of each")
    parser.add_argument("--against", help="git revision whose h26x.py is timed alongside")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    streams = {
        ("H264", "FU-A, 8 Mbit/s"): packets(args.seconds, fu_a, b"\x65\x88", b"\x41\x9a"),
        ("H265", "FU, 8 Mbit/s"): packets(args.seconds, fu_h265, b"\x26\x01\xaf", b"\x02\x01\xd0"),
        ("H264", "single NAL unit"): single_nal_packets(int(args.seconds * 3000)),
    }
    with tempfile.TemporaryDirectory() as folder:
        modules = {"working tree": h26x}
        if args.against:
            modules[args.against] = load_revision(args.against, Path(folder))
        rates: dict[tuple[str, str, str], list[float]] = {}
        labels = list(modules)
        for round_ in range(args.rounds):
            # The first pass over a stream pays for bringing its packets into the CPU
            # caches: the order turns every round so that each version also runs second.
            order = labels[round_ % len(labels) :] + labels[: round_ % len(labels)]
            for (codec, kind), stream in streams.items():
                for label in order:
                    key = (codec, kind, label)
                    rates.setdefault(key, []).append(rate(modules[label], codec, stream))
    print(f"Python {sys.version.split()[0]}, one core, {args.rounds} rounds\n")
    print(f"{'stream':<24} {'h26x.py':<14} {'best packets/s':>14} {'median':>10} {'best MB/s':>9}")
    for (codec, kind), stream in streams.items():
        size = sum(len(packet.payload) for packet in stream) / len(stream)
        for label in modules:
            runs = rates[(codec, kind, label)]
            best, median = max(runs), statistics.median(runs)
            print(
                f"{codec + ' ' + kind:<24} {label:<14} {best:>14,.0f} {median:>10,.0f} "
                f"{best * size / 1e6:>9.1f}"
            )


if __name__ == "__main__":
    main()

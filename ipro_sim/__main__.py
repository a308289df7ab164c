"""Command line: run a simulated NVR until Ctrl-C (``python -m ipro_sim --help``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

from .config import (
    STATUS_CONNECTION_ERROR,
    STATUS_NOT_REGISTERED,
    SimulatorConfig,
    VideoCodecName,
)
from .server import NvrSimulator


def camera_list(text: str) -> list[int]:
    """``"1,3-5"`` -> ``[1, 3, 4, 5]``."""
    cameras: list[int] = []
    for item in text.split(","):
        first, _, last = item.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if last else low
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a camera list: {text!r}") from None
        cameras += range(low, high + 1)
    return cameras


def tz_offset(text: str) -> int:
    """``"+09:00"`` / ``"-05:30"`` / ``"9"`` -> minutes."""
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    try:
        return sign * (int(hours) * 60 + (int(minutes) if minutes else 0))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time zone offset: {text!r}") from None


def _flatten(groups: list[list[int]] | None) -> list[int]:
    return [cam for group in groups or [] for cam in group]


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options; camera lists accept ``1,3-5`` and may be repeated."""
    parser = argparse.ArgumentParser(
        prog="python -m ipro_sim",
        description=(
            "Simulated i-PRO network disk recorder (WJ-NX/NU series CGI interface) for "
            "development, demos and benchmarks. Serves live H.264/H.265/JPEG/audio, "
            "playback, downloads, camera control, logs and HDD information."
        ),
        epilog=(
            "example: python -m ipro_sim --port 8080 --cameras 16 --registered 6 --ptz 1 "
            "--h265 2 --disconnected 3 --unregistered 4 --event-interval 20"
        ),
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on")
    net.add_argument("--port", type=int, default=8080, help="TCP port (0: any free one)")
    net.add_argument("--ssl", action="store_true", help="HTTPS with a self-signed certificate")
    auth = parser.add_argument_group("authentication")
    auth.add_argument("--user", default="ADMIN", help="NVR user name")
    auth.add_argument("--password", default="12345", help="NVR password")
    auth.add_argument("--auth", choices=("digest", "basic"), default="digest")
    auth.add_argument(
        "--digest-algorithm",
        action="append",
        choices=("MD5", "SHA-256"),
        help="algorithm offered in the Digest challenge (repeat for several; default MD5)",
    )
    auth.add_argument(
        "--uid-skips-auth",
        action="store_true",
        help="accept requests carrying a valid UID without authentication",
    )
    cams = parser.add_argument_group("cameras")
    cams.add_argument("--model", default="WJ-NX400", help="model shown in the login page")
    cams.add_argument("--cameras", type=int, choices=(16, 32, 64, 128), default=16)
    cams.add_argument("--registered", type=int, default=4, help="cameras 1..N are registered")
    cams.add_argument("--ptz", type=camera_list, action="append", help="PTZ cameras")
    cams.add_argument("--h265", type=camera_list, action="append", help="H.265 cameras")
    cams.add_argument(
        "--jpeg-only", type=camera_list, action="append", help="cameras recording JPEG only"
    )
    cams.add_argument(
        "--jpeg", type=camera_list, action="append", help="cameras with a JPEG stream"
    )
    cams.add_argument(
        "--disconnected", type=camera_list, action="append", help="cameras in connection error"
    )
    cams.add_argument(
        "--unregistered", type=camera_list, action="append", help="cameras not registered"
    )
    cams.add_argument("--audio", choices=("AAC-LC", "G.726", "G.711", "none"), default="AAC-LC")
    media = parser.add_argument_group("media")
    media.add_argument("--width", type=int, default=320)
    media.add_argument("--height", type=int, default=240)
    media.add_argument("--fps", type=int, default=10)
    media.add_argument("--jpeg-fps", type=float, default=2.0)
    media.add_argument(
        "--no-realtime", action="store_true", help="send frames as fast as read (benchmarks)"
    )
    media.add_argument("--speed", type=float, default=1.0, help="frame clock speed factor")
    media.add_argument("--recording-days", type=float, default=7.0)
    other = parser.add_argument_group("behaviour")
    other.add_argument("--tz", type=tz_offset, default=540, help="time zone, e.g. +09:00")
    other.add_argument("--summer-time", action="store_true")
    other.add_argument("--uid-lifetime", type=float, default=90.0)
    other.add_argument("--max-uids", type=int, default=16)
    other.add_argument(
        "--event-interval", type=float, help="mean seconds between random new events"
    )
    other.add_argument(
        "--error-interval", type=float, help="mean seconds between random new errors"
    )
    other.add_argument("--seed", type=int, help="random seed for UIDs and logs")
    other.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig the options describe."""
    status = dict.fromkeys(_flatten(args.disconnected), STATUS_CONNECTION_ERROR)
    status |= dict.fromkeys(_flatten(args.unregistered), STATUS_NOT_REGISTERED)
    codecs: dict[int, VideoCodecName] = dict.fromkeys(_flatten(args.h265), "H265")
    codecs |= dict.fromkeys(_flatten(args.jpeg_only), "JPEG")
    return SimulatorConfig(
        model=args.model,
        cameras=args.cameras,
        registered=min(args.registered, args.cameras),
        camera_status=status,
        ptz_cameras=frozenset(_flatten(args.ptz) if args.ptz else [1]),
        jpeg_cameras=frozenset(_flatten(args.jpeg) if args.jpeg else [1]),
        camera_codecs=codecs,
        audio=None if args.audio == "none" else args.audio,
        username=args.user,
        password=args.password,
        auth=args.auth,
        digest_algorithms=tuple(args.digest_algorithm or ["MD5"]),
        uid_skips_auth=args.uid_skips_auth,
        ssl=args.ssl,
        uid_lifetime=args.uid_lifetime,
        max_uids=args.max_uids,
        width=args.width,
        height=args.height,
        fps=args.fps,
        jpeg_fps=args.jpeg_fps,
        realtime=not args.no_realtime,
        speed=args.speed,
        recording_days=args.recording_days,
        tz_offset_minutes=args.tz,
        summer_time=args.summer_time,
        event_interval=args.event_interval,
        error_interval=args.error_interval,
        seed=args.seed,
    )


async def serve(config: SimulatorConfig, host: str, port: int) -> None:
    """Run the simulator until cancelled (Ctrl-C)."""
    simulator = NvrSimulator(config)
    await simulator.start(host, port)
    print(f"i-PRO NVR simulator on {simulator.url}", file=sys.stderr)  # noqa: T201
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    """Parse options and serve; exit code 0 on Ctrl-C, 2 on a bad configuration."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())

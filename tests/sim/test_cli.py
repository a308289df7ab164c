"""The command line: help, option parsing, and a real run stopped with Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
import re
import signal
import sys

import aiohttp
import pytest

from ipro_sim import SimulatorConfig
from ipro_sim.__main__ import build_parser, camera_list, config_from_args, main, serve, tz_offset

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(*args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ipro_sim",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_help() -> None:
    process = await run_cli("--help")
    stdout, _ = await process.communicate()
    text = stdout.decode()
    assert process.returncode == 0
    assert text.startswith("usage: python -m ipro_sim")
    for option in ("--port", "--cameras", "--auth", "--ssl", "--ptz", "--disconnected", "--h265"):
        assert option in text


async def test_runs_until_ctrl_c() -> None:
    process = await run_cli(
        "--port", "0", "--auth", "basic", "--seed", "1", "--log-level", "warning"
    )
    assert process.stderr is not None
    async with asyncio.timeout(30):
        line = (await process.stderr.readline()).decode()
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert found is not None, line
        headers = {"Authorization": aiohttp.encode_basic_auth("ADMIN", "12345")}
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(found.group(1) + "/cgi-bin/recordedtime.cgi") as response,
        ):
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        await process.communicate()
    assert process.returncode == 0


def test_options_build_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--cameras", "32", "--registered", "40", "--ptz", "1,2", "--ptz", "5",
            "--h265", "2-3", "--jpeg-only", "4", "--jpeg", "3", "--disconnected", "3",
            "--unregistered", "4", "--audio", "none", "--auth", "basic",
            "--digest-algorithm", "SHA-256", "--tz", "-05:30", "--summer-time",
            "--no-realtime", "--ssl", "--uid-skips-auth",
        ]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.cameras == 32
    assert config.registered == 32
    assert config.ptz_cameras == {1, 2, 5}
    assert dict(config.camera_codecs) == {2: "H265", 3: "H265", 4: "JPEG"}
    assert config.jpeg_cameras == {3}
    assert dict(config.camera_status) == {3: 2, 4: 0}
    assert config.audio is None
    assert config.digest_algorithms == ("SHA-256",)
    assert (config.tz_offset_minutes, config.summer_time) == (-330, True)
    assert (config.realtime, config.ssl, config.uid_skips_auth) == (False, True, True)
    defaults = config_from_args(build_parser().parse_args([]))
    assert defaults.ptz_cameras == {1}
    assert defaults.digest_algorithms == ("MD5",)


def test_list_and_offset_parsers() -> None:
    assert camera_list("1,3-5") == [1, 3, 4, 5]
    assert tz_offset("+09:00") == 540
    assert tz_offset("9") == 540
    with pytest.raises(argparse.ArgumentTypeError):
        camera_list("a-b")
    with pytest.raises(argparse.ArgumentTypeError):
        tz_offset("nine")


def test_bad_configuration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--ptz", "99"])
    assert exit_info.value.code == 2
    assert "camera 99 is outside 1..16" in capsys.readouterr().err


async def test_serve_stops_cleanly_when_cancelled() -> None:
    task = asyncio.create_task(serve(SimulatorConfig(), "127.0.0.1", 0))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

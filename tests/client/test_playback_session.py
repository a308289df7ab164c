"""Playback on its own UID: recorder control queries, GOPs and audio from the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import av
import pytest

from custom_components.ipro_nvr.aioipro import AudioCodec, IproProtocolError, VideoCodec
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.pacer import Lane
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import queries, requests_to


def playcmds(sim: NvrSimulator) -> list[list[tuple[str, str]]]:
    return [q[1:] for q in queries(sim, "hdrctl.cgi")]


async def test_playback_sequence(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    async with client.playback() as playback:
        await playback.mask([2])
        await playback.goto_date(when)
        first = await playback.gop(2)
        second = await playback.gop(2)
        audio = await playback.audio(2)
    assert first.codec is VideoCodec.H264
    assert first.recorder.camera == 2
    assert first.start <= second.start
    assert abs((first.start - when).total_seconds()) <= 2
    context = av.CodecContext.create("h264", "r")
    frames = [f for p in first.pictures for f in context.decode(av.Packet(p.data))]
    frames += list(context.decode(None))
    assert len(frames) == len(first.pictures)
    assert audio.codec is AudioCodec.AAC_LC
    assert audio.frames
    timef = when.strftime("%y%m%d%H%M%S") + "00"
    assert playcmds(nvr_sim) == [
        [("PC", "AS60"), ("MASK", "0100000000000000")],
        [
            ("PC", "AS60"),
            ("PLAYCMD", "GOTODATE"),
            ("2ND", "OFF"),
            ("TIMEF", timef),
            ("SDBACKUP", "0"),
            ("NOTIME", "ON"),
        ],
        [
            ("PC", "AS60"),
            ("PLAYCMD", "STOP"),
            ("2ND", "OFF"),
            ("TIMEF", second.end.astimezone(UTC).strftime("%y%m%d%H%M%S") + "00"),
        ],
    ]
    # Its own UID, logged out on exit; the control UID stays.
    playback_uid = requests_to(nvr_sim, "camera.cgi")[0].uid
    assert [r.uid for r in requests_to(nvr_sim, "logout.cgi")] == [playback_uid]
    assert nvr_sim.sessions.count == 1
    assert [q[1:] for q in queries(nvr_sim, "camera.cgi")] == [[("CAM", "2")]] * 2
    assert [q[1:] for q in queries(nvr_sim, "playaudio.cgi")] == [[("CAM", "2")]]
    # GOP and audio requests are stream data: never on a pacing lane.
    assert {s.path for s in client.pacer.sent if s.lane is Lane.COMMAND} >= {"/cgi-bin/hdrctl.cgi"}
    assert not any(s.path.endswith(("camera.cgi", "playaudio.cgi")) for s in client.pacer.sent)


async def test_every_recorder_control_command(client: IproClient, nvr_sim: NvrSimulator) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 670_000, tzinfo=UTC)
    stamp = when.strftime("%y%m%d%H%M%S")
    async with client.playback() as playback:
        await playback.mask([1, 3])
        await playback.play()
        await playback.reverse(when)
        await playback.pause(when)
        await playback.next_frame(when)
        await playback.prev_frame(when)
        await playback.fast_forward(when)
        await playback.fast_reverse(when)
        await playback.stop(when)
        assert not playback.playing
    head = [("PC", "AS60")]
    assert playcmds(nvr_sim) == [
        [*head, ("MASK", "1010000000000000")],
        [
            *head,
            ("PLAYCMD", "PLAY"),
            ("2ND", "OFF"),
            ("TIMEF", "AS60_UNKNOWN"),
            ("NOTIME", "ON"),
        ],
        [*head, ("PLAYCMD", "BPLAY"), ("2ND", "OFF"), ("TIMEF", stamp + "00"), ("NOTIME", "ON")],
        [
            *head,
            ("PLAYCMD", "PAUSE"),
            ("2ND", "OFF"),
            ("TIMEF", stamp + "00"),
            ("SMOOTH", "OFF"),
            ("NOTIME", "ON"),
        ],
        [
            *head,
            ("PLAYCMD", "NEXTFRAME"),
            ("2ND", "OFF"),
            ("TIMEF", stamp + "67"),
            ("NOTIME", "ON"),
        ],
        [
            *head,
            ("PLAYCMD", "PREVFRAME"),
            ("2ND", "OFF"),
            ("TIMEF", stamp + "67"),
            ("NOTIME", "ON"),
        ],
        [
            *head,
            ("PLAYCMD", "FF"),
            ("2ND", "OFF"),
            ("TIMEF", stamp + "00"),
            ("SMOOTH", "OFF"),
            ("NOTIME", "ON"),
        ],
        [
            *head,
            ("PLAYCMD", "REW"),
            ("2ND", "OFF"),
            ("TIMEF", stamp + "00"),
            ("SMOOTH", "OFF"),
            ("NOTIME", "ON"),
        ],
        [*head, ("PLAYCMD", "STOP"), ("2ND", "OFF"), ("TIMEF", stamp + "00")],
    ]
    # Stopped by the caller: no second STOP on exit.
    assert sum(dict(q).get("PLAYCMD") == "STOP" for q in playcmds(nvr_sim)) == 1


@pytest.mark.parametrize("sim_config", [SimulatorConfig(cameras=32)], ids=["32ch"])
async def test_mask_has_one_digit_per_camera_slot(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.playback() as playback:
        await playback.mask([1])
        await playback.play()
    mask = dict(playcmds(nvr_sim)[0])["MASK"]
    assert mask == "1" + "0" * 31
    # Exit stops the playback it started (PLAY carries no time: STOP uses now).
    assert dict(playcmds(nvr_sim)[-1])["PLAYCMD"] == "STOP"


async def test_playback_uid_lost_resends_the_mask(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    when = datetime.now(UTC) - timedelta(minutes=5)
    async with client.playback() as playback:
        await playback.mask([1])
        await playback.goto_date(when)
        await playback.gop(1)
        nvr_sim.invalidate_uids()
        await playback.goto_date(when)
        gop = await playback.gop(1)
    assert gop.pictures
    cmds = [dict(q).get("PLAYCMD", "MASK") for q in playcmds(nvr_sim)]
    # The new UID gets the MASK and the position before the lost GOTODATE is retried.
    assert cmds == ["MASK", "GOTODATE", "GOTODATE", "MASK", "GOTODATE", "GOTODATE", "STOP"]
    uids = [r.uid for r in requests_to(nvr_sim, "hdrctl.cgi")]
    assert uids[2] == uids[0] != uids[3]
    assert len(queries(nvr_sim, "dlogin.cgi")) == 2


async def test_gop_without_playback_is_an_error(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with client.playback() as playback:
        await playback.mask([1])
        # camera.cgi before PLAY: the NVR refuses (HTTP 400) on a valid UID.
        with pytest.raises(IproProtocolError, match=r"refused camera\.cgi with HTTP 400"):
            await playback.gop(1)
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1

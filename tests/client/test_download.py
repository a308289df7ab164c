"""httpdl.cgi part headers and safe file names."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
import pytest

from custom_components.ipro_nvr.aioipro import (
    IproProtocolError,
    parse_download_part,
    safe_file_name,
)


def test_spec_first_part() -> None:
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "X-Temp-FileName": 'filename = "001_231115000000_3000_7f_00_01.tmp"',
                "X-Prev-Filename": 'filename = ""',
                "X-RecData-Satus": "0",
            }
        )
    )
    info = parse_download_part(headers)
    assert info.temp_name == "001_231115000000_3000_7f_00_01.tmp"
    assert info.prev_name == ""
    assert info.status == 0


def test_spec_last_part_plain_dict_other_spelling() -> None:
    info = parse_download_part(
        {
            "x-temp-filename": 'filename = ""',
            "X-PREV-FILENAME": 'filename = "001_231115000000_3000_7f_00_01.mp4"',
            "X-RecData-Status": " 3 ",
        }
    )
    assert info.temp_name == ""
    assert info.prev_name == "001_231115000000_3000_7f_00_01.mp4"
    assert info.status == 3


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ('filename="a.tmp"', "a.tmp"),
        ("filename = b.tmp", "b.tmp"),
        ("FILENAME=", ""),
        ('"c.tmp"', "c.tmp"),
        ("  d.tmp ", "d.tmp"),
    ],
)
def test_name_forms(value: str, name: str) -> None:
    info = parse_download_part({"X-Temp-FileName": value})
    assert info.temp_name == name
    assert info.prev_name == ""
    assert info.status == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-recdata-satus": "\t1 "}, ("", "", 1)),
        ({"X-RECDATA-STATUS": "02"}, ("", "", 2)),
        ({"X-Prev-Filename": 'filename = "a.mp4"'}, ("", "a.mp4", 0)),
    ],
)
def test_parts_with_some_headers_missing(
    headers: dict[str, str], expected: tuple[str, str, int]
) -> None:
    # A device may answer status 1 with the status alone: that is still its verdict.
    info = parse_download_part(headers)
    assert (info.temp_name, info.prev_name, info.status) == expected


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Content-Type": "video/mp4"}, "without file name or status headers"),
        ({"X-Temp-FileName": "a", "X-RecData-Satus": ""}, "invalid download status"),
        ({"X-RecData-Status": "1 2"}, "invalid download status"),
        ({"X-Temp-FileName": "a", "X-RecData-Satus": "busy"}, "invalid download status"),
        ({"X-Temp-FileName": "a", "X-RecData-Satus": "-1"}, "invalid download status"),
    ],
)
def test_garbage(headers: dict[str, str], message: str) -> None:
    with pytest.raises(IproProtocolError, match=message):
        parse_download_part(headers)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("001_231115000000_3000_7f_00_01.mp4", "001_231115000000_3000_7f_00_01.mp4"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.mp4", "evil.mp4"),
        ("/abs/path/clip.mp4", "clip.mp4"),
        (".hidden.mp4", "hidden.mp4"),
        ("a\x00b\x1fc\x7fd.tmp", "abcd.tmp"),
        ('what?<is>:"this"|*.mp4', "what__is___this___.mp4"),
        ("clip\u202e4pm.exe", "clip4pm.exe"),
    ],
)
def test_safe_file_name(name: str, safe: str) -> None:
    assert safe_file_name(name) == safe


@pytest.mark.parametrize("name", ["", "..", ".", "a/", "dir/..", " \x00 ", "..."])
def test_unusable_file_names(name: str) -> None:
    with pytest.raises(IproProtocolError, match="unusable file name"):
        safe_file_name(name)


def test_long_names_keep_the_extension() -> None:
    safe = safe_file_name("é" * 300 + ".mp4")
    assert safe.endswith(".mp4")
    assert len(safe.encode()) <= 255
    no_extension = safe_file_name("x" * 400)
    assert no_extension == "x" * 255


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_safe_names_are_base_names(name: str) -> None:
    try:
        safe = safe_file_name(name)
    except IproProtocolError:
        return
    assert safe
    assert "/" not in safe
    assert "\\" not in safe
    assert not safe.startswith(".")
    assert all(ord(ch) >= 0x20 for ch in safe)
    assert len(safe.encode()) <= 255


@settings(max_examples=200, deadline=None)
@given(
    temp=st.text(st.characters(exclude_characters='"\r\n', codec="latin-1"), max_size=40),
    prev=st.text(st.characters(exclude_characters='"\r\n', codec="latin-1"), max_size=40),
    status=st.integers(0, 9),
    spelling=st.sampled_from(["X-RecData-Satus", "X-RecData-Status", "x-recdata-satus"]),
)
def test_header_round_trip(temp: str, prev: str, status: int, spelling: str) -> None:
    info = parse_download_part(
        {
            "X-Temp-FileName": f'filename = "{temp}"',
            "X-Prev-Filename": f'filename = "{prev}"',
            spelling: str(status),
        }
    )
    assert (info.temp_name, info.prev_name, info.status) == (temp, prev, status)

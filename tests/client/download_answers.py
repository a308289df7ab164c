"""``httpdl.cgi`` answers written by hand from the spec's download section.

They are independent of the simulator's own habits (which the client must not rely on);
the simulator sends them as they are through ``faults.download_answer``.
"""

from __future__ import annotations

from collections.abc import Sequence

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
CLOSE = b"--myboundary--\r\n"


def raw_part(
    headers: Sequence[str], body: bytes = b"", *, eol: bytes = b"\r\n", preamble: bytes = b""
) -> bytes:
    """One multipart part as a device might write it: delimiter, header lines, body."""
    lines = b"".join(line.encode("latin-1") + eol for line in headers)
    return preamble + b"--myboundary" + eol + lines + eol + body + eol


def names(temp: str, prev: str = "", status: str = "0") -> list[str]:
    """The spec's three download headers."""
    return [
        f'X-Temp-FileName: filename = "{temp}"',
        f'X-Prev-Filename: filename = "{prev}"',
        f"X-RecData-Satus: {status}",
    ]


def data_part(body: bytes = CLIP, status: str = "0") -> bytes:
    """A part of ``clip.tmp`` with a Content-Length."""
    headers = ["Content-type: application/octet-stream", f"Content-Length: {len(body)}"]
    return raw_part([*headers, *names("clip.tmp", status=status)], body)


END_PART = raw_part(names("", "clip.mp4"))
"""The last part: ``clip.tmp`` is complete as ``clip.mp4``."""

"""``httpdl.cgi`` part headers, and safe local names for the files they announce.

Each multipart part carries ``X-Temp-FileName: filename = "..."`` (the file the part's
bytes belong to; empty ends the transfer), ``X-Prev-Filename: filename = "..."`` (the
final name of the file just completed; empty at first) and the status, spelled
``X-RecData-Satus`` in the spec; ``X-RecData-Status`` is accepted too. Header names are
matched case-insensitively, and a value may also be a bare or quoted name without
``filename =``. A part needs at least one of these headers: a missing status means 0
(normal), a missing name means empty (a device may answer status 1 with the status
alone). A part with none is not a download part, and a status that is not a plain number
is garbage: both are :class:`IproProtocolError`, never "no recording".
"""

from __future__ import annotations

from collections.abc import Mapping
import re
import unicodedata

from .errors import IproProtocolError
from .models import DownloadPartInfo

TEMP_NAME_HEADER = "x-temp-filename"
PREV_NAME_HEADER = "x-prev-filename"
STATUS_HEADERS = ("x-recdata-satus", "x-recdata-status")
MAX_FILE_NAME_BYTES = 255

_FILENAME = re.compile(r'\s*filename\s*=\s*(?:"([^"]*)"|(\S*))\s*', re.IGNORECASE)
_QUOTED = re.compile(r'\s*"([^"]*)"\s*')
_UNSAFE = re.compile(r'[<>:"|?*]')


def _file_name(value: str) -> str:
    match = _FILENAME.fullmatch(value) or _QUOTED.fullmatch(value)
    if match is None:
        return value.strip()
    return next((group for group in match.groups() if group is not None), "")


def parse_download_part(headers: Mapping[str, str]) -> DownloadPartInfo:
    """Read the file names and status of one download part (names as sent, unsanitised)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    temp = lowered.get(TEMP_NAME_HEADER)
    prev = lowered.get(PREV_NAME_HEADER)
    status_value = next((lowered[h] for h in STATUS_HEADERS if h in lowered), None)
    if temp is None and prev is None and status_value is None:
        raise IproProtocolError("The NVR sent a download part without file name or status headers.")
    status_text = "0" if status_value is None else status_value.strip()
    if not status_text.isascii() or not status_text.isdigit():
        raise IproProtocolError(f"The NVR sent an invalid download status {status_text[:20]!r}.")
    return DownloadPartInfo(
        temp_name=_file_name(temp or ""),
        prev_name=_file_name(prev or ""),
        status=int(status_text),
    )


def safe_file_name(name: str) -> str:
    """Return a base name that is safe to create in a target folder.

    Path components are dropped (either separator), control characters and characters
    Windows forbids are removed or replaced, leading dots go (no ``..``, no hidden
    files) and the name is cut to 255 UTF-8 bytes keeping its extension.
    """
    base = re.split(r"[/\\]", name)[-1]
    cleaned = "".join(
        ch for ch in base if not unicodedata.category(ch).startswith("C") and ch != "\x7f"
    )
    cleaned = _UNSAFE.sub("_", cleaned).strip().lstrip(".").strip()
    if not cleaned:
        raise IproProtocolError(f"The NVR sent an unusable file name {name[:60]!r}.")
    if len(cleaned.encode()) > MAX_FILE_NAME_BYTES:
        stem, dot, extension = cleaned.rpartition(".")
        suffix = f".{extension}" if dot and stem and len(extension) <= 16 else ""
        budget = MAX_FILE_NAME_BYTES - len(suffix.encode())
        stem_bytes = cleaned[: len(cleaned) - len(suffix)].encode()[:budget]
        cleaned = stem_bytes.decode(errors="ignore") + suffix
    return cleaned

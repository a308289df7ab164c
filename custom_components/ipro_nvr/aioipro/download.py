"""``httpdl.cgi`` part headers, and safe local names for the files they announce.

Each multipart part carries ``X-Temp-FileName: filename = "..."`` (the file the part's
bytes belong to; empty ends the transfer), ``X-Prev-Filename: filename = "..."`` (the
final name of the file just completed; empty at first) and the status, spelled
``X-RecData-Satus`` in the spec; ``X-RecData-Status`` is accepted too. A missing status
header means 0 (normal). Header names are matched case-insensitively, and a value may
also be a bare or quoted name without ``filename =``.
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
    if temp is None:
        raise IproProtocolError("The NVR sent a download part without a file name header.")
    status_text = next((lowered[h] for h in STATUS_HEADERS if h in lowered), "0").strip()
    if not status_text.isascii() or not status_text.isdigit():
        raise IproProtocolError(f"The NVR sent an invalid download status {status_text[:20]!r}.")
    return DownloadPartInfo(
        temp_name=_file_name(temp),
        prev_name=_file_name(lowered.get(PREV_NAME_HEADER, "")),
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

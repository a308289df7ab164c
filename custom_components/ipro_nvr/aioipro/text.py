r"""Parsers of the NVR's text responses, and the time formats its commands take.

The NVR answers with ``KEY=VALUE`` lines (CRLF or bare LF, sometimes inside ``<HTML>``
tags), a login page in HTML, and a CSV-like disk list. Values may wrap across lines;
the log lists in the spec do, once between two fields and once inside a time stamp.

Camera numbers are extracted from log kind texts with two patterns (case-insensitive),
and only when the number is 1-128:

- ``\bCAM(?:ERA)?\s*[-.:#]?\s*(\d{1,3})\b``: ``CAM 3 COMMUNICATION ERROR``, ``CAM3``,
  ``CAMERA-12``;
- ``^SITE\s*(?:\([^)]*\))?\s*-\s*(\d{1,3})$``: site alarms (``SITE(VMD)-2``) come from a
  camera, and the number after the dash is that camera.

Other kinds (terminal alarms, command alarms, system errors) carry no camera.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
import html
import re
from types import MappingProxyType

from .errors import IproProtocolError
from .models import (
    CameraConnectionInfo,
    CameraStatus,
    Disk,
    HddInfo,
    LogEntry,
    LogList,
    LogType,
    NvrInfo,
)

MAX_LOG_ENTRIES = 1000
MAX_CAMERAS = 128
MAX_UID_DIGITS = 19
# httpdl.cgi STARTTIME/ENDTIME: the spec does not say UTC or local; UTC worked on a real
# unit. This is the one place that decides it.
DOWNLOAD_TIME_ZONE: tzinfo = UTC

_SUMMER_SHIFT = timedelta(hours=1)
_KEY_LINE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)=(.*)")
_LEADING_TAGS = re.compile(r'^(?:\s*</?[A-Za-z!][^<>"]*>)+')
_TRAILING_TAGS = re.compile(r'(?:</?[A-Za-z!][^<>"]*>\s*)+$')
_LOGIN_MARKERS = re.compile(
    r"<\s*(?:title|head|body|script|form|frameset)\b|location\.href|dlogin\.cgi", re.IGNORECASE
)
_UID = re.compile(r"\bUID=(\d+)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_TITLE = re.compile(r"document\.title\s*=\s*\"([^\"]*)\"", re.IGNORECASE)
_MODEL = re.compile(r"\b([A-Z]{1,4}-[A-Z]{1,4}\d[A-Z0-9-]*)", re.IGNORECASE)
_CAM_CONNECT = re.compile(r"CAM_CONNECT_(\d{2,3})CH")
_QUOTED = re.compile(r'"([^"]*)"')
_FIELD_GAP = re.compile(r"\s*,\s*")
_WRAP = re.compile(r"\s*\n\s*")
_LOCAL_TIME = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})\s*(\d{1,2}):(\d{1,2}):(\d{1,2})")
_ZONE = re.compile(r"(?:GMT|UTC)?\s*(?:([+-])\s*(\d{1,2})(?::?(\d{2}))?)?", re.IGNORECASE)
_CAMERA_PATTERNS = (
    re.compile(r"\bCAM(?:ERA)?\s*[-.:#]?\s*(\d{1,3})\b", re.IGNORECASE),
    re.compile(r"^SITE\s*(?:\([^)]*\))?\s*-\s*(\d{1,3})$", re.IGNORECASE),
)
_DISK_LINE = re.compile(r"([A-Za-z][A-Za-z0-9]*-\d+)\s*,(.*)")
_CAPACITY = re.compile(r"(\d+)\s*GB\s*(?:\((.*)\))?", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})")


def decode_text(data: bytes) -> str:
    """Decode a text response; bytes that are not UTF-8 become U+FFFD, never an error."""
    return data.decode("utf-8", errors="replace")


def _lines(text: str) -> list[str]:
    """Split on CRLF, LF or CR and drop HTML tags at the ends of each line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [_TRAILING_TAGS.sub("", _LEADING_TAGS.sub("", line)).strip() for line in lines]


def parse_key_values(text: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines.

    A line that is not ``KEY=...`` continues the previous value (joined with a newline)
    when that value is a quoted list (``"..."``, the log lists); other stray lines, blank
    lines, tag-only lines and text before the first key are ignored. A repeated key keeps
    its last value.
    """
    values: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _lines(text):
        if not line:
            continue
        match = _KEY_LINE.fullmatch(line)
        if match:
            current = [match.group(2).strip()]
            values[match.group(1)] = current
        elif current is not None and current[0].startswith('"'):
            current.append(line)
    return {key: "\n".join(parts) for key, parts in values.items()}


def is_login_page(text: str | bytes) -> bool:
    """Return whether a response is an HTML page (the login page) rather than data.

    The NVR answers a command with an invalid UID with its login page; data responses
    never hold a ``<title>``, ``<head>``, ``<body>``, ``<script>`` or a redirect, only
    at most bare ``<HTML>`` wrapper lines.
    """
    if isinstance(text, bytes):
        text = text[:65536].decode("latin-1")
    return _LOGIN_MARKERS.search(text) is not None


def parse_login(page: str) -> tuple[str, NvrInfo]:
    """Return the UID (a digit string, up to 19 digits) and the model from the login page."""
    match = _UID.search(page)
    if match is None:
        raise IproProtocolError("The NVR did not issue a session ID; the login failed.")
    uid = match.group(1)
    if len(uid) > MAX_UID_DIGITS:
        raise IproProtocolError(f"The NVR issued a session ID of {len(uid)} digits (max 19).")
    title_match = _TITLE.search(page) or _SCRIPT_TITLE.search(page)
    title = " ".join(html.unescape(title_match.group(1)).split()) if title_match else ""
    models = _MODEL.findall(title)
    if models:
        model = models[-1]
    else:
        words = title.split()
        model = words[-1] if words else ""
    return uid, NvrInfo(model=model, title=title)


def _int(value: str, what: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise IproProtocolError(f"The NVR sent {what} that is not a number: {value[:40]!r}.")
    return int(text)


def _optional_int(value: str | None, what: str) -> int | None:
    if value is None or not value.strip():
        return None
    return _int(value, what)


def parse_camera_connection(text: str) -> CameraConnectionInfo:
    """Parse ``as_getinfo.cgi?FILE=2``: camera slot states and session usage."""
    values = parse_key_values(text)
    cameras: dict[int, CameraStatus] = {}
    for key, value in values.items():
        match = _CAM_CONNECT.fullmatch(key)
        if match is None:
            continue
        number = int(match.group(1))
        if not 1 <= number <= MAX_CAMERAS:
            raise IproProtocolError(f"The NVR reported a camera number out of range: {key}.")
        state = _int(value, f"a camera state for {key}")
        try:
            cameras[number] = CameraStatus(state)
        except ValueError:
            raise IproProtocolError(
                f"The NVR reported an unknown camera state {state} for {key}."
            ) from None
    if not cameras:
        raise IproProtocolError("The NVR's camera connection response lists no cameras.")
    return CameraConnectionInfo(
        cameras=MappingProxyType(dict(sorted(cameras.items()))),
        max_uid=_optional_int(values.get("MAXUID"), "MAXUID"),
        used_uid=_optional_int(values.get("USEDUID"), "USEDUID"),
    )


def _quoted_fields(value: str) -> list[str]:
    """Split ``"a","b",...`` strictly: only commas and white space between fields."""
    fields: list[str] = []
    pos = 0
    for match in _QUOTED.finditer(value):
        gap = value[pos : match.start()]
        if (fields and not _FIELD_GAP.fullmatch(gap)) or (not fields and gap.strip()):
            raise IproProtocolError(f"The NVR sent a malformed log list near {gap[:40]!r}.")
        fields.append(match.group(1))
        pos = match.end()
    tail = value[pos:].strip()
    if tail not in ("", ","):
        raise IproProtocolError(f"The NVR sent a malformed log list near {tail[:40]!r}.")
    return fields


def _unwrap(field: str) -> str:
    return _WRAP.sub(" ", field).strip()


def parse_zone(zone: str) -> timedelta:
    """Return the standard offset of a log zone text such as ``GMT+09:00``."""
    match = _ZONE.fullmatch(zone.strip())
    if match is None or not zone.strip():
        raise IproProtocolError(f"The NVR sent an unknown time zone {zone[:40]!r}.")
    sign, hours, minutes = match.groups()
    if sign is None:
        return timedelta()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset > timedelta(hours=14):
        raise IproProtocolError(f"The NVR sent an invalid time zone {zone[:40]!r}.")
    return -offset if sign == "-" else offset


def _local_datetime(text: str) -> datetime:
    match = _LOCAL_TIME.fullmatch(text)
    if match is None:
        raise IproProtocolError(f"The NVR sent an invalid time {text[:40]!r}.")
    return _datetime([int(part) for part in match.groups()])


def _datetime(parts: list[int]) -> datetime:
    year, month, day, hour, minute, second = parts
    try:
        # The NVR's wall clock: callers apply its zone.
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError:
        raise IproProtocolError(
            f"The NVR sent an invalid date {year}/{month}/{day} {hour}:{minute}:{second}."
        ) from None


def _summer_flag(text: str) -> bool:
    value = text.strip()
    if value not in ("0", "1"):
        raise IproProtocolError(f"The NVR sent an invalid summer-time flag {value[:10]!r}.")
    return value == "1"


def camera_from_kind(kind: str) -> int | None:
    """Return the camera a log kind text names, if any (see the module docstring)."""
    for pattern in _CAMERA_PATTERNS:
        match = pattern.search(kind)
        if match:
            number = int(match.group(1))
            return number if 1 <= number <= MAX_CAMERAS else None
    return None


def parse_log_list(text: str, log: LogType) -> LogList:
    """Parse ``loglist.cgi``: groups of five quoted fields, newest entry first.

    Entries past the spec's maximum of 1000 are ignored. Fewer entries than the NVR
    announced means the answer was cut short: taken for the whole log, the missing
    (oldest) entries would count as new again once a whole answer comes, so it is an
    error. More entries than announced are kept.
    """
    prefix = "EVENT" if log is LogType.EVENT else "ERROR"
    values = parse_key_values(text)
    count_text = values.get(f"{prefix}_LOG_NO")
    body = values.get(f"{prefix}_LOG")
    if count_text is None and body is None:
        raise IproProtocolError(f"The NVR's answer is not the {log} log list.")
    count = _optional_int(count_text, f"{prefix}_LOG_NO")
    fields = _quoted_fields(body or "")
    if fields == [""]:
        fields = []
    if len(fields) % 5:
        raise IproProtocolError(
            f"The NVR sent a log list of {len(fields)} fields, not groups of five."
        )
    if count is not None and len(fields) // 5 < min(count, MAX_LOG_ENTRIES):
        raise IproProtocolError(
            f"The NVR announced {count} log entries but sent {len(fields) // 5}; "
            "the answer was cut short."
        )
    entries: list[LogEntry] = []
    for start in range(0, min(len(fields), 5 * MAX_LOG_ENTRIES), 5):
        number, when, summer, kind, zone = (_unwrap(f) for f in fields[start : start + 5])
        local_time = _local_datetime(when)
        summer_time = _summer_flag(summer)
        offset = parse_zone(zone) + (_SUMMER_SHIFT if summer_time else timedelta())
        entries.append(
            LogEntry(
                number=_int(number, "a log number"),
                local_time=local_time,
                summer_time=summer_time,
                kind=kind,
                zone=zone,
                time=(local_time - offset).replace(tzinfo=UTC),
                camera=camera_from_kind(kind),
            )
        )
    return LogList(log=log, entries=tuple(entries))


def local_to_utc(local: datetime, summer_time: bool, tz: tzinfo) -> datetime:
    """Convert the NVR's naive wall-clock time to UTC.

    With a zone that has rules (``zoneinfo``), the summer flag picks the right side of an
    ambiguous hour; with a fixed-offset zone (``timezone``, including UTC) the offset is
    the standard one and the summer flag adds an hour, as in the log lists.
    """
    first = local.replace(tzinfo=tz, fold=0)
    dst = first.dst()
    if dst is None:
        shift = _SUMMER_SHIFT if summer_time else timedelta()
        return first.astimezone(UTC) - shift
    if bool(dst) != summer_time:
        second = local.replace(tzinfo=tz, fold=1)
        if bool(second.dst()) == summer_time:
            return second.astimezone(UTC)
    return first.astimezone(UTC)


def _is_empty(field: str) -> bool:
    return not field.strip(". ")


def _capacity(field: str, what: str) -> tuple[int, str | None]:
    match = _CAPACITY.fullmatch(field)
    if match is None:
        raise IproProtocolError(f"The NVR sent an invalid {what} {field[:40]!r}.")
    return int(match.group(1)), match.group(2)


def _range_end(fields: list[str], name: str, tz: tzinfo) -> datetime | None:
    """Consume one end of a recording range (date, summer flag, time, or ``.....``)."""
    if not fields or _is_empty(fields[0]):
        del fields[:1]
        return None
    if len(fields) < 3:
        raise IproProtocolError(f"The NVR sent an invalid recording range for {name}.")
    date_text, summer, time_text = fields[:3]
    del fields[:3]
    date = _DATE.fullmatch(date_text)
    clock = _TIME.fullmatch(time_text)
    if date is None or clock is None:
        raise IproProtocolError(
            f"The NVR sent an invalid recording time {date_text},{summer},{time_text}."
        )
    local = _datetime([int(p) for p in (*date.groups(), *clock.groups())])
    return local_to_utc(local, _summer_flag(summer), tz)


def _disk(name: str, rest: str, tz: tzinfo) -> Disk:
    fields = [f.strip() for f in rest.split(",")]
    while fields and not fields[-1]:
        fields.pop()
    if not fields or _is_empty(fields[0]):
        return Disk(
            name=name,
            capacity_gb=None,
            capacity_flag=None,
            remain_gb=None,
            oldest=None,
            newest=None,
        )
    capacity, flag = _capacity(fields[0], "disk capacity")
    remain = None
    if len(fields) > 1 and not _is_empty(fields[1]):
        remain = _capacity(fields[1], "remaining capacity")[0]
    period = fields[2:]
    oldest = _range_end(period, name, tz)
    newest = _range_end(period, name, tz)
    if period:
        raise IproProtocolError(f"The NVR sent an invalid recording range for {name}.")
    return Disk(
        name=name,
        capacity_gb=capacity,
        capacity_flag=flag,
        remain_gb=remain,
        oldest=oldest,
        newest=newest,
    )


def parse_hdd_info(text: str, tz: tzinfo | None = None) -> HddInfo:
    """Parse ``recordedtime.cgi``: one line a disk slot, headers and ``.....`` lines skipped.

    The response gives local times with a summer flag but no zone: ``tz`` is the NVR's
    zone (default UTC, that is, the wall clock is taken as UTC plus summer time).
    """
    zone = UTC if tz is None else tz
    disks = [
        _disk(match.group(1), match.group(2), zone)
        for line in _lines(text)
        if (match := _DISK_LINE.fullmatch(line))
    ]
    if not disks:
        raise IproProtocolError("The NVR's recording information lists no disks.")
    return HddInfo(disks=tuple(disks))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time sent to the NVR must be timezone-aware")
    utc = moment.astimezone(UTC)
    if not 2000 <= utc.year <= 2099:
        raise ValueError(f"the NVR cannot take a time in {utc.year}")
    return utc


def format_timef(moment: datetime, hundredths: int = 0) -> str:
    """Format ``TIMEF`` (``yymmddhhmmssff``, UTC); ``ff`` is in 10 ms units."""
    if not 0 <= hundredths <= 99:
        raise ValueError("hundredths must be 0-99")
    return f"{_utc(moment):%y%m%d%H%M%S}{hundredths:02d}"


def format_download_time(moment: datetime) -> str:
    """Format ``httpdl.cgi`` STARTTIME/ENDTIME (``yymmddhhmmss``, seconds floored to 00)."""
    local = _utc(moment).astimezone(DOWNLOAD_TIME_ZONE)
    return f"{local:%y%m%d%H%M}00"

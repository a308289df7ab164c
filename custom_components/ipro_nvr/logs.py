"""New-entry detection for the NVR's logs, and what their free-form kind text means.

The NVR numbers log entries by position (001 is the newest), so a number says nothing
about identity. An entry is recognised by its content (``LogEntry.identity``: local time
text, summer flag, kind, zone). Two entries can share an identity (two motion events in
the same second), so the tracker keeps a multiset: the count of each identity present at
the last poll. Whatever the new poll holds beyond those counts is new. This survives a
log that drops its oldest entries at 1000 (dropped identities simply leave the multiset)
and a cleared log (the multiset empties, and later entries count as new).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
import re
from typing import Any

from .aioipro.models import LogEntry, LogList
from .const import LogEventType

type Identity = tuple[str, bool, str, str]

_RECOVERED = re.compile(r"RECOVER|RESTOR")
_COMMUNICATION = re.compile(r"COMMUNICATION|\bCOMM\b|DISCONNECT|\bLOSS\b")
_MOTION = re.compile(r"VMD|MOTION|\bAMD\b")
_ALARM = re.compile(r"ALARM|\bTRM\b|TERMINAL|\(COM\)|\bSCD\b|SENSOR")
_RECORDING = re.compile(r"\bREC\b|RECORD|HDD|DISK|RAID|\bEXT\d")


def classify_kind(kind: str) -> LogEventType:
    """Map the NVR's free-form kind text to one of the fixed event types."""
    text = kind.upper()
    if _COMMUNICATION.search(text):
        if _RECOVERED.search(text):
            return LogEventType.COMMUNICATION_RECOVERED
        return LogEventType.COMMUNICATION_ERROR
    if _MOTION.search(text):
        return LogEventType.MOTION
    if _ALARM.search(text):
        return LogEventType.ALARM
    if _RECORDING.search(text):
        return LogEventType.RECORDING
    return LogEventType.OTHER


def disk_fault(entries: Sequence[LogEntry]) -> LogEntry | None:
    """Return the error-log entry of a disk or recording fault still in force, if any.

    The log is newest first: the newest disk or recording entry tells the current state,
    and a fault is over once a newer entry of that class reports a recovery (or the log
    no longer holds the fault, e.g. after it was cleared).
    """
    for entry in entries:
        if classify_kind(entry.kind) is LogEventType.RECORDING:
            return None if _RECOVERED.search(entry.kind.upper()) else entry
    return None


class LogTracker:
    """Remember which entries of one log were already seen, counting repeats."""

    def __init__(self, seen: Counter[Identity] | None = None) -> None:
        """Start from a stored multiset, or from nothing (the first poll is a baseline)."""
        self._seen = seen
        # Whether the last update changed what is remembered (the store needs a write).
        self.dirty = False

    def update(self, log: LogList) -> list[LogEntry]:
        """Take a fresh poll and return its new entries, oldest first.

        The first poll without a stored state only records what is there: entries in
        the log before the integration ever saw it fire nothing.
        """
        current = Counter(entry.identity for entry in log.entries)
        seen, self._seen = self._seen, current
        self.dirty = seen != current
        if seen is None:
            return []
        extra = current - seen
        new: list[LogEntry] = []
        for entry in log.entries:
            if extra[entry.identity] > 0:
                extra[entry.identity] -= 1
                new.append(entry)
        new.reverse()
        return new

    def as_json(self) -> list[list[Any]] | None:
        """Return the seen multiset in a JSON-friendly form for the store."""
        if self._seen is None:
            return None
        return [[*identity, count] for identity, count in sorted(self._seen.items())]

    @classmethod
    def from_json(cls, stored: Iterable[Sequence[Any]] | None) -> LogTracker:
        """Rebuild a tracker from ``as_json`` output; rows that do not fit are skipped."""
        if stored is None:
            return cls()
        seen: Counter[Identity] = Counter()
        for row in stored:
            if (
                len(row) == 5
                and isinstance(row[0], str)
                and isinstance(row[1], bool)
                and isinstance(row[2], str)
                and isinstance(row[3], str)
                and isinstance(row[4], int)
                and row[4] > 0
            ):
                seen[(row[0], row[1], row[2], row[3])] += row[4]
        return cls(seen)

"""New-entry detection by content identity, and the kind-text mapping, without an NVR."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import json

from hypothesis import given, strategies as st
import pytest

from custom_components.ipro_nvr.aioipro.models import LogEntry, LogList, LogType
from custom_components.ipro_nvr.const import LogEventType
from custom_components.ipro_nvr.logs import LogTracker, classify_kind, disk_fault

BASE = datetime(2024, 4, 24, 12, 0, 0)  # noqa: DTZ001 - the NVR's local time is naive


def entry(second: int, kind: str = "SITE(VMD)-2") -> LogEntry:
    """Return an entry ``second`` seconds after BASE (numbers are filled in by ``log``)."""
    local = BASE + timedelta(seconds=second)
    return LogEntry(
        number=0,
        local_time=local,
        summer_time=False,
        kind=kind,
        zone="GMT+09:00",
        time=(local - timedelta(hours=9)).replace(tzinfo=UTC),
        camera=2,
    )


def log(entries: Sequence[LogEntry], limit: int = 1000) -> LogList:
    """Return the log as the NVR lists it: newest first, numbered by position, capped."""
    newest_first = sorted(entries, key=lambda e: e.local_time, reverse=True)[:limit]
    return LogList(
        log=LogType.EVENT,
        entries=tuple(
            LogEntry(
                number=n,
                local_time=e.local_time,
                summer_time=e.summer_time,
                kind=e.kind,
                zone=e.zone,
                time=e.time,
                camera=e.camera,
            )
            for n, e in enumerate(newest_first, start=1)
        ),
    )


def test_first_poll_is_a_baseline() -> None:
    tracker = LogTracker()
    assert tracker.update(log([entry(1), entry(2)])) == []
    assert tracker.dirty
    assert tracker.update(log([entry(1), entry(2)])) == []
    assert not tracker.dirty


def test_new_entries_come_oldest_first() -> None:
    tracker = LogTracker()
    tracker.update(log([entry(1)]))
    new = tracker.update(log([entry(1), entry(2, "A"), entry(3, "B")]))
    assert [e.kind for e in new] == ["A", "B"]
    # Positions shifted (the old entry is now number 3) but nothing is new.
    assert tracker.update(log([entry(1), entry(2, "A"), entry(3, "B")])) == []


def test_identical_entries_in_the_same_second_count() -> None:
    tracker = LogTracker()
    tracker.update(log([entry(1)]))
    new = tracker.update(log([entry(1), entry(5), entry(5)]))
    assert len(new) == 2
    new = tracker.update(log([entry(1), entry(5), entry(5), entry(5)]))
    assert len(new) == 1


def test_full_log_drops_oldest_and_still_finds_new() -> None:
    tracker = LogTracker()
    entries = [entry(n) for n in range(1000)]
    tracker.update(log(entries))
    entries += [entry(1000, "X"), entry(1001, "Y")]
    new = tracker.update(log(entries))
    assert [e.kind for e in new] == ["X", "Y"]
    assert tracker.update(log(entries)) == []


def test_cleared_log_then_new_entries() -> None:
    tracker = LogTracker()
    tracker.update(log([entry(1), entry(2)]))
    assert tracker.update(log([])) == []
    assert tracker.dirty
    new = tracker.update(log([entry(3, "after clear")]))
    assert [e.kind for e in new] == ["after clear"]


def test_store_round_trip_keeps_multiplicity() -> None:
    tracker = LogTracker()
    tracker.update(log([entry(1), entry(1), entry(2, "B")]))
    stored = json.loads(json.dumps(tracker.as_json()))
    restored = LogTracker.from_json(stored)
    assert restored.update(log([entry(1), entry(1), entry(2, "B")])) == []
    assert len(restored.update(log([entry(1), entry(1), entry(1), entry(2, "B")]))) == 1


def test_store_without_a_log_and_bad_rows() -> None:
    assert LogTracker().as_json() is None
    fresh = LogTracker.from_json(None)
    assert fresh.update(log([entry(1)])) == []
    restored = LogTracker.from_json([["x"], ["t", "no", "k", "z", 1], ["t", False, "k", "z", 0]])
    assert restored.as_json() == []
    assert len(restored.update(log([entry(1)]))) == 1


@given(
    st.lists(st.integers(min_value=0, max_value=40), max_size=60),
    st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=12),
    st.integers(min_value=5, max_value=30),
)
def test_every_entry_fires_once_as_the_log_grows_and_wraps(
    seconds: list[int], batches: list[int], limit: int
) -> None:
    """Entries added in batches (repeats allowed) fire once each, whatever the cap."""
    tracker = LogTracker()
    present: list[LogEntry] = []
    tracker.update(log(present, limit))
    queue = sorted(seconds)
    for round_number, size in enumerate(batches, start=1):
        batch, queue = queue[:size], queue[size:]
        # Entries arrive in time order, so a batch is newer than what is there; a batch
        # larger than the log pushes its own oldest entries out before the poll.
        present = [*present, *(entry(100 * round_number + s) for s in batch)]
        present = sorted(present, key=lambda e: e.local_time, reverse=True)[:limit]
        new = tracker.update(log(present, limit))
        assert len(new) == min(len(batch), limit)
        assert [e.local_time for e in new] == sorted(e.local_time for e in new)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("SITE(VMD)-2", LogEventType.MOTION),
        ("CAM SITE(VMD)-3", LogEventType.MOTION),
        ("TERMINAL-1", LogEventType.ALARM),
        ("COMMAND ALARM", LogEventType.ALARM),
        ("LOSS-4", LogEventType.COMMUNICATION_ERROR),
        ("CAM 3 COMMUNICATION ERROR", LogEventType.COMMUNICATION_ERROR),
        ("CAM 3 COMMUNICATION RECOVERED", LogEventType.COMMUNICATION_RECOVERED),
        ("HDD MAIN-1 TEMPERATURE ERROR", LogEventType.RECORDING),
        ("REC ERROR", LogEventType.RECORDING),
        ("NETWORK ERROR", LogEventType.OTHER),
    ],
)
def test_classify_kind(kind: str, expected: LogEventType) -> None:
    assert classify_kind(kind) is expected


def test_disk_fault_is_the_newest_disk_entry_unless_recovered() -> None:
    fault = entry(1, "HDD MAIN-1 TEMPERATURE ERROR")
    assert disk_fault([entry(2, "NETWORK ERROR"), fault]) == fault
    assert disk_fault([entry(3, "HDD MAIN-1 RECOVERED"), fault]) is None
    assert disk_fault([entry(2, "NETWORK ERROR")]) is None
    assert disk_fault([]) is None

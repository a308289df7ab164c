"""Fault knobs, settable while the simulator runs, to test how clients cope.

Paths are CGI names (``"loglist.cgi"``) or full paths (``"/cgi-bin/loglist.cgi"``).
Request-level faults (errors, garbage) count only requests that passed authentication,
so a Digest challenge round-trip does not use them up.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def cgi_name(path: str) -> str:
    """``/cgi-bin/loglist.cgi`` -> ``loglist.cgi``."""
    return path.rsplit("/", 1)[-1]


@dataclass(kw_only=True)
class Faults:
    """Knobs; every one is off by default. ``reset()`` turns them all off again."""

    reject_credentials: bool = False
    """Answer 401 to everything, as if the password had been changed on the NVR."""
    delay: float = 0.0
    """Seconds to wait before answering (on ``delay_paths`` only, when given)."""
    delay_paths: set[str] = field(default_factory=set)
    error_next: int = 0
    """Answer the next N authenticated requests with ``error_status``."""
    error_status: int = 500
    error_paths: dict[str, int] = field(default_factory=dict)
    """Answer every request to these paths with the mapped status."""
    garbage_next: int = 0
    """Answer the next N authenticated requests with random bytes (HTTP 200)."""
    garbage_paths: set[str] = field(default_factory=set)
    drop_after_bytes: int | None = None
    """Close streamed answers (live, download) after this many body bytes."""
    drop_after_parts: int | None = None
    """Close streamed answers after this many whole multipart parts."""
    truncate_after_parts: int | None = None
    """After this many whole parts, send half of the next one and close."""
    huge_content_length: bool = False
    """The first part of each multipart answer claims a 2 GiB Content-Length."""
    no_free_uid: bool = False
    """``dlogin.cgi`` answers 503, as when all 16 UIDs are held by other clients."""
    push_start_204: bool = False
    """``push.cgi CMD=START`` answers 204 with no body (sessions exhausted)."""
    download_split_files: int = 0
    """Split every download into this many files (0: by ``download_file_seconds``)."""
    download_file_name: str | None = None
    """Name the device sends for download files instead of its own (hostile names)."""
    download_answer: bytes | None = None
    """Answer ``httpdl.cgi`` with exactly these body bytes (HTTP 200, the download content
    type), to try a device's own wire habits or a broken answer on a client."""
    truncate_text: dict[str, int] = field(default_factory=dict)
    """Cut the whole (non-streamed) answers of these paths to this many bytes, complete as
    HTTP, as a device that closes mid-write without a Content-Length would."""

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``."""
        self.error_next = count
        self.error_status = status

    def fail_path(self, path: str, status: int = 500) -> None:
        """Answer every request to ``path`` with ``status`` until reset."""
        self.error_paths[cgi_name(path)] = status

    def garbage(self, count: int = 1, path: str | None = None) -> None:
        """Answer the next ``count`` requests, or every one to ``path``, with garbage."""
        if path is None:
            self.garbage_next = count
        else:
            self.garbage_paths.add(cgi_name(path))

    def truncate(self, path: str, size: int) -> None:
        """Cut every whole answer to ``path`` to its first ``size`` bytes until reset."""
        self.truncate_text[cgi_name(path)] = size

    def slow(self, seconds: float, path: str | None = None) -> None:
        """Delay answers by ``seconds`` (to one path, or all)."""
        self.delay = seconds
        self.delay_paths = set() if path is None else {cgi_name(path)}

    def reset(self) -> None:
        """Turn every knob off."""
        for name, value in vars(Faults()).items():
            setattr(self, name, value)

    def delay_for(self, path: str) -> float:
        """Seconds to delay an answer to ``path``."""
        if not self.delay_paths or cgi_name(path) in self.delay_paths:
            return self.delay
        return 0.0

    def take_error(self, path: str) -> int | None:
        """The error status to answer ``path`` with, consuming one ``error_next``."""
        status = self.error_paths.get(cgi_name(path))
        if status is not None:
            return status
        if self.error_next > 0:
            self.error_next -= 1
            return self.error_status
        return None

    def take_garbage(self, path: str) -> bool:
        """Whether to answer ``path`` with garbage, consuming one ``garbage_next``."""
        if cgi_name(path) in self.garbage_paths:
            return True
        if self.garbage_next > 0:
            self.garbage_next -= 1
            return True
        return False
